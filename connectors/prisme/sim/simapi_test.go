package sim_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/connectors/prisme/sim"
)

// simCall calls the /_sim/ API without authentication and decodes the answer into out.
func (e *env) simCall(t *testing.T, method, path string, in, out any) int {
	t.Helper()
	var body *bytes.Reader
	if in != nil {
		b, err := json.Marshal(in)
		require.NoError(t, err)
		body = bytes.NewReader(b)
	} else {
		body = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, e.ts.URL+path, body)
	require.NoError(t, err)
	r := do(t, e.ts.Client(), req)
	if out != nil && r.status < 300 {
		require.NoError(t, json.Unmarshal(r.body, out), "body: %s", r.body)
	}
	return r.status
}

// olderAfterNewer lists the requests that sent a version lower than one already sent
// for the same item: what a test of the hub asserts is empty.
func olderAfterNewer(reqs []sim.Request) []sim.Request {
	highest := map[string]int64{}
	var out []sim.Request
	for _, r := range reqs {
		if r.ItemKey == "" || r.Version == nil {
			continue
		}
		k := string(r.Endpoint) + " " + r.ItemKey
		if h, ok := highest[k]; ok && *r.Version < h {
			out = append(out, r)
			continue
		}
		highest[k] = *r.Version
	}
	return out
}

func TestReadAPI(t *testing.T) {
	e := newEnv(t)
	c := e.writer(t)
	require.Equal(t, http.StatusCreated, e.post(t, c, sim.FichePenale, "f2", fiche("E1", "NCY01", 2, dupont())).status)
	require.NoError(t, e.srv.Faults().FailNext(sim.EndpointFichesPenales, 1, 0, 0))
	require.Equal(t, http.StatusServiceUnavailable, e.post(t, c, sim.FichePenale, "f3", fiche("E1", "NCY01", 3, dupont())).status)
	require.Equal(t, http.StatusCreated, e.post(t, c, sim.FichePenale, "f1", fiche("E1", "NCY01", 1, dupont())).status)
	require.Equal(t, http.StatusCreated, e.post(t, c, sim.Decision, "d1", decision("24000000001", 4, dupont())).status)

	t.Run("the request log shows every request in order with its key, version and status", func(t *testing.T) {
		var reqs []sim.Request
		require.Equal(t, http.StatusOK, e.simCall(t, http.MethodGet, "/_sim/requests", nil, &reqs))
		var writes []sim.Request
		for _, r := range reqs {
			if r.Endpoint != sim.EndpointToken {
				writes = append(writes, r)
			}
		}
		require.Len(t, writes, 4)
		for i := 1; i < len(reqs); i++ {
			assert.Less(t, reqs[i-1].Seq, reqs[i].Seq)
		}
		key := sim.FicheKey("E1", "NCY01")
		assert.Equal(t, []string{key, key, key, sim.DecisionKey("24000000001", "D-000001")},
			[]string{writes[0].ItemKey, writes[1].ItemKey, writes[2].ItemKey, writes[3].ItemKey})
		assert.Equal(t, []int{201, 503, 201, 201}, []int{writes[0].Status, writes[1].Status, writes[2].Status, writes[3].Status})
		assert.Equal(t, int64(3), *writes[1].Version, "a failed request still shows what it carried")
		assert.Equal(t, "status", writes[1].Fault)
		assert.Equal(t, writerID, writes[0].ClientID)
		assert.False(t, *writes[2].Courant)

		late := olderAfterNewer(reqs)
		require.Len(t, late, 1, "v1 was sent after v2 and v3: the log proves it")
		assert.Equal(t, "f1", late[0].IdempotencyKey)
	})

	t.Run("current items, history, dossiers and counters are readable", func(t *testing.T) {
		var cur map[string]sim.Item
		require.Equal(t, http.StatusOK, e.simCall(t, http.MethodGet, "/_sim/current/fiches-penales", nil, &cur))
		assert.Equal(t, int64(2), cur[sim.FicheKey("E1", "NCY01")].Version)
		assert.JSONEq(t, `"GENESIS"`, string(mustField(t, cur[sim.FicheKey("E1", "NCY01")].Body, "source")))

		var hist []sim.Item
		require.Equal(t, http.StatusOK, e.simCall(t, http.MethodGet, "/_sim/history/fiches-penales", nil, &hist))
		require.Len(t, hist, 2)
		assert.Equal(t, []bool{true, false}, []bool{hist[0].Courant, hist[1].Courant})

		var dossiers []sim.Dossier
		require.Equal(t, http.StatusOK, e.simCall(t, http.MethodGet, "/_sim/dossiers", nil, &dossiers))
		require.Len(t, dossiers, 1)
		assert.Equal(t, "DUPONT", dossiers[0].Nom)

		var st sim.Stats
		require.Equal(t, http.StatusOK, e.simCall(t, http.MethodGet, "/_sim/stats", nil, &st))
		assert.Equal(t, int64(3), st.ByStatus[201])
		assert.Equal(t, int64(1), st.ByStatus[503])
		assert.Equal(t, int64(2), st.ByEndpoint[sim.EndpointFichesPenales][201])
		assert.Equal(t, 2, st.Stored[sim.FichePenale])
		assert.Equal(t, 1, st.Current[sim.FichePenale])
		assert.Equal(t, int64(1), st.TokensIssued)
		assert.Equal(t, e.srv.Stats(), st)

		assert.Equal(t, http.StatusNotFound, e.simCall(t, http.MethodGet, "/_sim/current/autre", nil, nil))
	})

	t.Run("the current items are written item by item, as the object Current encodes to", func(t *testing.T) {
		for _, kind := range []sim.Kind{sim.FichePenale, sim.Mesure} {
			resp, err := http.Get(e.ts.URL + "/_sim/current/" + string(kind))
			require.NoError(t, err)
			got, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			want, err := json.Marshal(e.srv.Current(kind))
			require.NoError(t, err)
			assert.Equal(t, string(want), string(got))
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		}
	})

	t.Run("an item deleted behind the hub's back is gone", func(t *testing.T) {
		path := "/_sim/items/fiches-penales?key=" + url.QueryEscape(sim.FicheKey("E1", "NCY01"))
		assert.Equal(t, http.StatusNoContent, e.simCall(t, http.MethodDelete, path, nil, nil))
		assert.Empty(t, e.srv.Current(sim.FichePenale))
		assert.Equal(t, http.StatusNotFound, e.simCall(t, http.MethodDelete, path, nil, nil))
	})

	t.Run("faults are switched over HTTP", func(t *testing.T) {
		var got map[string]any
		require.Equal(t, http.StatusOK, e.simCall(t, http.MethodPut, "/_sim/faults/mesures",
			map[string]any{"failNext": 1, "status": 429, "retryAfterSeconds": 4}, &got))
		r := e.post(t, c, sim.Mesure, "m", mesure("M1", 1, dupont()))
		require.Equal(t, http.StatusTooManyRequests, r.status)
		assert.Equal(t, "4", r.header.Get("Retry-After"))
		assert.Equal(t, http.StatusBadRequest, e.simCall(t, http.MethodPut, "/_sim/faults/mesures", map[string]any{"status": 500}, nil))
		assert.Equal(t, http.StatusBadRequest, e.simCall(t, http.MethodPut, "/_sim/faults/mesures", map[string]any{"inconnu": 1}, nil))
		require.Equal(t, http.StatusOK, e.simCall(t, http.MethodPut, "/_sim/faults/mesures", map[string]any{"latencyMs": 5}, nil))
		var plan map[string]map[string]any
		require.Equal(t, http.StatusOK, e.simCall(t, http.MethodGet, "/_sim/faults", nil, &plan))
		assert.Equal(t, float64(5), plan["mesures"]["latencyMs"])
		assert.Equal(t, http.StatusNoContent, e.simCall(t, http.MethodDelete, "/_sim/faults", nil, nil))
		assert.Equal(t, sim.Fault{}, e.srv.Faults().Get(sim.EndpointMesures))
	})

	t.Run("events are added, generated and read over HTTP", func(t *testing.T) {
		var ev sim.Evenement
		require.Equal(t, http.StatusCreated, e.simCall(t, http.MethodPost, "/_sim/events", transfer("D-000001"), &ev))
		assert.NotEmpty(t, ev.Curseur)
		bad := transfer("D-000001")
		bad.Type = "X"
		assert.Equal(t, http.StatusUnprocessableEntity, e.simCall(t, http.MethodPost, "/_sim/events", bad, nil))
		var gen []sim.Evenement
		require.Equal(t, http.StatusCreated, e.simCall(t, http.MethodPost, "/_sim/events/generate?n=3", nil, &gen))
		assert.Len(t, gen, 3)
		var all []sim.Evenement
		require.Equal(t, http.StatusOK, e.simCall(t, http.MethodGet, "/_sim/events", nil, &all))
		assert.Len(t, all, 4)

		var sha string
		for _, g := range gen {
			if g.Rapport != nil {
				sha = g.Rapport.Document.Sha256
			} else if g.Dessaisissement != nil {
				sha = g.Dessaisissement.Pieces[0].Sha256
			}
		}
		r := e.get(t, e.ts.Client(), "/_sim/pieces/"+sha)
		require.Equal(t, http.StatusOK, r.status)
		assert.True(t, bytes.HasPrefix(r.body, []byte("%PDF-")))
	})

	t.Run("tokens are revoked over HTTP and the contract is served", func(t *testing.T) {
		var out map[string]int
		require.Equal(t, http.StatusOK, e.simCall(t, http.MethodPost, "/_sim/tokens/revoke", nil, &out))
		assert.Equal(t, 1, out["revoked"])
		r := e.get(t, e.ts.Client(), "/_sim/openapi.yaml")
		assert.Equal(t, sim.OpenAPI, r.body)
		assert.True(t, strings.HasPrefix(string(r.body), "openapi: 3.1.0"))
	})
}

// mustField reads one member of a JSON object.
func mustField(t *testing.T, raw json.RawMessage, name string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &m))
	return m[name]
}
