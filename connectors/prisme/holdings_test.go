package prisme_test

import (
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/canonical"
	"passerelle/connectors"
	"passerelle/connectors/prisme"
)

// holdingSink builds the sink with an inventory at inventoryURL, as the configuration
// does (inventoryUrl).
func (e *prismeEnv) holdingSink(t *testing.T, inventoryURL string) connectors.Holdings {
	t.Helper()
	env := connectors.Env{Name: "prisme", Getenv: func(k string) string {
		if k == "PRISME_SECRET" {
			return hubSecret
		}
		return ""
	}}
	inst, ps := prisme.Spec.New(env, map[string]any{
		"url": e.ts.URL, "clientId": hubID, "clientSecret": map[string]any{"env": "PRISME_SECRET"},
		"inventoryUrl": inventoryURL,
	}, "connectors.prisme")
	require.Empty(t, ps)
	t.Cleanup(func() { _ = inst.Close() })
	h, ok := inst.Sink.(connectors.Holdings)
	require.True(t, ok, "with an inventory, the sink says what PRISME holds")
	return h
}

func holdings(t *testing.T, h connectors.Holdings, types ...string) ([]string, error) {
	t.Helper()
	var keys []string
	err := h.Holdings(t.Context(), types, func(k string) error {
		keys = append(keys, k)
		return nil
	})
	sort.Strings(keys)
	return keys, err
}

// An inventory of megabytes (thousands of items with their bodies) is read item by
// item: every current item's key, once, and only the kinds asked for.
func TestHoldingsListsEveryCurrentItemOfALargeInventory(t *testing.T) {
	const n = 1500
	e := startPrisme(t)
	h := e.holdingSink(t, e.ts.URL+"/_sim/current")
	s := e.sink(t)
	var want []string
	for i := range n {
		d := delivery(fiche(t, i))
		_, err := s.Deliver(t.Context(), d)
		require.NoError(t, err)
		want = append(want, d.IdempotencyKey)
	}
	sort.Strings(want)
	got, err := holdings(t, h, canonical.TypePenalRecord)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	got, err = holdings(t, h, canonical.TypeMeasure)
	require.NoError(t, err)
	assert.Empty(t, got, "no measure is held")
}

// What is not an inventory, or an item larger than any PRISME holds, is an error: the
// keys listed before it are not taken for the whole (reconcile stops).
func TestHoldingsRefusesAnAnswerThatIsNotAnInventory(t *testing.T) {
	e := startPrisme(t)
	answers := map[string]string{
		"array":     `[{"idempotencyKey": "a"}]`,
		"truncated": `{"k1": {"idempotencyKey": "a"}, "k2": {"idempo`,
		"two":       `{"k1": {"idempotencyKey": "a"}} {}`,
		"huge":      `{"k1": {"idempotencyKey": "a", "body": "` + strings.Repeat("x", 3<<20) + `"}}`,
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		name, _, _ = strings.Cut(name, "/")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(answers[name]))
	}))
	t.Cleanup(ts.Close)
	for name, want := range map[string]string{
		"array":     "not an object of items",
		"truncated": "not an object of items",
		"two":       "not one JSON object",
		"huge":      "larger than",
	} {
		t.Run(name, func(t *testing.T) {
			got, err := holdings(t, e.holdingSink(t, ts.URL+"/"+name), canonical.TypeMeasure)
			require.Error(t, err)
			assert.Contains(t, err.Error(), want)
			if name == "array" || name == "huge" {
				assert.Empty(t, got)
			}
		})
	}
}
