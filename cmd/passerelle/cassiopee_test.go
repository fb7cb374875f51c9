package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/internal/pgtest"
	"passerelle/pipeline/store"
)

// importConfig writes a configuration with the route cassiopee → PRISME (PRISME is
// not running: the import only records; serve delivers).
func importConfig(t *testing.T) (cfg, db string) {
	t.Helper()
	db = pgtest.NewDatabase(t)
	cfg = filepath.Join(t.TempDir(), "passerelle.yaml")
	require.NoError(t, os.WriteFile(cfg, fmt.Appendf(nil, `
database: {url: %q}
connectors:
  prisme: {url: "http://127.0.0.1:9", clientId: passerelle, clientSecret: {env: PRISME_CLIENT_SECRET}}
routes:
  - name: cassiopee-to-prisme
    types: [judgment]
    destination: prisme
    legalBasis: {reference: "CPP art. 48-1", purpose: "import test"}
    allow:
      judgment:
        - transmissionNumber
        - court.code
        - court.label
        - prosecutionNumber
        - decisionDate
        - nature
        - person.lastName
        - person.firstNames
        - person.birthDate
        - offences[].natinf
        - offences[].label
        - sentences[].kind
`, db), 0o600))
	t.Setenv("DATABASE_URL", db)
	t.Setenv("PRISME_CLIENT_SECRET", "test-secret")
	return cfg, db
}

func TestCassiopeeImport(t *testing.T) {
	cfg, db := importConfig(t)
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "..", "connectors", "cassiopee", "testdata", "contract", name+".json"))
		require.NoError(t, err)
		return b
	}
	ferme, probation := read("ferme-mandat-depot"), read("sursis-probatoire") // ferme is transmission 2
	dir := t.TempDir()
	write := func(name string, b []byte) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o600))
	}
	write("01-ferme.json", ferme)
	write("02-probation.json", probation)
	write("03-ferme-copy.json", ferme)
	write("lot2/04-ferme-transmission-1.json", bytes.Replace(ferme, []byte(`"numeroTransmission": 2`), []byte(`"numeroTransmission": 1`), 1))
	write("lot2/05-bad-date.json", bytes.Replace(probation, []byte(`"14/03/2024"`), []byte(`"31/02/2024"`), 1))
	write("notes.txt", []byte("not a decision"))

	r := runCLI(t, nil, "cassiopee", "import", dir, "-c", cfg, "--workers", "1")
	require.Equal(t, 1, r.code, "a rejected file makes the import fail: %v %s", r.err, r.stderr)
	require.NotEmpty(t, r.stdout, "%v", r.err)
	assert.Contains(t, r.stdout, "files:      5\n")
	assert.Contains(t, r.stdout, "accepted:   2 (2 judgments)\n")
	assert.Contains(t, r.stdout, "duplicates: 1\n")
	assert.Contains(t, r.stdout, "stale:      1\n")
	assert.Contains(t, r.stdout, "rejected:   1\n")
	assert.Contains(t, r.stdout, "rejected lot2/05-bad-date.json: /decision/dateDecision: calendar-date")
	assert.NotContains(t, r.stdout, "31/02/2024", "the summary names pointers and rules, never values")
	assert.Contains(t, r.stderr, "5/5 files", "progress on stderr")

	t.Run("what was accepted waits for PRISME, with its receipts; the refusal is audited", func(t *testing.T) {
		st, err := store.Open(t.Context(), db, store.Options{})
		require.NoError(t, err)
		defer st.Close()
		count := func(sql string) int {
			var n int
			require.NoError(t, st.Pool().QueryRow(t.Context(), sql).Scan(&n))
			return n
		}
		assert.Equal(t, 3, count(`SELECT count(*) FROM receipts`), "two accepted files and the stale one")
		assert.Equal(t, 2, count(`SELECT count(*) FROM deliveries WHERE destination = 'prisme' AND status = 'pending'`))
		assert.Equal(t, 1, count(`SELECT count(*) FROM receipt_messages WHERE outcome = 'stale'`))
		assert.Equal(t, 1, count(`SELECT count(*) FROM audit WHERE action = 'refuse' AND reference LIKE 'import rules: /decision/dateDecision: calendar-date%'`))
	})
	t.Run("importing the folder again changes nothing: every file is a repeat, with its receipt", func(t *testing.T) {
		again := runCLI(t, nil, "cassiopee", "import", dir, "-c", cfg)
		assert.Contains(t, again.stdout, "accepted:   0 (0 judgments)\n")
		assert.Contains(t, again.stdout, "duplicates: 4\n", "the stale file too: the same transmission again")
		assert.Contains(t, again.stdout, "rejected:   1\n")
	})
	t.Run("an empty folder is an error", func(t *testing.T) {
		empty := runCLI(t, nil, "cassiopee", "import", t.TempDir(), "-c", cfg)
		assert.Equal(t, 1, empty.code)
		require.Error(t, empty.err)
		assert.Contains(t, empty.err.Error(), "no .json file")
	})
}
