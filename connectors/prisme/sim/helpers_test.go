package sim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"passerelle/connectors/prisme/sim"
)

// Credentials of the test clients.
const (
	writerID     = "hub"
	writerSecret = "hub-secret"
	readerID     = "lecteur"
	readerSecret = "lecteur-secret"
	otherID      = "autre"
	otherSecret  = "autre-secret"
)

// clock is a test clock moved forward by hand, so that tokens and idempotency keys
// expire without waiting.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a simulator served over real HTTP.
type env struct {
	srv   *sim.Server
	ts    *httptest.Server
	clock *clock
}

// newEnv starts a simulator with three clients: hub (both scopes), lecteur (flux.lecture
// only) and autre (flux.ecriture only).
func newEnv(t *testing.T) *env {
	t.Helper()
	c := &clock{t: time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)}
	srv := sim.New(sim.Options{
		Clients: []sim.Client{
			{ID: writerID, Secret: writerSecret, Scopes: []string{sim.ScopeEcriture, sim.ScopeLecture}},
			{ID: readerID, Secret: readerSecret, Scopes: []string{sim.ScopeLecture}},
			{ID: otherID, Secret: otherSecret, Scopes: []string{sim.ScopeEcriture}},
		},
		TokenTTL: time.Hour,
		Now:      c.Now,
	})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &env{srv: srv, ts: ts, clock: c}
}

// oauthClient is an HTTP client that gets its tokens with clientcredentials.
func (e *env) oauthClient(t *testing.T, id, secret string, scopes ...string) *http.Client {
	t.Helper()
	cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: e.ts.URL + "/oauth/token", Scopes: scopes}
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, e.ts.Client())
	return cfg.Client(ctx)
}

// writer is the hub's client, with both scopes.
func (e *env) writer(t *testing.T) *http.Client {
	t.Helper()
	return e.oauthClient(t, writerID, writerSecret)
}

// token gets a raw access token.
func (e *env) token(t *testing.T, id, secret string, scopes ...string) string {
	t.Helper()
	cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: e.ts.URL + "/oauth/token", Scopes: scopes}
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, e.ts.Client())
	tok, err := cfg.Token(ctx)
	require.NoError(t, err)
	return tok.AccessToken
}

// reply is an answer read whole.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// problem decodes a problem details body.
func (r reply) problem(t *testing.T) sim.Problem {
	t.Helper()
	require.Equal(t, "application/problem+json", r.header.Get("Content-Type"), "body: %s", r.body)
	var p sim.Problem
	require.NoError(t, json.Unmarshal(r.body, &p))
	require.Equal(t, r.status, p.Status)
	require.NotEmpty(t, p.Title)
	return p
}

// accuse decodes an Accuse.
func (r reply) accuse(t *testing.T) sim.Accuse {
	t.Helper()
	require.Contains(t, []int{http.StatusCreated, http.StatusOK}, r.status, "body: %s", r.body)
	var a sim.Accuse
	require.NoError(t, json.Unmarshal(r.body, &a))
	require.NotEmpty(t, a.ID)
	require.NotEmpty(t, a.DossierID)
	return a
}

// pointers lists the pointers of a 422.
func (r reply) pointers(t *testing.T) []string {
	t.Helper()
	require.Equal(t, http.StatusUnprocessableEntity, r.status, "body: %s", r.body)
	p := r.problem(t)
	out := make([]string, len(p.Errors))
	for i, e := range p.Errors {
		require.NotEmpty(t, e.Detail)
		out[i] = e.Pointer
	}
	return out
}

// do sends a request and reads the whole answer.
func do(t *testing.T, c *http.Client, req *http.Request) reply {
	t.Helper()
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// postRaw posts raw bytes to a write endpoint.
func (e *env) postRaw(t *testing.T, c *http.Client, kind sim.Kind, key, contentType string, body []byte) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.ts.URL+"/api/v1/"+string(kind), bytes.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	return do(t, c, req)
}

// post posts a JSON body to a write endpoint.
func (e *env) post(t *testing.T, c *http.Client, kind sim.Kind, key string, body any) reply {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	return e.postRaw(t, c, kind, key, "application/json", b)
}

// get sends a GET.
func (e *env) get(t *testing.T, c *http.Client, path string) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, e.ts.URL+path, nil)
	require.NoError(t, err)
	return do(t, c, req)
}

// personne builds a Personne body.
func personne(nom, prenom, naissance string, ids map[string]any) map[string]any {
	if ids == nil {
		ids = map[string]any{}
	}
	return map[string]any{"nom": nom, "prenoms": []any{prenom}, "dateNaissance": naissance, "identifiants": ids}
}

// ecrouIDs are the identifiants of a person in custody.
func ecrouIDs(numero, etab string) map[string]any {
	return map[string]any{"numeroEcrou": numero, "codeEtablissement": etab}
}

// fiche builds a valid FichePenale.
func fiche(numero, etab string, version int, p map[string]any) map[string]any {
	return map[string]any{
		"source": "GENESIS", "version": version, "personne": p,
		"numeroEcrou": numero, "codeEtablissement": etab, "dateEcrou": "2024-11-02", "statut": "CONDAMNE",
		"condamnations": []any{map[string]any{
			"juridiction": "TJ NANCY", "dateDecision": "2024-10-15", "numeroParquet": "24123000456",
			"infractions": []any{map[string]any{"natinf": "7151", "libelle": "Vol aggravé", "qualification": "DELIT"}},
			"peines": []any{map[string]any{"nature": "EMPRISONNEMENT",
				"duree": map[string]any{"annees": 1, "mois": 6, "jours": 0}}},
		}},
		"reductionsJours": 30,
	}
}

// decision builds a valid Decision.
func decision(parquet string, transmission int, p map[string]any) map[string]any {
	return map[string]any{
		"source": "CASSIOPEE", "numeroTransmission": transmission,
		"juridiction":   map[string]any{"code": "TJ54395", "libelle": "TJ NANCY"},
		"numeroParquet": parquet, "dateDecision": "2025-01-20", "nature": "JUGEMENT", "personne": p,
		"infractions": []any{map[string]any{"natinf": "7151", "libelle": "Vol aggravé"}},
		"peines": []any{map[string]any{"nature": "SURSIS_PROBATOIRE",
			"duree":        map[string]any{"annees": 0, "mois": 8, "jours": 0},
			"delaiEpreuve": map[string]any{"annees": 2, "mois": 0, "jours": 0},
			"obligations":  []any{"SOINS", "TRAVAIL"}}},
	}
}

// mesure builds a valid Mesure.
func mesure(numero string, version int, p map[string]any) map[string]any {
	return map[string]any{
		"source": "APPI", "version": version, "numeroMesure": numero, "typeMesure": "SP",
		"juridiction": "TJ NANCY", "dateDecision": "2025-01-20", "statut": "EN_COURS",
		"obligations": []any{"SOINS"}, "personne": p,
	}
}

// custody builds a valid EvenementDetention.
func custody(seq int, typ, numero, etab string, p map[string]any) map[string]any {
	return map[string]any{
		"source": "GENESIS", "sequenceGenesis": seq, "type": typ, "date": "2025-03-01T08:15:00+01:00",
		"numeroEcrou": numero, "codeEtablissement": etab, "personne": p,
	}
}

// dupont is the person most tests push.
func dupont() map[string]any {
	return personne("DUPONT", "Jean", "1985-04-12", ecrouIDs("2024-1234", "NCY01"))
}
