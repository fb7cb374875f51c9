package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/internal/pgtest"
	"passerelle/pipeline/store"
)

// opsConfig writes a configuration whose database is a fresh one, and returns its path
// and the database URL.
func opsConfig(t *testing.T) (string, string) {
	t.Helper()
	db := pgtest.NewDatabase(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "passerelle.yaml")
	require.NoError(t, os.WriteFile(cfg, fmt.Appendf(nil, `
database: {url: %q}
connectors:
  appi-export: {kind: jsonl, path: %q}
  archive: {kind: webhook, url: "http://127.0.0.1:9/in", recipient: other}
routes:
  - name: measures-to-archive
    types: [measure]
    destination: archive
    legalBasis: {reference: "Test", purpose: "operator commands"}
    allow:
      measure: [version, measureNumber]
`, db, filepath.Join(dir, "in.jsonl")), 0o600))
	t.Setenv("DATABASE_URL", db)
	return cfg, db
}

func TestOperatorCommands(t *testing.T) {
	cfg, db := opsConfig(t)
	st, err := store.Open(t.Context(), db, store.Options{})
	require.NoError(t, err)
	defer st.Close()
	valid, err := os.ReadFile("../../schemas/examples/measure/valid/ddse-a-prendre-en-charge.json")
	require.NoError(t, err)
	compact := strings.Join(strings.Fields(string(valid)), " ")
	// Two inputs quarantined at decode: one that is still garbage, and one that a fixed
	// connector now reads (its bytes are a valid canonical message).
	res, err := st.Ingest(t.Context(), st.Pool(), store.IngestBatch{Connector: "appi-export", Rejections: []store.Rejection{
		{Stage: "decode", Reason: "not a canonical message: JSON syntax error at byte 9", Raw: []byte(`{"nom":"CANARY`), ContentType: "application/cloudevents+json"},
		{Stage: "decode", Reason: "a connector bug, since fixed", Raw: []byte(compact), ContentType: "application/cloudevents+json"},
	}})
	require.NoError(t, err)
	garbage, fixed := res.Quarantined[0], res.Quarantined[1]

	t.Run("quarantine list shows each item with its reason", func(t *testing.T) {
		r := runCLI(t, nil, "quarantine", "list", "-c", cfg)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, "JSON syntax error at byte 9")
		assert.Contains(t, r.stdout, "a connector bug, since fixed")
		assert.Contains(t, r.stdout, "appi-export")
	})
	t.Run("quarantine show gives the original bytes", func(t *testing.T) {
		r := runCLI(t, nil, "quarantine", "show", fmt.Sprint(garbage), "-c", cfg)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, `"raw": "{\"nom\":\"CANARY"`)
		r = runCLI(t, nil, "quarantine", "show", "nope", "-c", cfg)
		assert.Equal(t, 2, r.code)
	})
	t.Run("replay re-injects the bytes: the fixed one is accepted, the garbage quarantined again", func(t *testing.T) {
		t.Setenv("PASSERELLE_OPERATOR", "alice")
		r := runCLI(t, nil, "replay", fmt.Sprint(fixed), fmt.Sprint(garbage), "-c", cfg)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, fmt.Sprintf("%d: accepted", fixed))
		assert.Contains(t, r.stdout, fmt.Sprintf("%d: quarantined again (now quarantine", garbage))
		var replays int
		require.NoError(t, st.Pool().QueryRow(t.Context(), `SELECT count(*) FROM audit WHERE action = 'replay' AND actor = 'operator:alice'`).Scan(&replays))
		assert.Equal(t, 2, replays)
		r = runCLI(t, nil, "replay", fmt.Sprint(fixed), "-c", cfg)
		assert.Equal(t, 1, r.code, "an item is replayed once")
		r = runCLI(t, nil, "replay", "-c", cfg)
		assert.Equal(t, 2, r.code, "ids or --all")
	})
	t.Run("audit verify holds, then names the row altered", func(t *testing.T) {
		r := runCLI(t, nil, "audit", "verify", "-c", cfg)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, "audit chain holds")
		_, err := st.Pool().Exec(t.Context(), `UPDATE audit SET outcome = 'forged' WHERE seq = 2`)
		require.NoError(t, err)
		r = runCLI(t, nil, "audit", "verify", "-c", cfg)
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.err.Error(), "broken at row 2")
	})
}
