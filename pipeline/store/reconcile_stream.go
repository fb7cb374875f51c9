package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// The kinds of FactRecord, in the order FactRecords gives a fact's records.
const (
	// RecordAccepted is the newest version of the fact the hub accepted.
	RecordAccepted = iota
	// RecordSource is a version the source holds (from ReconcileInput.Source).
	RecordSource
	// RecordDelivery is one delivery of a version of the fact to the destination:
	// pending, delivered or quarantined. A superseded one is left out: it was never
	// sent (a newer version went instead), so it says nothing of what the destination
	// holds, and in a backfill it is every other row.
	RecordDelivery
	// RecordQuarantine is an open quarantine item of the source about the fact,
	// before any delivery.
	RecordQuarantine
)

// DefaultReconcilePage is how many rows of what the source and the destination hold
// FactRecords writes to PostgreSQL at once.
const DefaultReconcilePage = 10_000

// FactRecord is one record about a fact: what the hub accepted, what the source holds,
// a delivery or a quarantine item (Kind says which, and which fields are set).
type FactRecord struct {
	Kind        int
	System, Ref string
	Version     int64
	// Status, IdempotencyKey, LastError and Held are a delivery's (RecordDelivery):
	// Held says whether the destination holds what it was delivered under the key
	// (when ReconcileInput.Held is set).
	Status         string
	IdempotencyKey string
	LastError      string
	Held           bool
	// QuarantineID, Stage and Reason are a quarantine item's (RecordQuarantine).
	QuarantineID int64
	Stage        string
	Reason       string
}

// ReconcileInput is what FactRecords compares with the hub's records.
type ReconcileInput struct {
	// Connector is the source connector, Destination the destination.
	Connector, Destination string
	// Source, when set, lists what the source holds: it calls add once for each
	// fact, in any order.
	Source func(add func(system, ref string, version int64) error) error
	// Held, when set, lists what the destination holds: it calls add once for each
	// idempotency key, in any order.
	Held func(add func(key string) error) error
	// PageSize is how many of Source's and Held's rows are written to PostgreSQL at
	// once. Default DefaultReconcilePage.
	PageSize int
}

// FactRecords calls fn with every record the hub, the source and the destination hold
// about the facts of in.Connector, ordered by fact (system, then reference, compared
// as bytes) and, for each fact, by kind (accepted, source, deliveries by version,
// quarantine items by id). Its memory does not grow with the number of facts: what
// Source and Held list goes, a page at a time, into temporary tables of one session,
// and PostgreSQL merges them with the hub's records in one ordered query that is read
// as it comes. A national caseload holds millions of facts.
func (s *Store) FactRecords(ctx context.Context, in ReconcileInput, fn func(FactRecord) error) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("store: fact records: %w", err)
	}
	defer conn.Release()
	c := conn.Conn()
	if _, err := c.Exec(ctx, `CREATE TEMP TABLE reconcile_source (fact_system text NOT NULL, fact_ref text NOT NULL, version bigint NOT NULL);
		CREATE TEMP TABLE reconcile_held (idempotency_key text NOT NULL)`); err != nil {
		return fmt.Errorf("store: fact records: %w", err)
	}
	defer func() {
		// The session goes back to the pool: its temporary tables must not stay.
		if _, err := c.Exec(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS pg_temp.reconcile_source, pg_temp.reconcile_held`); err != nil {
			_ = c.Close(context.WithoutCancel(ctx))
		}
	}()
	page := in.PageSize
	if page <= 0 {
		page = DefaultReconcilePage
	}
	if in.Source != nil {
		sp := newSpool(c, "reconcile_source", []string{"fact_system", "fact_ref", "version"}, page)
		if err := in.Source(func(system, ref string, version int64) error {
			return sp.add(ctx, system, ref, version)
		}); err != nil {
			return err
		}
		if err := sp.flush(ctx); err != nil {
			return fmt.Errorf("store: fact records: the source's facts: %w", err)
		}
	}
	if in.Held != nil {
		sp := newSpool(c, "reconcile_held", []string{"idempotency_key"}, page)
		if err := in.Held(func(key string) error { return sp.add(ctx, key) }); err != nil {
			return err
		}
		if err := sp.flush(ctx); err != nil {
			return fmt.Errorf("store: fact records: the destination's holdings: %w", err)
		}
	}
	// Temporary tables are not analysed by autovacuum: without statistics the planner
	// would take them for small.
	if _, err := c.Exec(ctx, `ANALYZE pg_temp.reconcile_source; ANALYZE pg_temp.reconcile_held`); err != nil {
		return fmt.Errorf("store: fact records: %w", err)
	}
	// A join, not EXISTS in the select list (a subquery run for each delivery): the
	// keys held are hashed once, spilling to disk beyond work_mem.
	held, heldJoin := `false`, ``
	if in.Held != nil {
		held = `h.idempotency_key IS NOT NULL`
		heldJoin = ` LEFT JOIN (SELECT DISTINCT idempotency_key FROM pg_temp.reconcile_held) h ON h.idempotency_key = d.idempotency_key`
	}
	// The query reads every record of the connector once, sorted: JIT compiling it
	// (on by default past jit_above_cost) took 0.23 s of 8 at 2,000,000 deliveries and
	// gained nothing. The session goes back to the pool: the setting is its
	// transaction's.
	tx, err := c.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: fact records: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
		return fmt.Errorf("store: fact records: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT kind, fact_system, fact_ref, version, status, idempotency_key, last_error, held,
			quarantine_id, stage, reason FROM (
		SELECT 0 AS kind, d.fact_system, d.fact_ref, d.version, '' AS status, '' AS idempotency_key, '' AS last_error,
			false AS held, 0::bigint AS quarantine_id, '' AS stage, '' AS reason
			FROM dedup d JOIN outbox o ON o.id = d.message_id WHERE o.connector = $1
		UNION ALL
		SELECT 1, fact_system, fact_ref, version, '', '', '', false, 0, '', '' FROM pg_temp.reconcile_source
		UNION ALL
		SELECT 2, d.fact_system, d.fact_ref, d.fact_version, d.status, d.idempotency_key, coalesce(d.last_error, ''),
			`+held+`, 0, '', ''
			FROM deliveries d JOIN outbox o ON o.id = d.message_id`+heldJoin+`
			WHERE d.destination = $2 AND o.connector = $1 AND d.status <> 'superseded'
		UNION ALL
		SELECT 3, coalesce(q.fact_system, ''), q.fact_ref, coalesce(q.fact_version, 0), '', '', '', false, q.id, q.stage, q.reason
			FROM quarantine q WHERE q.connector = $1 AND q.status = 'open' AND q.stage NOT IN ('deliver', 'publish')
			AND q.fact_ref IS NOT NULL AND q.fact_ref <> ''
	) r ORDER BY fact_system COLLATE "C", fact_ref COLLATE "C", kind, version, quarantine_id`, in.Connector, in.Destination)
	if err != nil {
		return fmt.Errorf("store: fact records: %w", err)
	}
	var r FactRecord
	_, err = pgx.ForEachRow(rows, []any{&r.Kind, &r.System, &r.Ref, &r.Version, &r.Status, &r.IdempotencyKey,
		&r.LastError, &r.Held, &r.QuarantineID, &r.Stage, &r.Reason}, func() error { return fn(r) })
	if err != nil {
		return fmt.Errorf("store: fact records: %w", err)
	}
	return nil
}

// spool writes rows into a temporary table by COPY, a page at a time.
type spool struct {
	conn    *pgx.Conn
	table   string
	columns []string
	page    int
	rows    [][]any
}

func newSpool(conn *pgx.Conn, table string, columns []string, page int) *spool {
	return &spool{conn: conn, table: table, columns: columns, page: page, rows: make([][]any, 0, page)}
}

func (s *spool) add(ctx context.Context, values ...any) error {
	s.rows = append(s.rows, values)
	if len(s.rows) < s.page {
		return nil
	}
	return s.flush(ctx)
}

func (s *spool) flush(ctx context.Context) error {
	if len(s.rows) == 0 {
		return nil
	}
	if _, err := s.conn.CopyFrom(ctx, pgx.Identifier{s.table}, s.columns, pgx.CopyFromRows(s.rows)); err != nil {
		return err
	}
	clear(s.rows)
	s.rows = s.rows[:0]
	return nil
}
