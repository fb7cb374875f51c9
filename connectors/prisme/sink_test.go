package prisme_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/canonical"
	"passerelle/connectors"
	"passerelle/connectors/prisme"
	"passerelle/connectors/prisme/sim"
	"passerelle/schemas"
)

// The hub's credentials at the simulated PRISME.
const (
	hubID     = "passerelle-test"
	hubSecret = "s3cret-du-hub"
)

// canary is a last name that must never appear in an error.
const canary = "CANARIDELAFONTAINE"

// testClock is the simulator's clock, moved forward by hand so that tokens expire
// without waiting.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *testClock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// prismeEnv is a PRISME simulator over real HTTP.
type prismeEnv struct {
	sim   *sim.Server
	ts    *httptest.Server
	clock *testClock
}

// startPrisme starts a simulator knowing the hub (flux.ecriture) and a reader
// (flux.lecture only).
func startPrisme(t testing.TB) *prismeEnv {
	t.Helper()
	c := &testClock{t: time.Now()}
	srv := sim.New(sim.Options{
		Clients: []sim.Client{
			{ID: hubID, Secret: hubSecret, Scopes: []string{sim.ScopeEcriture}},
			{ID: "lecteur", Secret: "lecteur-secret", Scopes: []string{sim.ScopeLecture}},
		},
		TokenTTL:    time.Hour,
		Now:         c.Now,
		MaxRequests: 1_000_000,
	})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &prismeEnv{sim: srv, ts: ts, clock: c}
}

// sink builds a sink to the simulator; edit adjusts its options.
func (e *prismeEnv) sink(t testing.TB, edit ...func(*prisme.Options)) *prisme.Sink {
	t.Helper()
	o := prisme.Options{URL: e.ts.URL, ClientID: hubID, ClientSecret: hubSecret, HTTPClient: e.ts.Client()}
	for _, f := range edit {
		f(&o)
	}
	s, err := prisme.NewSink(o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// requestsFor returns the simulator's log of the requests carrying key.
func (e *prismeEnv) requestsFor(key string) []sim.Request {
	var out []sim.Request
	for _, r := range e.sim.Requests() {
		if r.IdempotencyKey == key {
			out = append(out, r)
		}
	}
	return out
}

// statuses lists the statuses of requests (a dropped reply shows as "dropped").
func statuses(rs []sim.Request) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = fmt.Sprint(r.Status)
		if r.ReplyDropped {
			out[i] = "dropped"
		}
	}
	return out
}

// exampleMsg reads schemas/examples/<name>/valid/<file>.json, embedded in schemas.
func exampleMsg(t testing.TB, name, file string) *canonical.Message {
	t.Helper()
	raw, err := fs.ReadFile(schemas.Files(), "examples/"+name+"/valid/"+file+".json")
	require.NoError(t, err)
	m, err := canonical.DecodeMessage(raw)
	require.NoError(t, err)
	return m
}

// edited returns a copy of m whose data went through edit (as a JSON tree).
func edited(t testing.TB, m *canonical.Message, edit func(data map[string]any)) *canonical.Message {
	t.Helper()
	var data map[string]any
	require.NoError(t, json.Unmarshal(m.Data, &data))
	edit(data)
	raw, err := json.Marshal(data)
	require.NoError(t, err)
	c := *m
	c.Data = raw
	return &c
}

// person returns the person object of a data tree.
func person(data map[string]any) map[string]any { return data["person"].(map[string]any) }

// delivery is the first attempt of m, with the key the pipeline derives.
func delivery(m *canonical.Message) connectors.Delivery {
	return connectors.Delivery{Message: m, IdempotencyKey: m.IdempotencyKey(), Attempt: 1}
}

// fiche returns the i-th of a family of distinct penal records (distinct persons,
// écrous, keys).
func fiche(t testing.TB, i int) *canonical.Message {
	t.Helper()
	ecrou := fmt.Sprintf("25-%05d", i)
	m := edited(t, exampleMsg(t, canonical.NamePenalRecord, "condamne-sursis-partiel-reductions"), func(d map[string]any) {
		d["committalNumber"] = ecrou
		p := person(d)
		p["lastName"] = fmt.Sprintf("NOM%05d", i)
		ids := p["identifiers"].(map[string]any)
		ids["committalNumber"] = ecrou
	})
	m.ID = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
	m.FactRef = canonical.GenesisFicheRef(ecrou, "0750101")
	return m
}

func TestDeliverSendsEachKindOfMessageAndReturnsTheAccuse(t *testing.T) {
	e := startPrisme(t)
	s := e.sink(t)
	tests := []struct {
		name, file string
		kind       sim.Kind
	}{
		{canonical.NamePenalRecord, "condamne-sursis-partiel-reductions", sim.FichePenale},
		{canonical.NameJudgment, "sursis-probatoire-obligations", sim.Decision},
		{canonical.NameMeasure, "sursis-probatoire-en-cours", sim.Mesure},
		{canonical.NameCustodyEvent, "ecrou-mandat-depot", sim.EvenementDetention},
	}
	for _, tt := range tests {
		t.Run("a "+tt.name+" is stored by PRISME and its receipt names the dossier", func(t *testing.T) {
			m := exampleMsg(t, tt.name, tt.file)
			rc, err := s.Deliver(t.Context(), delivery(m))
			require.NoError(t, err)

			hist := e.sim.History(tt.kind)
			require.NotEmpty(t, hist)
			stored := hist[len(hist)-1]
			assert.Equal(t, stored.ID, rc.ID)
			assert.Equal(t, []connectors.Identifier{{System: "PRISME", Value: stored.DossierID}}, rc.Identifiers,
				"the pipeline links the dossierId to the person under the system PRISME (pipeline.IDPrisme)")
			acc, err := prisme.DecodeAccuse(rc.Detail)
			require.NoError(t, err)
			assert.Equal(t, prisme.Accuse{ID: stored.ID, DossierID: stored.DossierID, RecuLe: stored.RecuLe, Courant: true}, acc)

			reqs := e.requestsFor(m.IdempotencyKey())
			require.Len(t, reqs, 1)
			assert.Equal(t, 201, reqs[0].Status)
			assert.Equal(t, m.ID, reqs[0].CorrelationID, "X-Correlation-Id is the message id")
			assert.Equal(t, hubID, reqs[0].ClientID)
		})
	}
}

func TestAMovementPrismeHasNoTypeForIsASuccessWithNothingSent(t *testing.T) {
	e := startPrisme(t)
	s := e.sink(t)
	rc, err := s.Deliver(t.Context(), delivery(exampleMsg(t, canonical.NameCustodyEvent, "maj-fiche-penale")))
	require.NoError(t, err, "nothing to send is not a failure")
	assert.Empty(t, rc.ID)
	assert.Empty(t, rc.Identifiers)
	var detail map[string]string
	require.NoError(t, json.Unmarshal(rc.Detail, &detail))
	assert.Contains(t, detail["skipped"], "MAJ_FICHE_PENALE")
	assert.Zero(t, e.sim.Stats().Requests, "not even a token is requested")
}

func TestTheSameDeliveryTwiceGetsTheSameReceipt(t *testing.T) {
	e := startPrisme(t)
	s := e.sink(t)
	m := exampleMsg(t, canonical.NameMeasure, "ddse-a-prendre-en-charge")
	first, err := s.Deliver(t.Context(), delivery(m))
	require.NoError(t, err)
	again := delivery(m)
	again.Attempt = 2
	second, err := s.Deliver(t.Context(), again)
	require.NoError(t, err)

	assert.Equal(t, first.ID, second.ID)
	assert.Equal(t, first.Identifiers, second.Identifiers)
	assert.JSONEq(t, string(first.Detail), string(second.Detail))
	assert.Equal(t, []string{"201", "200"}, statuses(e.requestsFor(m.IdempotencyKey())), "PRISME replays the original Accuse")
	assert.Len(t, e.sim.History(sim.Mesure), 1, "one record, not two")
}

func TestAnInvalidTokenIsReplacedTransparently(t *testing.T) {
	t.Run("a revoked token: PRISME answers 401 invalid_token, the sink gets a new token and sends again", func(t *testing.T) {
		e := startPrisme(t)
		s := e.sink(t)
		_, err := s.Deliver(t.Context(), delivery(fiche(t, 1)))
		require.NoError(t, err)
		require.Equal(t, 1, e.sim.RevokeTokens())

		m := fiche(t, 2)
		_, err = s.Deliver(t.Context(), delivery(m))
		require.NoError(t, err)
		assert.Equal(t, []string{"401", "201"}, statuses(e.requestsFor(m.IdempotencyKey())), "the same key both times")
		assert.EqualValues(t, 2, e.sim.Stats().TokensIssued)
	})
	t.Run("a token that expired at PRISME before the hub expected it is replaced too", func(t *testing.T) {
		e := startPrisme(t)
		s := e.sink(t)
		_, err := s.Deliver(t.Context(), delivery(fiche(t, 1)))
		require.NoError(t, err)
		e.clock.Advance(2 * time.Hour) // PRISME's clock: the token's hour is over there

		_, err = s.Deliver(t.Context(), delivery(fiche(t, 2)))
		require.NoError(t, err)
		assert.EqualValues(t, 2, e.sim.Stats().TokensIssued)
	})
	t.Run("a valid token is reused, never fetched per delivery", func(t *testing.T) {
		e := startPrisme(t)
		s := e.sink(t)
		for i := range 5 {
			_, err := s.Deliver(t.Context(), delivery(fiche(t, i)))
			require.NoError(t, err)
		}
		assert.EqualValues(t, 1, e.sim.Stats().TokensIssued)
	})
}

func TestBusyOrDownPrismeIsTransientAndSaysWhenToRetry(t *testing.T) {
	tests := []struct {
		name     string
		endpoint sim.Endpoint
		status   int
		wait     time.Duration
	}{
		{"503 with Retry-After on a write", sim.EndpointFichesPenales, 503, 7 * time.Second},
		{"429 with Retry-After on a write", sim.EndpointFichesPenales, 429, 3 * time.Second},
		{"503 with Retry-After on the token endpoint", sim.EndpointToken, 503, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is transient, carries the wait, and the retry with the same key succeeds", func(t *testing.T) {
			e := startPrisme(t)
			s := e.sink(t)
			require.NoError(t, e.sim.Faults().FailNext(tt.endpoint, 1, tt.status, tt.wait))
			d := delivery(fiche(t, 1))

			_, err := s.Deliver(t.Context(), d)
			require.Error(t, err)
			assert.ErrorIs(t, err, connectors.ErrTransient)
			assert.ErrorIs(t, err, prisme.ErrUnavailable)
			assert.False(t, connectors.IsPermanent(err))
			ra, ok := connectors.RetryAfter(err)
			require.True(t, ok, "%v", err)
			assert.Equal(t, tt.wait, ra)

			d.Attempt = 2
			rc, err := s.Deliver(t.Context(), d)
			require.NoError(t, err)
			assert.NotEmpty(t, rc.ID)
		})
	}
}

func TestASlowOrUnreachablePrismeIsTransient(t *testing.T) {
	t.Run("an answer slower than the timeout", func(t *testing.T) {
		e := startPrisme(t)
		s := e.sink(t, func(o *prisme.Options) { o.Timeout = 250 * time.Millisecond })
		_, err := s.Deliver(t.Context(), delivery(fiche(t, 1))) // gets the token first
		require.NoError(t, err)
		require.NoError(t, e.sim.Faults().SetLatency(sim.EndpointFichesPenales, time.Second))
		_, err = s.Deliver(t.Context(), delivery(fiche(t, 2)))
		require.ErrorIs(t, err, connectors.ErrTransient)
		assert.ErrorIs(t, err, prisme.ErrUnavailable)
		assert.Contains(t, err.Error(), "timeout")
	})
	t.Run("a connection refused", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		s, err := prisme.NewSink(prisme.Options{URL: dead.URL, ClientID: hubID, ClientSecret: hubSecret})
		require.NoError(t, err)
		_, err = s.Deliver(t.Context(), delivery(fiche(t, 1)))
		require.ErrorIs(t, err, connectors.ErrTransient)
		assert.ErrorIs(t, err, prisme.ErrUnavailable)
		assert.NotContains(t, err.Error(), hubSecret)
	})
}

func TestABodyPrismeRefusesIsPermanentWithPointersAndRulesOnly(t *testing.T) {
	e := startPrisme(t)
	s := e.sink(t)
	m := edited(t, exampleMsg(t, canonical.NamePenalRecord, "condamne-sursis-partiel-reductions"), func(d map[string]any) {
		p := person(d)
		p["lastName"] = canary
		p["birthDate"] = "17/06/1988" // PRISME wants AAAA-MM-JJ
		p["sex"] = "X"                // PRISME knows M and F
	})
	_, err := s.Deliver(t.Context(), delivery(m))
	require.Error(t, err)
	require.True(t, connectors.IsPermanent(err), "%v", err)
	assert.ErrorIs(t, err, prisme.ErrRefused)
	var se *prisme.StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 422, se.Status)
	assert.Equal(t, []prisme.Violation{{Pointer: "/personne/dateNaissance", Rule: "format"}, {Pointer: "/personne/sexe", Rule: "enum"}}, se.Violations)
	assert.Equal(t, "prisme: 422 Données non conformes au schéma [validation]: /personne/dateNaissance (format), /personne/sexe (enum)", err.Error())
	for _, leak := range []string{canary, "17/06/1988", "1988"} {
		assert.NotContains(t, err.Error(), leak)
	}
}

func TestTheSameKeyForAnotherBodyIsPermanent(t *testing.T) {
	e := startPrisme(t)
	s := e.sink(t)
	m := fiche(t, 1)
	_, err := s.Deliver(t.Context(), delivery(m))
	require.NoError(t, err)
	other := edited(t, m, func(d map[string]any) { d["establishmentName"] = "Autre libellé" })
	_, err = s.Deliver(t.Context(), delivery(other))
	require.Error(t, err)
	assert.True(t, connectors.IsPermanent(err))
	assert.ErrorIs(t, err, prisme.ErrRefused)
	var se *prisme.StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 409, se.Status)
	assert.Equal(t, "cle-deja-utilisee", se.Type)
}

func TestWhatCannotBeSentIsPermanentAndNothingIsSent(t *testing.T) {
	e := startPrisme(t)
	s := e.sink(t)
	tests := []struct {
		name   string
		d      connectors.Delivery
		target error
	}{
		{"a required field the route's policy removed", delivery(edited(t, fiche(t, 1), func(d map[string]any) {
			delete(person(d), "birthDate")
		})), prisme.ErrMissingField},
		{"a delivery without an idempotency key", connectors.Delivery{Message: fiche(t, 2), Attempt: 1}, prisme.ErrIdempotencyKey},
		{"a key longer than PRISME's 128 characters", connectors.Delivery{Message: fiche(t, 3), IdempotencyKey: strings.Repeat("k", 129)}, prisme.ErrIdempotencyKey},
		{"a body above PRISME's 1 MiB", delivery(edited(t, fiche(t, 4), func(d map[string]any) {
			conv := d["convictions"].([]any)[0].(map[string]any)
			conv["offences"].([]any)[0].(map[string]any)["label"] = strings.Repeat("x", prisme.MaxBodyBytes)
		})), prisme.ErrBodyTooLarge},
		{"a message of a type PRISME does not take", delivery(&canonical.Message{Type: "fr.justice.unknown.v1", ID: "x"}), prisme.ErrUnmappable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Deliver(t.Context(), tt.d)
			require.ErrorIs(t, err, tt.target)
			assert.True(t, connectors.IsPermanent(err), "%v", err)
		})
	}
	assert.Zero(t, e.sim.Stats().Requests)
}

func TestADroppedReplyIsTransientAndTheRetryGetsTheOriginalAccuse(t *testing.T) {
	t.Run("on a fresh connection the sink sees the error; the retry with the same key gets a 200 and the item stored", func(t *testing.T) {
		e := startPrisme(t)
		s := e.sink(t, func(o *prisme.Options) {
			o.HTTPClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		})
		require.NoError(t, e.sim.Faults().DropReplyNext(sim.EndpointFichesPenales, 1))
		d := delivery(fiche(t, 1))
		_, err := s.Deliver(t.Context(), d)
		require.Error(t, err)
		assert.ErrorIs(t, err, connectors.ErrTransient)
		assert.ErrorIs(t, err, prisme.ErrUnavailable)

		stored := e.sim.History(sim.FichePenale)
		require.Len(t, stored, 1, "PRISME stored the item before dropping the reply")
		d.Attempt = 2
		rc, err := s.Deliver(t.Context(), d)
		require.NoError(t, err)
		assert.Equal(t, stored[0].ID, rc.ID)
		assert.Equal(t, stored[0].DossierID, rc.Identifiers[0].Value)
		assert.Equal(t, []string{"dropped", "200"}, statuses(e.requestsFor(d.IdempotencyKey)))
		assert.Len(t, e.sim.History(sim.FichePenale), 1)
	})
	t.Run("on a reused keep-alive connection Go's Transport resends the POST itself and the delivery succeeds", func(t *testing.T) {
		e := startPrisme(t)
		s := e.sink(t)
		_, err := s.Deliver(t.Context(), delivery(fiche(t, 1))) // leaves an idle connection
		require.NoError(t, err)
		require.NoError(t, e.sim.Faults().DropReplyNext(sim.EndpointFichesPenales, 1))
		d := delivery(fiche(t, 2))
		rc, err := s.Deliver(t.Context(), d)
		require.NoError(t, err)
		assert.Equal(t, []string{"dropped", "200"}, statuses(e.requestsFor(d.IdempotencyKey)))
		stored := e.sim.History(sim.FichePenale)
		require.Len(t, stored, 2)
		assert.Equal(t, stored[1].ID, rc.ID)
	})
}

func TestRefusedCredentialsAreAnOutageNotAFaultOfTheMessage(t *testing.T) {
	e := startPrisme(t)
	tests := []struct {
		name string
		edit func(*prisme.Options)
		want string
	}{
		{"a wrong client secret", func(o *prisme.Options) { o.ClientSecret = "wrong-secret-value" }, "token endpoint answered 401"},
		{"an unknown client", func(o *prisme.Options) { o.ClientID = "inconnu" }, "token endpoint answered 401"},
		{"a client without the write scope", func(o *prisme.Options) { o.ClientID, o.ClientSecret = "lecteur", "lecteur-secret" },
			"token endpoint answered 400 invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is transient and says what to check", func(t *testing.T) {
			s := e.sink(t, tt.edit)
			_, err := s.Deliver(t.Context(), delivery(fiche(t, 1)))
			require.Error(t, err)
			assert.False(t, connectors.IsPermanent(err), "the breaker must not quarantine every message of an outage")
			assert.ErrorIs(t, err, connectors.ErrTransient)
			assert.ErrorIs(t, err, prisme.ErrUnauthorized)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), "clientSecret")
			assert.NotContains(t, err.Error(), "wrong-secret-value")
			assert.NotContains(t, err.Error(), "lecteur-secret")
		})
	}
	assert.Empty(t, e.sim.History(sim.FichePenale))
}

func TestConcurrentDeliveriesAreSafeAndShareOneToken(t *testing.T) {
	e := startPrisme(t)
	s := e.sink(t)
	const workers, each = 8, 25
	msgs := make([][]*canonical.Message, workers)
	for w := range workers {
		for i := range each {
			msgs[w] = append(msgs[w], fiche(t, w*each+i))
		}
	}
	var wg sync.WaitGroup
	ids := make([][]string, workers)
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i, m := range msgs[w] {
				if w == 0 && i == each/2 {
					e.sim.RevokeTokens() // every worker meets a 401 invalid_token around here
				}
				rc, err := s.Deliver(t.Context(), delivery(m))
				if err != nil {
					errs <- err
					continue
				}
				ids[w] = append(ids[w], rc.ID)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	seen := map[string]bool{}
	for _, l := range ids {
		for _, id := range l {
			assert.False(t, seen[id], "receipt %s twice", id)
			seen[id] = true
		}
	}
	assert.Len(t, seen, workers*each)
	assert.Len(t, e.sim.History(sim.FichePenale), workers*each)
	assert.LessOrEqual(t, e.sim.Stats().TokensIssued, int64(2), "one token, then one more after the revocation")
}

func TestConfiguration(t *testing.T) {
	env := connectors.Env{Name: "prisme", Getenv: func(k string) string {
		if k == "PRISME_SECRET" {
			return hubSecret
		}
		return ""
	}}
	t.Run("every problem is reported with its path", func(t *testing.T) {
		_, ps := prisme.Spec.New(env, map[string]any{
			"url": "ftp://prisme", "clientSecret": map[string]any{"env": "UNSET"},
			"scopes": []any{"flux.lecture", "a b"}, "timeout": "-1s", "extra": 1,
		}, "connectors.prisme")
		msg := ps.Error()
		for _, want := range []string{
			"connectors.prisme.url: must be an absolute http or https URL",
			"connectors.prisme.clientId: required",
			"connectors.prisme.clientSecret: environment variable UNSET is empty or unset",
			"connectors.prisme.scopes[1]: must be one scope name",
			"connectors.prisme.scopes: must include flux.ecriture",
			"connectors.prisme.timeout: must not be negative",
			"extra",
		} {
			assert.Contains(t, msg, want)
		}
	})
	t.Run("a missing secret source is reported", func(t *testing.T) {
		_, ps := prisme.Spec.New(env, map[string]any{"url": "http://127.0.0.1:1", "clientId": "hub"}, "connectors.prisme")
		assert.Contains(t, ps.Error(), "connectors.prisme.clientSecret: required")
	})
	t.Run("a valid configuration builds a probation sink without contacting PRISME", func(t *testing.T) {
		e := startPrisme(t)
		inst, ps := prisme.Spec.New(env, map[string]any{
			"url": e.ts.URL + "/", "clientId": hubID, "clientSecret": map[string]any{"env": "PRISME_SECRET"},
		}, "connectors.prisme")
		require.Empty(t, ps)
		t.Cleanup(func() { _ = inst.Close() })
		assert.Equal(t, "probation", inst.Recipient)
		assert.Zero(t, e.sim.Stats().Requests)

		_, err := inst.Sink.Deliver(t.Context(), delivery(fiche(t, 1)))
		require.NoError(t, err, "the defaults (scope flux.ecriture, timeout) and the trailing slash work")
	})
	t.Run("NewSink refuses unusable options with every reason", func(t *testing.T) {
		_, err := prisme.NewSink(prisme.Options{URL: "prisme.local"})
		require.ErrorIs(t, err, prisme.ErrInvalidOptions)
		for _, want := range []string{"url", "clientId", "clientSecret"} {
			assert.Contains(t, err.Error(), want)
		}
	})
}

func TestErrorsOfEveryKindCarryNoPersonalData(t *testing.T) {
	e := startPrisme(t)
	s := e.sink(t)
	m := edited(t, fiche(t, 1), func(d map[string]any) { person(d)["lastName"] = canary })
	var errs []error
	for _, f := range []func(){
		func() { _ = e.sim.Faults().FailNext(sim.EndpointFichesPenales, 1, 503, time.Second) },
		func() { _ = e.sim.Faults().DropReplyNext(sim.EndpointFichesPenales, 1) },
	} {
		f()
		_, err := s.Deliver(t.Context(), delivery(m))
		errs = append(errs, err)
	}
	_, err := s.Deliver(t.Context(), delivery(edited(t, m, func(d map[string]any) { d["establishmentName"] = canary + " bis" })))
	errs = append(errs, err)
	for _, err := range errs {
		if err != nil {
			assert.NotContains(t, err.Error(), canary)
			assert.False(t, errors.Is(err, prisme.ErrNotForPrisme))
		}
	}
	assert.Error(t, errs[2], "the same key for another body is refused")
}

func BenchmarkDeliver(b *testing.B) {
	e := startPrisme(b)
	s := e.sink(b)
	msgs := make([]*canonical.Message, b.N)
	for i := range msgs {
		msgs[i] = fiche(b, i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Deliver(b.Context(), delivery(msgs[i])); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "fiches/s")
}

func BenchmarkDeliverParallel(b *testing.B) {
	e := startPrisme(b)
	s := e.sink(b)
	msgs := make([]*canonical.Message, b.N)
	for i := range msgs {
		msgs[i] = fiche(b, i)
	}
	var next sync.Mutex
	n := 0
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			next.Lock()
			m := msgs[n]
			n++
			next.Unlock()
			if _, err := s.Deliver(b.Context(), delivery(m)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "fiches/s")
}

func BenchmarkEncode(b *testing.B) {
	m := exampleMsg(b, canonical.NamePenalRecord, "condamne-sursis-partiel-reductions")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := prisme.Encode(m); err != nil {
			b.Fatal(err)
		}
	}
}
