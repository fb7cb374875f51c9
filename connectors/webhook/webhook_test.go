package webhook

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/canonical"
	"passerelle/connectors"
)

func delivery() connectors.Delivery {
	return connectors.Delivery{
		Message: &canonical.Message{SpecVersion: "1.0", ID: "0b7a6a0e-3b7f-4c6e-9a55-2f7c2a3b9c11", Source: "/connectors/appi",
			Type: "fr.justice.measure.v1", Subject: "p-1", FactSystem: "APPI", FactRef: "mesure/1", FactVersion: 3,
			Data: json.RawMessage(`{"person":{"lastName":"CANARY"}}`)},
		IdempotencyKey: "APPI:mesure/1:3", Attempt: 1,
	}
}

func TestDeliver(t *testing.T) {
	var mu sync.Mutex
	var got []*http.Request
	var bodies [][]byte
	answer := func(w http.ResponseWriter) {}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, bodies = append(got, r), append(bodies, b)
		a := answer
		mu.Unlock()
		a(w)
	}))
	defer srv.Close()
	s := New(srv.URL, srv.Client())
	set := func(f func(w http.ResponseWriter)) { mu.Lock(); answer = f; mu.Unlock() }

	t.Run("a 2xx is delivered, with the receipt id from the answer", func(t *testing.T) {
		set(func(w http.ResponseWriter) { w.WriteHeader(201); _, _ = w.Write([]byte(`{"id":"R-42"}`)) })
		rc, err := s.Deliver(t.Context(), delivery())
		require.NoError(t, err)
		assert.Equal(t, "R-42", rc.ID)
		assert.JSONEq(t, `{"id":"R-42"}`, string(rc.Detail))
		last := got[len(got)-1]
		assert.Equal(t, "APPI:mesure/1:3", last.Header.Get("Idempotency-Key"))
		assert.Equal(t, "application/cloudevents+json", last.Header.Get("Content-Type"))
		var m canonical.Message
		require.NoError(t, json.Unmarshal(bodies[len(bodies)-1], &m))
		assert.Equal(t, "mesure/1", m.FactRef)
	})
	t.Run("503 with Retry-After is transient and says how long to wait", func(t *testing.T) {
		set(func(w http.ResponseWriter) { w.Header().Set("Retry-After", "7"); w.WriteHeader(503) })
		_, err := s.Deliver(t.Context(), delivery())
		require.Error(t, err)
		assert.False(t, connectors.IsPermanent(err))
		ra, ok := connectors.RetryAfter(err)
		assert.True(t, ok)
		assert.Equal(t, 7*time.Second, ra)
	})
	t.Run("429 is transient", func(t *testing.T) {
		set(func(w http.ResponseWriter) { w.WriteHeader(429) })
		_, err := s.Deliver(t.Context(), delivery())
		require.ErrorIs(t, err, connectors.ErrTransient)
	})
	t.Run("422 is permanent with the problem's title, never the body's values", func(t *testing.T) {
		set(func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(422)
			_, _ = w.Write([]byte(`{"title":"Requête invalide","detail":"CANARY is not allowed"}`))
		})
		_, err := s.Deliver(t.Context(), delivery())
		require.True(t, connectors.IsPermanent(err))
		assert.Contains(t, err.Error(), "HTTP 422: Requête invalide")
		assert.NotContains(t, err.Error(), "CANARY")
	})
	t.Run("a connection refused is transient", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		_, err := New(dead.URL, dead.Client()).Deliver(t.Context(), delivery())
		require.ErrorIs(t, err, connectors.ErrTransient)
	})
}

func TestConfig(t *testing.T) {
	env := connectors.Env{Name: "archive", Getenv: func(string) string { return "" }}
	_, ps := Spec.New(env, map[string]any{"url": "ftp://x", "recipient": "friends", "extra": 1}, "connectors.archive")
	msg := ps.Error()
	assert.Contains(t, msg, "connectors.archive.url: must be an http(s) URL")
	assert.Contains(t, msg, "connectors.archive.recipient: must be one of")
	assert.Contains(t, msg, "extra")
	inst, ps := Spec.New(env, map[string]any{"url": "http://127.0.0.1:1/in", "recipient": "other"}, "connectors.archive")
	require.Empty(t, ps)
	assert.NotNil(t, inst.Sink)
	assert.Equal(t, "other", inst.Recipient)
	assert.False(t, inst.Sink.(connectors.NewestWins).NewestWins(), "every version is sent unless the endpoint says it keeps the newest")
	inst, ps = Spec.New(env, map[string]any{"url": "http://127.0.0.1:1/in", "recipient": "other", "newestWins": true}, "connectors.archive")
	require.Empty(t, ps)
	assert.True(t, inst.Sink.(connectors.NewestWins).NewestWins())
}

func TestRetryAfter(t *testing.T) {
	assert.Equal(t, 3*time.Second, retryAfter("3"))
	assert.Equal(t, time.Duration(0), retryAfter("soon"))
	assert.InDelta(t, float64(10*time.Second), float64(retryAfter(time.Now().Add(10*time.Second).UTC().Format(http.TimeFormat))), float64(2*time.Second))
}
