package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// AcceptedFact is the newest version of a source fact the hub accepted.
type AcceptedFact struct {
	System, Ref string
	Version     int64
}

// SourceQuarantine is an open quarantine item of a source, before any delivery
// (decode, map, validate, ingest), with the fact it was about when known.
type SourceQuarantine struct {
	ID          int64
	System, Ref string
	Version     int64
	Stage       string
	Reason      string
}

// AcceptedFacts calls fn with the newest accepted version of every fact the source
// connector brought, streaming (a national caseload holds millions).
func (s *Store) AcceptedFacts(ctx context.Context, connector string, fn func(AcceptedFact) error) error {
	rows, err := s.pool.Query(ctx, `SELECT d.fact_system, d.fact_ref, d.version FROM dedup d
		JOIN outbox o ON o.id = d.message_id WHERE o.connector = $1`, connector)
	if err != nil {
		return fmt.Errorf("store: accepted facts: %w", err)
	}
	var f AcceptedFact
	_, err = pgx.ForEachRow(rows, []any{&f.System, &f.Ref, &f.Version}, func() error { return fn(f) })
	if err != nil {
		return fmt.Errorf("store: accepted facts: %w", err)
	}
	return nil
}

// SourceQuarantines calls fn with the open quarantine items of the source connector
// at the stages before delivery.
func (s *Store) SourceQuarantines(ctx context.Context, connector string, fn func(SourceQuarantine) error) error {
	rows, err := s.pool.Query(ctx, `SELECT id, coalesce(fact_system, ''), coalesce(fact_ref, ''), coalesce(fact_version, 0),
		stage, reason FROM quarantine WHERE connector = $1 AND status = 'open' AND stage NOT IN ('deliver', 'publish')`, connector)
	if err != nil {
		return fmt.Errorf("store: source quarantines: %w", err)
	}
	var q SourceQuarantine
	_, err = pgx.ForEachRow(rows, []any{&q.ID, &q.System, &q.Ref, &q.Version, &q.Stage, &q.Reason}, func() error { return fn(q) })
	if err != nil {
		return fmt.Errorf("store: source quarantines: %w", err)
	}
	return nil
}

// Redeliver sends again to destination the delivered messages of these idempotency
// keys, which the destination no longer holds: their deliveries go back to pending and
// their outbox rows to unpublished, so that the relay publishes them again and the
// running hub's deliverer sends them with the same idempotency key. Each one is
// audited on behalf of actor. It returns how many were put back.
func (s *Store) Redeliver(ctx context.Context, destination string, keys []string, actor string) (int, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	n := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE deliveries SET status = 'pending', updated_at = now()
			WHERE destination = $1 AND idempotency_key = ANY($2) AND status = 'delivered'
			RETURNING message_id, route`, destination, keys)
		if err != nil {
			return err
		}
		var entries []AuditEntry
		var ids []uuid.UUID
		for rows.Next() {
			var e AuditEntry
			if err := rows.Scan(&e.MessageID, &e.Route); err != nil {
				rows.Close()
				return err
			}
			e.Actor, e.Action, e.Destination, e.Outcome = actor, "reconcile", destination, "redelivering"
			e.Reference = "the destination no longer held it"
			entries = append(entries, e)
			ids = append(ids, e.MessageID)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		n = len(entries)
		if n == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE outbox_state SET published_at = NULL
			FROM (SELECT s.seq FROM outbox o JOIN outbox_state s ON s.seq = o.seq WHERE o.id = ANY($1)`+lockStateBySeq+`) l
			WHERE outbox_state.seq = l.seq`, ids); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, entries)
	})
	if err != nil {
		return 0, fmt.Errorf("store: redeliver: %w", err)
	}
	return n, nil
}
