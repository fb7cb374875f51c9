package sim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/connectors/prisme/sim"
)

// tryPost posts a body and returns the status, for use outside the test's goroutine.
func (e *env) tryPost(ctx context.Context, c *http.Client, kind sim.Kind, key string, body any) (int, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.ts.URL+"/api/v1/"+string(kind), bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	return resp.StatusCode, nil
}

func TestConcurrentClients(t *testing.T) {
	e := newEnv(t)
	const workers, versions = 6, 30
	c := e.writer(t)
	// Warm the token cache once: concurrent first calls would each fetch a token.
	require.Equal(t, http.StatusCreated, e.post(t, c, sim.Mesure, "chauffe", mesure("M-0", 1, dupont())).status)

	type result struct {
		status int
		err    error
	}
	results := make(chan result, workers*versions*2)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			// Every worker sends every version, in its own order, under the same keys:
			// first sends, replays and newer/older versions race.
			for _, v := range rand.New(rand.NewPCG(uint64(w), 1)).Perm(versions) {
				st, err := e.tryPost(t.Context(), c, sim.FichePenale, fmt.Sprint("v", v+1), fiche("E-conc", "NCY01", v+1, dupont()))
				results <- result{st, err}
				st, err = e.tryPost(t.Context(), c, sim.EvenementDetention, fmt.Sprint("s", v),
					custody(v, "ECROU", "2024-1234", "NCY01", dupont()))
				results <- result{st, err}
			}
		})
	}
	generated := make(chan error, 50)
	wg.Go(func() {
		for range 50 {
			_ = e.srv.Requests()
			_ = e.srv.Stats()
			_ = e.srv.Dossiers()
			_ = e.srv.Current(sim.FichePenale)
			_, err := e.srv.GenerateEvents(1)
			generated <- err
		}
	})
	wg.Wait()
	close(results)
	close(generated)
	for r := range results {
		require.NoError(t, r.err)
		require.Contains(t, []int{http.StatusCreated, http.StatusOK}, r.status)
	}
	for err := range generated {
		require.NoError(t, err)
	}

	cur := e.srv.Current(sim.FichePenale)[sim.FicheKey("E-conc", "NCY01")]
	assert.Equal(t, int64(versions), cur.Version, "the newest version is current whatever the arrival order")
	assert.Len(t, e.srv.History(sim.FichePenale), versions, "one item per idempotency key")
	assert.Len(t, e.srv.Current(sim.EvenementDetention), versions)
	assert.Len(t, e.srv.History(sim.EvenementDetention), versions)
	n := 0
	for _, d := range e.srv.Dossiers() {
		if d.Nom == "DUPONT" {
			n++
		}
	}
	assert.Equal(t, 1, n, "one person, one dossier")
	assert.Equal(t, int64(workers*versions*2+2), e.srv.Stats().Requests, "every request counted (one token request)")
}
