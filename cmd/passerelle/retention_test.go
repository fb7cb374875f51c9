package main

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/pipeline/store"
)

func TestRetentionCommand(t *testing.T) {
	cfg, db := opsConfig(t)
	st, err := store.Open(t.Context(), db, store.Options{})
	require.NoError(t, err)
	defer st.Close()
	_, m := seedPerson(t, st)
	// Accepted and delivered 31 days ago.
	_, err = st.Pool().Exec(t.Context(), `UPDATE outbox SET accepted_at = now() - interval '31 days'`)
	require.NoError(t, err)
	_, err = st.Pool().Exec(t.Context(), `UPDATE deliveries SET updated_at = now() - interval '31 days'`)
	require.NoError(t, err)
	t.Setenv("PASSERELLE_OPERATOR", "alice")

	r := runCLI(t, nil, "retention", "run", "--dry-run", "-c", cfg)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "retention would purge (payloads 720h0m0s")
	assert.Contains(t, r.stdout, "       1 payloads of delivered messages")
	got, err := st.Message(t.Context(), uuid.MustParse(m.ID))
	require.NoError(t, err)
	assert.NotEmpty(t, got.Data, "a dry run purges nothing")

	r = runCLI(t, nil, "retention", "run", "-c", cfg)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "retention purged")
	got, err = st.Message(t.Context(), uuid.MustParse(m.ID))
	require.NoError(t, err)
	assert.Empty(t, got.Data)
	var n int
	require.NoError(t, st.Pool().QueryRow(t.Context(), `SELECT count(*) FROM audit WHERE action = 'retention' AND actor = 'operator:alice'`).Scan(&n))
	assert.Equal(t, 2, n, "the dry run and the run are audited")
	r = runCLI(t, nil, "audit", "verify", "-c", cfg)
	assert.Equal(t, 0, r.code, r.stderr)
}
