package sim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"passerelle/connectors/prisme/sim"
)

func TestFailures(t *testing.T) {
	t.Run("the next N calls answer 503 with Retry-After, then the endpoint recovers", func(t *testing.T) {
		e := newEnv(t)
		c := e.writer(t)
		require.NoError(t, e.srv.Faults().FailNext(sim.EndpointFichesPenales, 2, http.StatusServiceUnavailable, 1500*time.Millisecond))
		for range 2 {
			r := e.post(t, c, sim.FichePenale, "cle", fiche("1", "NCY01", 1, dupont()))
			require.Equal(t, http.StatusServiceUnavailable, r.status)
			assert.Equal(t, "2", r.header.Get("Retry-After"), "whole seconds, rounded up")
			r.problem(t)
		}
		assert.Equal(t, http.StatusCreated, e.post(t, c, sim.FichePenale, "cle", fiche("1", "NCY01", 1, dupont())).status,
			"a 503 is not remembered under the key")
		assert.Equal(t, http.StatusCreated, e.post(t, c, sim.Mesure, "autre", mesure("M1", 1, dupont())).status,
			"other endpoints were healthy")
	})

	t.Run("429 carries Retry-After too", func(t *testing.T) {
		e := newEnv(t)
		require.NoError(t, e.srv.Faults().FailNext(sim.EndpointMesures, 1, http.StatusTooManyRequests, 3*time.Second))
		r := e.post(t, e.writer(t), sim.Mesure, "cle", mesure("M1", 1, dupont()))
		require.Equal(t, http.StatusTooManyRequests, r.status)
		assert.Equal(t, "3", r.header.Get("Retry-After"))
		assert.Equal(t, "urn:prisme:probleme:trop-de-requetes", r.problem(t).Type)
	})

	t.Run("the token endpoint can fail too", func(t *testing.T) {
		e := newEnv(t)
		require.NoError(t, e.srv.Faults().FailNext(sim.EndpointToken, 1, http.StatusServiceUnavailable, 0))
		cfg := clientcredentials.Config{ClientID: writerID, ClientSecret: writerSecret, TokenURL: e.ts.URL + "/oauth/token",
			AuthStyle: oauth2.AuthStyleInParams} // auto-detection would try twice
		ctx := context.WithValue(t.Context(), oauth2.HTTPClient, e.ts.Client())
		_, err := cfg.Token(ctx)
		var re *oauth2.RetrieveError
		require.ErrorAs(t, err, &re)
		assert.Equal(t, http.StatusServiceUnavailable, re.Response.StatusCode)
		_, err = cfg.Token(ctx)
		require.NoError(t, err)
	})

	t.Run("a fraction of calls fails, reproducibly", func(t *testing.T) {
		e := newEnv(t)
		c := e.writer(t)
		require.NoError(t, e.srv.Faults().FailFraction(sim.EndpointMesures, 0.3, 0, 0))
		failed := 0
		for i := range 100 {
			switch r := e.post(t, c, sim.Mesure, fmt.Sprint(i), mesure(fmt.Sprint("M", i), 1, dupont())); r.status {
			case http.StatusServiceUnavailable:
				failed++
			default:
				require.Equal(t, http.StatusCreated, r.status)
			}
		}
		assert.InDelta(t, 30, failed, 15)
		require.NoError(t, e.srv.Faults().FailFraction(sim.EndpointMesures, 1, 0, 0))
		assert.Equal(t, http.StatusServiceUnavailable, e.post(t, c, sim.Mesure, "x", mesure("MX", 1, dupont())).status)
		e.srv.Faults().Clear()
		assert.Equal(t, http.StatusCreated, e.post(t, c, sim.Mesure, "x", mesure("MX", 1, dupont())).status)
	})

	t.Run("the events feed fails on demand", func(t *testing.T) {
		e := newEnv(t)
		require.NoError(t, e.srv.Faults().FailNext(sim.EndpointEvenements, 1, http.StatusServiceUnavailable, 0))
		reader := e.oauthClient(t, readerID, readerSecret)
		_, r := e.page(t, reader, "", 10)
		require.Equal(t, http.StatusServiceUnavailable, r.status)
		assert.Equal(t, "0", r.header.Get("Retry-After"))
		_, r = e.page(t, reader, "", 10)
		assert.Equal(t, http.StatusOK, r.status)
	})
}

func TestLatency(t *testing.T) {
	e := newEnv(t)
	c := e.writer(t)
	require.Equal(t, http.StatusCreated, e.post(t, c, sim.Mesure, "avant", mesure("M0", 1, dupont())).status)
	require.NoError(t, e.srv.Faults().SetLatency(sim.EndpointMesures, 300*time.Millisecond))

	body, err := json.Marshal(mesure("M1", 1, dupont()))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.ts.URL+"/api/v1/mesures", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "lent")
	resp, err := c.Do(req)
	if err == nil {
		_ = resp.Body.Close()
	}
	require.Error(t, err, "the client gives up before PRISME answers")

	require.Eventually(t, func() bool { _, ok := e.srv.Current(sim.Mesure)["M1"]; return ok },
		5*time.Second, 10*time.Millisecond, "PRISME stores the item all the same")
	require.NoError(t, e.srv.Faults().SetLatency(sim.EndpointMesures, 0))
	assert.Equal(t, http.StatusOK, e.post(t, c, sim.Mesure, "lent", mesure("M1", 1, dupont())).status,
		"the retry with the same key learns the original result")
}

func TestDropReply(t *testing.T) {
	t.Run("on a fresh connection the client sees an error; its retry with the same key gets 200", func(t *testing.T) {
		e := newEnv(t)
		tok := e.token(t, writerID, writerSecret)
		require.NoError(t, e.srv.Faults().DropReplyNext(sim.EndpointFichesPenales, 1))
		body, err := json.Marshal(fiche("1", "NCY01", 1, dupont()))
		require.NoError(t, err)
		send := func() (*http.Response, error) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.ts.URL+"/api/v1/fiches-penales", bytes.NewReader(body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", "perdu")
			req.Header.Set("Authorization", "Bearer "+tok)
			fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			return fresh.Do(req)
		}
		_, err = send()
		require.Error(t, err, "the connection closed without an answer")
		stored := e.srv.Current(sim.FichePenale)[sim.FicheKey("1", "NCY01")]
		require.NotEmpty(t, stored.ID, "the item was stored before the reply was dropped")

		resp, err := send()
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var a sim.Accuse
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&a))
		assert.Equal(t, stored.ID, a.ID)

		reqs := e.srv.Requests()
		last := reqs[len(reqs)-2:]
		assert.True(t, last[0].ReplyDropped)
		assert.Equal(t, http.StatusCreated, last[0].Status)
		assert.Equal(t, "drop-reply", last[0].Fault)
		assert.Equal(t, http.StatusOK, last[1].Status)
		assert.Equal(t, int64(1), e.srv.Stats().DroppedReplies)
		assert.Len(t, e.srv.History(sim.FichePenale), 1)
	})

	t.Run("on a reused connection Go's Transport replays the POST itself and gets 200", func(t *testing.T) {
		e := newEnv(t)
		c := e.writer(t)
		require.Equal(t, http.StatusCreated, e.post(t, c, sim.Mesure, "chauffe", mesure("M0", 1, dupont())).status)
		require.NoError(t, e.srv.Faults().DropReplyNext(sim.EndpointMesures, 1))
		r := e.post(t, c, sim.Mesure, "rejoue", mesure("M1", 1, dupont()))
		require.Equal(t, http.StatusOK, r.status, "the client never saw the dropped reply")

		reqs := e.srv.Requests()
		last := reqs[len(reqs)-2:]
		assert.Equal(t, "rejoue", last[0].IdempotencyKey)
		assert.True(t, last[0].ReplyDropped)
		assert.Equal(t, "rejoue", last[1].IdempotencyKey)
		assert.Equal(t, http.StatusOK, last[1].Status)
		assert.Equal(t, last[0].ItemID, last[1].ItemID)
		assert.Len(t, e.srv.History(sim.Mesure), 2, "one item per fact")
	})
}

func TestRepeatPage(t *testing.T) {
	e := newEnv(t)
	reader := e.oauthClient(t, readerID, readerSecret)
	_, err := e.srv.GenerateEvents(5)
	require.NoError(t, err)
	first, _ := e.page(t, reader, "", 2)
	require.Len(t, first, 2)
	require.NoError(t, e.srv.Faults().RepeatPageNext(1))

	again, _ := e.page(t, reader, first[1].Curseur, 2)
	require.Len(t, again, 2)
	assert.Equal(t, first[0].ID, again[0].ID, "the page already served comes again")
	assert.Equal(t, first[1].ID, again[1].ID)
	reqs := e.srv.Requests()
	assert.Equal(t, "repeat-page", reqs[len(reqs)-1].Fault)

	next, _ := e.page(t, reader, first[1].Curseur, 2)
	require.Len(t, next, 2)
	all := e.srv.Events()
	assert.Equal(t, all[2].ID, next[0].ID, "then the feed goes on")
}

func TestFaultPlanValidation(t *testing.T) {
	p := sim.New(sim.Options{}).Faults()
	for _, tc := range []struct {
		name string
		ep   sim.Endpoint
		f    sim.Fault
	}{
		{"an unknown endpoint", "inconnu", sim.Fault{FailNext: 1}},
		{"a negative count", sim.EndpointMesures, sim.Fault{FailNext: -1}},
		{"a fraction above 1", sim.EndpointMesures, sim.Fault{FailFraction: 1.5}},
		{"a NaN fraction", sim.EndpointMesures, sim.Fault{DropReplyFraction: math.NaN()}},
		{"a status the contract does not name", sim.EndpointMesures, sim.Fault{FailNext: 1, Status: 500}},
		{"a negative latency", sim.EndpointMesures, sim.Fault{Latency: -time.Second}},
		{"dropping the reply of the events feed", sim.EndpointEvenements, sim.Fault{DropReplyNext: 1}},
		{"repeating a page of a write endpoint", sim.EndpointMesures, sim.Fault{RepeatPageNext: 1}},
	} {
		t.Run(tc.name+" is refused", func(t *testing.T) {
			require.ErrorIs(t, p.Set(tc.ep, tc.f), sim.ErrInvalidFault)
			assert.Equal(t, sim.Fault{}, p.Get(tc.ep), "a refused plan changes nothing")
		})
	}
	require.ErrorIs(t, p.FailNext(sim.EndpointToken, 1, http.StatusInternalServerError, 0), sim.ErrInvalidFault)
	require.NoError(t, p.FailNext(sim.EndpointToken, 1, http.StatusTooManyRequests, 0))
	assert.Equal(t, 1, p.Get(sim.EndpointToken).FailNext)
}

// A client that gives up on a slow POST frees the simulator at once: the handler stops
// waiting, so that closing the server does not wait out the latency.
func TestAClientGivingUpOnASlowPostFreesTheSimulator(t *testing.T) {
	srv := sim.New(sim.Options{})
	ts := httptest.NewServer(srv.Handler()) // closed below: that is what is tested
	for _, ep := range []sim.Endpoint{sim.EndpointToken, sim.EndpointMesures} {
		require.NoError(t, srv.Faults().SetLatency(ep, time.Hour))
	}
	for _, path := range []string{"/oauth/token", "/api/v1/mesures"} {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+path, strings.NewReader("grant_type=client_credentials"))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		_, err = ts.Client().Do(req)
		cancel()
		require.Error(t, err, "the client gave up")
	}
	closed := make(chan struct{})
	go func() { ts.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(time.Minute): // a liveness guard: the latency is an hour
		t.Fatal("the simulator still waits on requests their clients abandoned")
	}
}
