package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// The deliverers and the relay find their rows through partial indexes on a status
// (deliveries pending, outbox rows unpublished). How many rows such an index holds is
// something the planner knows only from the table's statistics, and a young table has
// none: PostgreSQL then takes any status to be rare, and a pending index to be tiny.
// In a backfill on a new hub that made it look up each outcome by scanning every
// pending delivery of the destination (seen with auto_explain: 800 ms for one read of
// 250 states, 200 ms for one outcome update), until autovacuum, which visits a
// database once a minute and waits for a tenth of the table to change, analysed it.
// RefreshPlannerStats analyses the tables that at least doubled since they were last
// analysed: a few times while a table is young, almost never after.

// plannerTables are the tables whose plans depend on their statistics.
var plannerTables = []string{"deliveries", "outbox_state", "dedup", "identities"}

// minStatsChanges is how many rows must have changed before a table is analysed
// again, however small it is.
const minStatsChanges = 10000

// lockStats is held while statistics are refreshed, so that the hub processes that
// each schedule it do not analyse the same tables at once.
const lockStats int64 = 0x7374617473

// RefreshPlannerStats analyses, in this database, each of the spine's tables whose
// rows changed (inserted, updated or deleted) since its last analysis at least as many
// times as it had rows then, and at least minStatsChanges times. It returns the
// tables it analysed; none when another process is already at it.
func (s *Store) RefreshPlannerStats(ctx context.Context) ([]string, error) {
	var analysed []string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var locked bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, lockStats).Scan(&locked); err != nil {
			return err
		}
		if !locked {
			return nil
		}
		rows, err := tx.Query(ctx, `SELECT t.relname FROM pg_stat_user_tables t JOIN pg_class c ON c.oid = t.relid
			WHERE t.schemaname = current_schema() AND t.relname = ANY($1)
			AND t.n_mod_since_analyze >= greatest($2, c.reltuples) ORDER BY t.relname`, plannerTables, minStatsChanges)
		if err != nil {
			return err
		}
		due, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, table := range due {
			if _, err := tx.Exec(ctx, `ANALYZE `+pgx.Identifier{table}.Sanitize()); err != nil {
				return fmt.Errorf("analyze %s: %w", table, err)
			}
			analysed = append(analysed, table)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: planner statistics: %w", err)
	}
	return analysed, nil
}
