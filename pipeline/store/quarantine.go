package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// QuarantineItem is a quarantined input as operators see it.
type QuarantineItem struct {
	ID            int64
	Stage         string
	Connector     string
	Route         string
	Destination   string
	MessageID     uuid.UUID
	FactSystem    string
	FactRef       string
	FactVersion   int64
	Reason        string
	Violations    []Violation
	Raw           []byte
	ContentType   string
	Attempts      int
	FirstFailedAt time.Time
	LastFailedAt  time.Time
	Status        string
	ReplayCount   int
	ReplayedAt    *time.Time
}

// QuarantineFilter selects quarantine items.
type QuarantineFilter struct {
	Status    string // "open" (default), "replayed" or "all"
	Stage     string
	Connector string
	Reason    string // substring
	Limit     int    // default 100
}

const quarantineColumns = `id, stage, connector, coalesce(route,''), coalesce(destination,''), message_id,
	coalesce(fact_system,''), coalesce(fact_ref,''), coalesce(fact_version,0), reason, violations, raw, content_type,
	attempts, first_failed_at, last_failed_at, status, replay_count, replayed_at`

func scanQuarantine(row pgx.Row) (QuarantineItem, error) {
	var q QuarantineItem
	var mid *uuid.UUID
	var viol []byte
	err := row.Scan(&q.ID, &q.Stage, &q.Connector, &q.Route, &q.Destination, &mid, &q.FactSystem, &q.FactRef,
		&q.FactVersion, &q.Reason, &viol, &q.Raw, &q.ContentType, &q.Attempts, &q.FirstFailedAt, &q.LastFailedAt,
		&q.Status, &q.ReplayCount, &q.ReplayedAt)
	if err != nil {
		return q, err
	}
	if mid != nil {
		q.MessageID = *mid
	}
	if len(viol) > 0 {
		if err := json.Unmarshal(viol, &q.Violations); err != nil {
			return q, err
		}
	}
	return q, nil
}

// ListQuarantine returns items matching f, newest first.
func (s *Store) ListQuarantine(ctx context.Context, f QuarantineFilter) ([]QuarantineItem, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	status := f.Status
	if status == "" {
		status = "open"
	}
	rows, err := s.pool.Query(ctx, `SELECT `+quarantineColumns+` FROM quarantine
		WHERE ($1 = 'all' OR status = $1) AND ($2 = '' OR stage = $2) AND ($3 = '' OR connector = $3)
		AND ($4 = '' OR strpos(reason, $4) > 0) ORDER BY id DESC LIMIT $5`, status, f.Stage, f.Connector, f.Reason, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("store: quarantine list: %w", err)
	}
	defer rows.Close()
	var out []QuarantineItem
	for rows.Next() {
		q, err := scanQuarantine(rows)
		if err != nil {
			return nil, fmt.Errorf("store: quarantine list: %w", err)
		}
		out = append(out, q)
	}
	return out, rows.Err()
}

// QuarantineByID returns one item.
func (s *Store) QuarantineByID(ctx context.Context, id int64) (QuarantineItem, error) {
	q, err := scanQuarantine(s.pool.QueryRow(ctx, `SELECT `+quarantineColumns+` FROM quarantine WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return q, fmt.Errorf("store: quarantine %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return q, fmt.Errorf("store: quarantine %d: %w", id, err)
	}
	return q, nil
}

// ReplayDelivery re-opens a delivery that was quarantined: the delivery goes back to
// pending and the message back to the relay, which publishes it again; the consumer of
// that destination delivers it (the others find their outcome recorded and skip it).
// The quarantine item is marked replayed and the act audited, in one transaction.
//
// A message quarantined at stage publish (the broker refused it) goes back to every
// destination it was pending for.
func (s *Store) ReplayDelivery(ctx context.Context, q QuarantineItem, actor string) error {
	if q.Stage != "deliver" && q.Stage != "publish" {
		return fmt.Errorf("store: quarantine %d is at stage %s, not deliver or publish", q.ID, q.Stage)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE deliveries SET status = 'pending', updated_at = now()
			WHERE message_id = $1 AND ($2 = '' OR destination = $2) AND status = 'quarantined'`, q.MessageID, q.Destination)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("delivery of quarantine %d is no longer quarantined", q.ID)
		}
		if _, err := tx.Exec(ctx, `UPDATE outbox_state s SET published_at = NULL
			FROM outbox o WHERE o.id = $1 AND s.seq = o.seq`, q.MessageID); err != nil {
			return err
		}
		return s.markReplayed(ctx, tx, q, actor)
	})
	if err != nil {
		return fmt.Errorf("store: replay %d: %w", q.ID, err)
	}
	return nil
}

// MarkReplayed marks a source-side item replayed (its bytes were re-injected through
// ingest by the caller) and audits it.
func (s *Store) MarkReplayed(ctx context.Context, q QuarantineItem, actor string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return s.markReplayed(ctx, tx, q, actor) })
	if err != nil {
		return fmt.Errorf("store: replay %d: %w", q.ID, err)
	}
	return nil
}

func (s *Store) markReplayed(ctx context.Context, tx pgx.Tx, q QuarantineItem, actor string) error {
	if _, err := tx.Exec(ctx, `UPDATE quarantine SET status = 'replayed', replay_count = replay_count + 1, replayed_at = now()
		WHERE id = $1`, q.ID); err != nil {
		return err
	}
	return s.appendAudit(ctx, tx, []AuditEntry{{Actor: actor, Action: "replay", MessageID: q.MessageID,
		Route: q.Route, Destination: q.Destination, Outcome: "replayed", Reference: fmt.Sprintf("quarantine:%d stage:%s", q.ID, q.Stage)}})
}
