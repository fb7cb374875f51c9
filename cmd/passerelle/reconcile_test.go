package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/canonical"
	"passerelle/pipeline/store"
)

func TestReconcileCommand(t *testing.T) {
	cfg, db := opsConfig(t)
	t.Run("nothing accepted yet: nothing is missing", func(t *testing.T) {
		r := runCLI(t, nil, "reconcile", "--from", "appi-export", "--to", "archive", "-c", cfg)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, "reconcile appi-export → archive")
		assert.Contains(t, r.stdout, "nothing is missing, stale, pending or quarantined")
	})

	st, err := store.Open(t.Context(), db, store.Options{})
	require.NoError(t, err)
	defer st.Close()
	raw, err := os.ReadFile("../../schemas/examples/measure/valid/ddse-a-prendre-en-charge.json")
	require.NoError(t, err)
	m, err := canonical.DecodeMessage(raw)
	require.NoError(t, err)
	_, err = st.Ingest(t.Context(), st.Pool(), store.IngestBatch{Connector: "appi-export", Messages: []*canonical.Message{m},
		Targets: func(string) []store.Target {
			return []store.Target{{Route: "measures-to-archive", Destination: "archive", LegalBasis: "Test"}}
		}})
	require.NoError(t, err)

	t.Run("an accepted fact not yet delivered is pending, exit 1, and in the detail file", func(t *testing.T) {
		detail := filepath.Join(t.TempDir(), "detail.json")
		r := runCLI(t, nil, "reconcile", "--from", "appi-export", "--to", "archive", "--detail", detail, "-c", cfg)
		assert.Equal(t, 1, r.code, r.stderr)
		assert.Contains(t, r.stdout, "pending      1")
		assert.Contains(t, r.stdout, m.FactRef)
		b, err := os.ReadFile(detail)
		require.NoError(t, err)
		var facts []map[string]any
		require.NoError(t, json.Unmarshal(b, &facts))
		require.Len(t, facts, 1)
		assert.Equal(t, "pending", facts[0]["class"])
		assert.Equal(t, m.FactRef, facts[0]["ref"])
	})
	t.Run("usage errors exit 2", func(t *testing.T) {
		assert.Equal(t, 2, runCLI(t, nil, "reconcile", "--from", "appi-export", "-c", cfg).code)
		assert.Equal(t, 2, runCLI(t, nil, "reconcile", "--from", "nope", "--to", "archive", "-c", cfg).code)
		assert.Equal(t, 2, runCLI(t, nil, "reconcile", "--from", "appi-export", "--to", "appi-export", "-c", cfg).code)
	})
}
