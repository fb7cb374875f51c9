package sim_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"passerelle/connectors/prisme/sim"
)

// fuzzTarget is a simulator called in-process (no socket: fuzzing wants speed), with a
// token of both scopes.
type fuzzTarget struct {
	srv   *sim.Server
	h     http.Handler
	token string
}

func newFuzzTarget(f testing.TB) *fuzzTarget {
	f.Helper()
	srv := sim.New(sim.Options{})
	h := srv.Handler()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {sim.DefaultClientID},
		"client_secret": {sim.DefaultClientSecret}}
	req := httptest.NewRequestWithContext(f.Context(), http.MethodPost, "/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	require.Equal(f, http.StatusOK, w.Code, w.Body.String())
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(f, json.Unmarshal(w.Body.Bytes(), &tok))
	return &fuzzTarget{srv: srv, h: h, token: tok.AccessToken}
}

// serve runs one request and returns the recorder.
func (ft *fuzzTarget) serve(t *testing.T, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	req.Header.Set("Authorization", "Bearer "+ft.token)
	w := httptest.NewRecorder()
	ft.h.ServeHTTP(w, req)
	return w
}

// seedFiche is a valid fiche pénale, the base of most seeds.
func seedFiche(f *testing.F) []byte {
	f.Helper()
	b, err := json.Marshal(fiche("2024-1234", "NCY01", 3, dupont()))
	require.NoError(f, err)
	return b
}

// FuzzPostFichePenale sends any body to POST /api/v1/fiches-penales: PRISME answers a
// status of the contract, never a 5xx, never panics, and a 422 always names where.
func FuzzPostFichePenale(f *testing.F) {
	valid := seedFiche(f)
	for _, s := range [][]byte{
		valid,
		bytes.Replace(valid, []byte(`"version":3`), []byte(`"version":3,"inconnu":true`), 1),
		bytes.Replace(valid, []byte(`"2024-11-02"`), []byte(`"2024-02-31"`), 1),
		bytes.Replace(valid, []byte(`"version":3`), []byte(`"version":1e999999999`), 1),
		bytes.Replace(valid, []byte(`"version":3`), []byte(`"version":-0.0e-0`), 1),
		bytes.Replace(valid, []byte(`"version":3`), []byte(`"version":`+strings.Repeat("9", 5000)), 1),
		bytes.Replace(valid, []byte(`"DUPONT"`), []byte(`"\ud800\u0000"`), 1),
		bytes.Replace(valid, []byte(`"personne":{`), []byte(`"personne":{"nom":1,`), 1),
		[]byte(`{}`), []byte(`null`), []byte(`[]`), []byte(`""`), []byte(``), []byte("\xff\xfe"),
		[]byte(strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000)),
		[]byte(`{"personne":{"prenoms":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}}`),
	} {
		f.Add(s)
	}
	ft := newFuzzTarget(f)
	calls := 0
	f.Fuzz(func(t *testing.T, body []byte) {
		if calls++; calls%20_000 == 0 {
			ft = newFuzzTarget(t) // every stored item stays in memory: start afresh now and then
		}
		sum := sha256.Sum256(body)
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/api/v1/fiches-penales", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", hex.EncodeToString(sum[:8]))
		w := ft.serve(t, req)
		require.Contains(t, []int{200, 201, 400, 409, 413, 422}, w.Code, "body: %s", w.Body.String())
		if w.Code == http.StatusUnprocessableEntity {
			var p sim.Problem
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p))
			require.NotEmpty(t, p.Errors)
			for _, e := range p.Errors {
				require.NotEmpty(t, e.Detail)
				require.True(t, e.Pointer == "" || strings.HasPrefix(e.Pointer, "/"), e.Pointer)
			}
		}
	})
}

// FuzzEventsCursor sends any apres and limite to the events feed: 200 or 400, never
// a 5xx.
func FuzzEventsCursor(f *testing.F) {
	for _, s := range [][2]string{{"", "10"}, {"cHJpc21lLWV2ZW5lbWVudDox", "1"}, {"cHJpc21lLWV2ZW5lbWVudDotMQ", "500"},
		{"%%%", "-1"}, {"cHJpc21lLWV2ZW5lbWVudDo5OTk5OTk5OTk5OTk5OTk5OTk5OQ", "99999999999999999999"}} {
		f.Add(s[0], s[1])
	}
	ft := newFuzzTarget(f)
	_, err := ft.srv.GenerateEvents(5)
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, apres, limite string) {
		q := url.Values{"apres": {apres}, "limite": {limite}}
		req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/api/v1/evenements?"+q.Encode(), nil)
		w := ft.serve(t, req)
		require.Contains(t, []int{200, 400}, w.Code, "body: %s", w.Body.String())
	})
}

// FuzzTokenRequest sends any form to the token endpoint: 200, 400 or 401, never a 5xx.
func FuzzTokenRequest(f *testing.F) {
	for _, s := range []string{
		"grant_type=client_credentials&client_id=passerelle&client_secret=passerelle-secret",
		"grant_type=client_credentials&client_id=passerelle&client_secret=passerelle-secret&scope=flux.lecture%20flux.lecture",
		"grant_type=password", "grant_type=client_credentials&grant_type=client_credentials", "%zz", "",
	} {
		f.Add(s, "")
	}
	f.Add("grant_type=client_credentials", "Basic cGFzc2VyZWxsZTpwYXNzZXJlbGxlLXNlY3JldA==")
	f.Add("grant_type=client_credentials", "Basic %%%")
	ft := newFuzzTarget(f)
	f.Fuzz(func(t *testing.T, form, authorization string) {
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/oauth/token", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		ft.h.ServeHTTP(w, req)
		require.Contains(t, []int{200, 400, 401}, w.Code, "body: %s", w.Body.String())
	})
}
