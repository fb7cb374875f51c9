package sim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"passerelle/connectors/prisme/sim"
)

// benchPost posts one fiche over HTTP and drains the answer.
func benchPost(b *testing.B, c *http.Client, url, key string, body []byte, want int) {
	b.Helper()
	req, err := http.NewRequestWithContext(b.Context(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != want {
		b.Fatalf("status %d, want %d", resp.StatusCode, want)
	}
}

// benchClient starts a simulator and returns its URL and an OAuth client.
func benchClient(b *testing.B) (string, *http.Client) {
	b.Helper()
	ts := httptest.NewServer(sim.New(sim.Options{}).Handler())
	b.Cleanup(ts.Close)
	cfg := clientcredentials.Config{ClientID: sim.DefaultClientID, ClientSecret: sim.DefaultClientSecret,
		TokenURL: ts.URL + "/oauth/token"}
	return ts.URL, cfg.Client(context.WithValue(b.Context(), oauth2.HTTPClient, ts.Client()))
}

// BenchmarkPostFichePenale measures a POST round trip that stores a new fiche (201):
// bearer check, schema validation, person matching, newest-wins, over loopback HTTP.
func BenchmarkPostFichePenale(b *testing.B) {
	base, c := benchClient(b)
	body, err := json.Marshal(fiche("2024-1234", "NCY01", 1, dupont()))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		benchPost(b, c, base+"/api/v1/fiches-penales", strconv.Itoa(i), body, http.StatusCreated)
	}
}

// BenchmarkPostFichePenaleReplay measures an idempotent replay (200): the body is
// compared as a JSON value with the one remembered.
func BenchmarkPostFichePenaleReplay(b *testing.B) {
	base, c := benchClient(b)
	body, err := json.Marshal(fiche("2024-1234", "NCY01", 1, dupont()))
	if err != nil {
		b.Fatal(err)
	}
	benchPost(b, c, base+"/api/v1/fiches-penales", "k", body, http.StatusCreated)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		benchPost(b, c, base+"/api/v1/fiches-penales", "k", body, http.StatusOK)
	}
}
