package store

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPlannerStatisticsFollowAYoungTable: a table that doubled since it was last
// analysed is analysed again, one that changed by less is not, and a second process
// finds the work taken.
func TestPlannerStatisticsFollowAYoungTable(t *testing.T) {
	s := newStore(t, Options{})
	ctx := t.Context()
	// Autovacuum's own analyses would race with the steps below.
	_, err := s.pool.Exec(ctx, `ALTER TABLE deliveries SET (autovacuum_enabled = false)`)
	require.NoError(t, err)
	analysed, err := s.RefreshPlannerStats(ctx)
	require.NoError(t, err)
	assert.Empty(t, analysed, "nothing changed yet")

	insert := func(from, to int) {
		t.Helper()
		_, err := s.pool.Exec(ctx, `INSERT INTO deliveries (message_id, destination, route, fact_system, fact_ref, fact_version, idempotency_key)
			SELECT gen_random_uuid(), 'prisme', 'r', 'APPI', 'mesure/' || g, 1, 'k' || g FROM generate_series($1::int, $2::int) g`, from, to)
		require.NoError(t, err)
	}
	// The statistics of a table are flushed at the end of each transaction; the
	// server's view of them, at the latest, a second later.
	changes := func() int64 {
		var n int64
		_, err := s.pool.Exec(ctx, `SELECT pg_stat_force_next_flush()`)
		require.NoError(t, err)
		require.NoError(t, s.pool.QueryRow(ctx, `SELECT coalesce(n_mod_since_analyze, 0) FROM pg_stat_user_tables WHERE relname = 'deliveries'`).Scan(&n))
		return n
	}
	reltuples := func() float64 {
		var n float64
		require.NoError(t, s.pool.QueryRow(ctx, `SELECT reltuples FROM pg_class WHERE relname = 'deliveries'`).Scan(&n))
		return n
	}

	insert(1, minStatsChanges-1)
	require.Equal(t, int64(minStatsChanges-1), changes())
	analysed, err = s.RefreshPlannerStats(ctx)
	require.NoError(t, err)
	assert.Empty(t, analysed, "fewer changes than the minimum")

	insert(minStatsChanges, 3*minStatsChanges)
	changes()
	analysed, err = s.RefreshPlannerStats(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"deliveries"}, analysed)
	assert.Equal(t, float64(3*minStatsChanges), reltuples(), "the planner now knows the table's size")
	assert.Zero(t, changes())

	insert(3*minStatsChanges+1, 5*minStatsChanges)
	changes()
	analysed, err = s.RefreshPlannerStats(ctx)
	require.NoError(t, err)
	assert.Empty(t, analysed, "grown by two thirds: not yet doubled")

	// Another process at it: this one skips.
	insert(5*minStatsChanges+1, 9*minStatsChanges)
	changes()
	conn, err := s.pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, lockStats)
	require.NoError(t, err)
	analysed, err = s.RefreshPlannerStats(ctx)
	require.NoError(t, err)
	assert.Empty(t, analysed, "another process holds the lock")
	_, err = conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, lockStats)
	require.NoError(t, err)
	analysed, err = s.RefreshPlannerStats(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"deliveries"}, analysed, "doubled since the last analysis")
}
