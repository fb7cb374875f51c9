package prisme_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"passerelle/canonical"
	"passerelle/connectors"
	"passerelle/connectors/connectortest"
	"passerelle/connectors/prisme"
	"passerelle/connectors/prisme/sim"
)

// The hub's credentials for the events feed (both scopes granted, as in the demo).
const (
	feedID     = "passerelle-flux"
	feedSecret = "s3cret-du-flux"
)

// feedEnv is a PRISME simulator whose feed the source reads.
type feedEnv struct {
	sim   *sim.Server
	ts    *httptest.Server
	clock *testClock
}

// startFeed starts a simulator with a fixed clock, a client granted both scopes, and
// a write-only client.
func startFeed(t testing.TB, seed uint64) *feedEnv {
	t.Helper()
	c := &testClock{t: time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)}
	srv := sim.New(sim.Options{
		Clients: []sim.Client{
			{ID: feedID, Secret: feedSecret, Scopes: []string{sim.ScopeEcriture, sim.ScopeLecture}},
			{ID: hubID, Secret: hubSecret, Scopes: []string{sim.ScopeEcriture}},
		},
		TokenTTL: time.Hour,
		Now:      c.Now,
		Seed:     seed,
	})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &feedEnv{sim: srv, ts: ts, clock: c}
}

// source builds a source on the simulator with pageSize events per read, logging at
// debug level into an observer.
func (e *feedEnv) source(t testing.TB, pageSize int) (*prisme.Source, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	s, err := prisme.NewSource(prisme.Options{URL: e.ts.URL, ClientID: feedID, ClientSecret: feedSecret,
		HTTPClient: e.ts.Client(), Logger: zap.New(core)}, prisme.SourceOptions{PageSize: pageSize})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s, logs
}

// generate adds n generated events.
func (e *feedEnv) generate(t testing.TB, n int) []sim.Evenement {
	t.Helper()
	evs, err := e.sim.GenerateEvents(n)
	require.NoError(t, err)
	return evs
}

// raw adds an event as raw JSON.
func (e *feedEnv) raw(t testing.TB, js string) string {
	t.Helper()
	c, err := e.sim.AddRawEvent([]byte(js))
	require.NoError(t, err)
	return c
}

// feedRequests returns the simulator's log of the events-feed and token requests.
func (e *feedEnv) feedRequests() []sim.Request {
	var out []sim.Request
	for _, r := range e.sim.Requests() {
		if r.Endpoint == sim.EndpointEvenements || r.Endpoint == sim.EndpointToken {
			out = append(out, r)
		}
	}
	return out
}

// readAll reads from position to the end of the feed.
func readAll(t testing.TB, src connectors.Source, position string) []connectortest.Read {
	t.Helper()
	reads, err := connectortest.ReadToEnd(context.Background(), src, position, 1000)
	require.NoError(t, err)
	return reads
}

// keys lists the identities of facts (connectortest.FactKeys).
func keys(reads []connectortest.Read) []string {
	return connectortest.FactKeys(connectortest.Facts(reads))
}

func TestTheSourceResumesFromTheSavedCursor(t *testing.T) {
	e := startFeed(t, 3)
	e.generate(t, 11)
	src, _ := e.source(t, 3)
	reads := readAll(t, src, "")
	require.Len(t, reads, 4, "11 events in pages of 3")
	require.Len(t, connectortest.Facts(reads), 11)
	for i, r := range reads {
		t.Run("a new source resumed after read "+string(rune('1'+i))+" reads exactly the rest", func(t *testing.T) {
			fresh, _ := e.source(t, 5)
			again := readAll(t, fresh, r.Batch.Next)
			assert.Equal(t, keys(reads[i+1:]), keys(again))
		})
	}
	t.Run("events emitted later are read from the last cursor", func(t *testing.T) {
		last := reads[len(reads)-1].Batch.Next
		b, err := src.Read(t.Context(), last)
		require.NoError(t, err)
		assert.Empty(t, b.Facts)
		assert.Equal(t, last, b.Next, "an empty page leaves the cursor")
		added := e.generate(t, 2)
		b, err = src.Read(t.Context(), last)
		require.NoError(t, err)
		require.Len(t, b.Facts, 2)
		assert.Equal(t, "evenement/"+added[0].ID, b.Facts[0].Messages[0].FactRef)
		assert.Equal(t, added[1].Curseur, b.Next)
	})
	t.Run("a page PRISME serves again is not read twice", func(t *testing.T) {
		first, err := src.Read(t.Context(), "")
		require.NoError(t, err)
		require.NoError(t, e.sim.Faults().RepeatPageNext(1))
		b, err := src.Read(t.Context(), first.Next)
		require.NoError(t, err)
		assert.Empty(t, b.Facts, "the repeated page holds only events up to the cursor")
		assert.Equal(t, first.Next, b.Next)
		b, err = src.Read(t.Context(), first.Next)
		require.NoError(t, err)
		assert.Equal(t, keys(reads[1:2]), connectortest.FactKeys(b.Facts), "the next read goes on")
	})
	t.Run("a position PRISME never gave is a permanent refusal", func(t *testing.T) {
		_, err := src.Read(t.Context(), "nimporte-quoi")
		require.ErrorIs(t, err, prisme.ErrRefused)
		assert.True(t, connectors.IsPermanent(err))
		_, err = src.Read(t.Context(), "bad\ncursor")
		require.ErrorIs(t, err, prisme.ErrInvalidPosition)
	})
}

func TestTheSourceRenewsAnExpiredTokenMidStream(t *testing.T) {
	e := startFeed(t, 4)
	e.generate(t, 6)
	src, _ := e.source(t, 3)
	b1, err := src.Read(t.Context(), "")
	require.NoError(t, err)
	require.Len(t, b1.Facts, 3)

	e.clock.Advance(2 * time.Hour) // PRISME's clock: the token expired there, not in the hub
	before := len(e.feedRequests())
	b2, err := src.Read(t.Context(), b1.Next)
	require.NoError(t, err, "a 401 invalid_token costs a new token, not a failure")
	require.Len(t, b2.Facts, 3)

	var got []string
	for _, r := range e.feedRequests()[before:] {
		got = append(got, string(r.Endpoint)+" "+http.StatusText(r.Status))
	}
	assert.Equal(t, []string{"evenements Unauthorized", "token OK", "evenements OK"}, got)

	t.Run("revoked tokens are renewed the same way", func(t *testing.T) {
		e.generate(t, 1)
		e.sim.RevokeTokens()
		b3, err := src.Read(t.Context(), b2.Next)
		require.NoError(t, err)
		assert.Len(t, b3.Facts, 1)
	})
	t.Run("the feed's token has the read scope only", func(t *testing.T) {
		for _, r := range e.sim.Requests() {
			assert.NotEqual(t, sim.EndpointFichesPenales, r.Endpoint)
		}
		w, err := prisme.NewSource(prisme.Options{URL: e.ts.URL, ClientID: hubID, ClientSecret: hubSecret,
			HTTPClient: e.ts.Client()}, prisme.SourceOptions{})
		require.NoError(t, err)
		_, err = w.Read(t.Context(), "")
		require.ErrorIs(t, err, prisme.ErrUnauthorized, "a client without flux.lecture cannot read the feed")
		assert.False(t, connectors.IsPermanent(err), "an outage of the flow, not of a fact")
	})
}

func TestTransientFailuresLeaveTheCursorAndHonourRetryAfter(t *testing.T) {
	e := startFeed(t, 5)
	e.generate(t, 4)
	src, _ := e.source(t, 10)
	want := keys(readAll(t, src, ""))

	for _, tc := range []struct {
		name   string
		status int
		wait   time.Duration
	}{
		{"a burst of 503 with Retry-After", http.StatusServiceUnavailable, 7 * time.Second},
		{"a burst of 429 with Retry-After", http.StatusTooManyRequests, 2 * time.Second},
	} {
		t.Run(tc.name+" is transient, gives no fact, and the next read gets everything", func(t *testing.T) {
			require.NoError(t, e.sim.Faults().FailNext(sim.EndpointEvenements, 3, tc.status, tc.wait))
			for range 3 {
				b, err := src.Read(t.Context(), "")
				require.ErrorIs(t, err, prisme.ErrUnavailable)
				assert.False(t, connectors.IsPermanent(err))
				assert.Empty(t, b.Facts)
				assert.Empty(t, b.Next)
				ra, ok := connectors.RetryAfter(err)
				require.True(t, ok)
				assert.Equal(t, tc.wait, ra)
			}
			assert.Equal(t, want, keys(readAll(t, src, "")))
		})
	}
	t.Run("PRISME unreachable is transient", func(t *testing.T) {
		down := httptest.NewServer(http.NotFoundHandler())
		down.Close()
		s, err := prisme.NewSource(prisme.Options{URL: down.URL, ClientID: feedID, ClientSecret: feedSecret},
			prisme.SourceOptions{})
		require.NoError(t, err)
		_, err = s.Read(t.Context(), "")
		require.ErrorIs(t, err, prisme.ErrUnavailable)
		assert.False(t, connectors.IsPermanent(err))
	})
	t.Run("a timeout is transient", func(t *testing.T) {
		require.NoError(t, e.sim.Faults().SetLatency(sim.EndpointEvenements, time.Hour))
		t.Cleanup(func() { _ = e.sim.Faults().SetLatency(sim.EndpointEvenements, 0) })
		s, err := prisme.NewSource(prisme.Options{URL: e.ts.URL, ClientID: feedID, ClientSecret: feedSecret,
			HTTPClient: e.ts.Client(), Timeout: 50 * time.Millisecond}, prisme.SourceOptions{})
		require.NoError(t, err)
		_, err = s.Read(t.Context(), "")
		require.ErrorIs(t, err, prisme.ErrUnavailable)
		assert.False(t, connectors.IsPermanent(err))
	})
	t.Run("an answer that is not a page is transient", func(t *testing.T) {
		odd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/oauth/token" {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"access_token":"t","token_type":"Bearer","expires_in":3600}`))
				return
			}
			_, _ = w.Write([]byte(`{"events":[]}`))
		}))
		t.Cleanup(odd.Close)
		s, err := prisme.NewSource(prisme.Options{URL: odd.URL, ClientID: feedID, ClientSecret: feedSecret,
			HTTPClient: odd.Client()}, prisme.SourceOptions{})
		require.NoError(t, err)
		_, err = s.Read(t.Context(), "")
		require.ErrorIs(t, err, prisme.ErrUnexpectedAnswer)
		assert.False(t, connectors.IsPermanent(err))
	})
}

func TestAPageAboveTheLimitIsAskedAgainWithFewerEvents(t *testing.T) {
	e := startFeed(t, 6)
	e.generate(t, 8)
	core, _ := observer.New(zapcore.DebugLevel)
	var one int64
	for _, ev := range e.sim.Events() {
		b, err := json.Marshal(ev)
		require.NoError(t, err)
		one = max(one, int64(len(b)))
	}
	s, err := prisme.NewSource(prisme.Options{URL: e.ts.URL, ClientID: feedID, ClientSecret: feedSecret,
		HTTPClient: e.ts.Client(), Logger: zap.New(core)}, prisme.SourceOptions{PageSize: 8, MaxPageBytes: 3 * one})
	require.NoError(t, err)
	reads := readAll(t, s, "")
	assert.Len(t, connectortest.Facts(reads), 8, "every event read, in smaller pages")
	assert.Greater(t, len(reads), 2)

	tiny, err := prisme.NewSource(prisme.Options{URL: e.ts.URL, ClientID: feedID, ClientSecret: feedSecret,
		HTTPClient: e.ts.Client()}, prisme.SourceOptions{PageSize: 8, MaxPageBytes: 10})
	require.NoError(t, err)
	_, err = tiny.Read(t.Context(), "")
	require.ErrorIs(t, err, prisme.ErrPageTooLarge, "one event alone above the limit stops the feed with a clear error")
	assert.False(t, connectors.IsPermanent(err))
}

func TestUnknownAndMalformedEvents(t *testing.T) {
	e := startFeed(t, 7)
	good := e.generate(t, 1)[0]
	e.raw(t, `{"id":"EVT-NOUVEAU-1","type":"AUDIENCE_FIXEE","emisLe":"2025-03-10T09:00:00Z","dossierId":"D1","audience":{"date":"2025-04-01"}}`)
	e.raw(t, `{"id":"EVT-CASSE-1","type":"DESSAISISSEMENT","emisLe":"2025-03-10T09:00:00Z","dossierId":"D1","dessaisissement":{"date":12}}`)
	e.raw(t, `{"id":"EVT-CASSE-2","type":"RAPPORT_VALIDE","emisLe":"hier","dossierId":"D1","rapport":{"typeRapport":"RAPPORT_ANNUEL"}}`)
	e.raw(t, `{"id":42,"type":"RAPPORT_VALIDE"}`)
	e.raw(t, `{"id":"EVT-2","type":"RAPPORT_VALIDE","idem":1}`)
	last := e.generate(t, 1)[0]
	src, logs := e.source(t, 100)
	b, err := src.Read(t.Context(), "")
	require.NoError(t, err)
	assert.Equal(t, last.Curseur, b.Next, "the cursor moves past everything")

	got := connectortest.FactKeys(b.Facts)
	assert.Equal(t, []string{
		"fr.justice." + typeName(good.Type) + ".v1 PRISME evenement/" + good.ID + " 0",
		"failed decode PRISME evenement/EVT-CASSE-1 0",
		"failed map PRISME evenement/EVT-CASSE-2 0",
		`failed decode raw:{"curseur":"` + e.sim.Events()[4].Curseur + `","id":42,"type":"RAPPORT_VALIDE"}`,
		"failed map PRISME evenement/EVT-2 0",
		"fr.justice." + typeName(last.Type) + ".v1 PRISME evenement/" + last.ID + " 0",
	}, got, "an unknown type is skipped; a malformed event is a failed fact")

	t.Run("an unknown type is skipped with a debug log of technical ids", func(t *testing.T) {
		skipped := logs.FilterField(zap.String("event_id", "EVT-NOUVEAU-1")).All()
		require.Len(t, skipped, 1)
		assert.Equal(t, zapcore.DebugLevel, skipped[0].Level)
		assert.Equal(t, "AUDIENCE_FIXEE", skipped[0].ContextMap()["event_type"])
		_, err := src.Decode(t.Context(), []byte(`{"id":"EVT-NOUVEAU-1","type":"AUDIENCE_FIXEE"}`), prisme.ContentTypeEvent)
		require.ErrorIs(t, err, prisme.ErrUnknownEventType)
	})
	t.Run("a failed event names its fields, not their values, and fails again on replay", func(t *testing.T) {
		assert.ErrorIs(t, b.Facts[1].Err, prisme.ErrMalformedEvent)
		assert.Contains(t, b.Facts[1].Err.Error(), `"dessaisissement.date"`)
		assert.ErrorIs(t, b.Facts[2].Err, prisme.ErrInvalidEvent)
		msg := b.Facts[2].Err.Error()
		for _, path := range []string{"emisLe: not an RFC 3339", "rapport.personne: required", "rapport.validePar: required",
			"rapport.valideLe: required", "rapport.document: required"} {
			assert.Contains(t, msg, path)
		}
		assert.NotContains(t, msg, "hier")
		for _, f := range b.Facts[1:5] {
			require.NotEmpty(t, f.Raw)
			_, err := src.Decode(t.Context(), f.Raw, f.ContentType)
			require.Error(t, err)
			assert.True(t, connectors.IsPermanent(err))
		}
		for _, f := range []connectors.Fact{b.Facts[0], b.Facts[5]} {
			msgs, err := src.Decode(t.Context(), f.Raw, f.ContentType)
			require.NoError(t, err)
			assert.Equal(t, f.Messages[0].Data, msgs[0].Data, "replay maps the quarantined bytes to the same message")
		}
	})
}

// typeName is the canonical short name of a PRISME event type.
func typeName(t string) string {
	if t == sim.TypeDessaisissement {
		return canonical.NameCaseTransfer
	}
	return canonical.NameReport
}

func TestTheSpecBuildsTheSourceOnlyWhenEventsAreEnabled(t *testing.T) {
	e := startFeed(t, 8)
	secret := t.TempDir() + "/secret"
	require.NoError(t, writeFile(secret, feedSecret))
	base := func(events map[string]any) map[string]any {
		s := map[string]any{"url": e.ts.URL, "clientId": feedID, "clientSecret": map[string]any{"file": secret}}
		if events != nil {
			s["events"] = events
		}
		return s
	}
	env := connectors.Env{Name: "prisme", Logger: zap.NewNop(), Getenv: func(string) string { return "" }}
	t.Run("without events the instance is the sink alone", func(t *testing.T) {
		inst, ps := prisme.Spec.New(env, base(nil), "connectors.prisme")
		require.Empty(t, ps)
		assert.NotNil(t, inst.Sink)
		assert.Nil(t, inst.Source)
		assert.Nil(t, inst.Decoder)
		require.NoError(t, inst.Close())
	})
	t.Run("events.enabled adds the source and its decoder beside the sink", func(t *testing.T) {
		inst, ps := prisme.Spec.New(env, base(map[string]any{"enabled": true, "pageSize": 2}), "connectors.prisme")
		require.Empty(t, ps)
		require.NotNil(t, inst.Source)
		assert.NotNil(t, inst.Sink)
		assert.NotNil(t, inst.Decoder)
		e.generate(t, 3)
		b, err := inst.Source.Read(t.Context(), "")
		require.NoError(t, err)
		assert.Len(t, b.Facts, 2, "pageSize is the limite")
		require.NoError(t, inst.Close())
	})
	for _, tc := range []struct {
		name   string
		events map[string]any
		path   string
	}{
		{"a page size of 0 is refused", map[string]any{"enabled": true, "pageSize": 0}, "connectors.prisme.events.pageSize"},
		{"a page size above PRISME's 500 is refused", map[string]any{"enabled": true, "pageSize": 501}, "connectors.prisme.events.pageSize"},
		{"a negative page size is refused", map[string]any{"enabled": true, "pageSize": -1}, "connectors.prisme.events.pageSize"},
		{"an unknown events setting is refused", map[string]any{"enabled": true, "limite": 10}, "connectors.prisme"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inst, ps := prisme.Spec.New(env, base(tc.events), "connectors.prisme")
			require.Nil(t, inst)
			require.NotEmpty(t, ps)
			var paths []string
			for _, p := range ps {
				paths = append(paths, p.Path)
			}
			assert.Contains(t, paths, tc.path)
		})
	}
	t.Run("every problem is reported at once", func(t *testing.T) {
		_, ps := prisme.Spec.New(env, map[string]any{"events": map[string]any{"enabled": true, "pageSize": 900}}, "connectors.prisme")
		var paths []string
		for _, p := range ps {
			paths = append(paths, p.Path)
		}
		assert.Subset(t, paths, []string{"connectors.prisme.url", "connectors.prisme.clientId",
			"connectors.prisme.clientSecret", "connectors.prisme.events.pageSize"})
	})
	assert.True(t, strings.Contains(prisme.Spec.Summary, "source"), "the summary says it is a source too")
}

// writeFile writes a secret file readable by its owner only.
func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }
