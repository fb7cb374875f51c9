package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"passerelle/canonical"
)

// OutboxMessage is an outbox row as the relay reads it.
type OutboxMessage struct {
	Seq     int64
	Message *canonical.Message
}

const outboxColumns = `seq, id, type, subject, source, dataschema, fact_system, fact_ref, fact_version, event_time, data`

// outboxColumnsOf is outboxColumns of the outbox row aliased o.
const outboxColumnsOf = `o.seq, o.id, o.type, o.subject, o.source, o.dataschema, o.fact_system, o.fact_ref, o.fact_version, o.event_time, o.data`

func scanOutbox(rows pgx.Rows) ([]OutboxMessage, error) {
	defer rows.Close()
	var out []OutboxMessage
	for rows.Next() {
		var om OutboxMessage
		var id uuid.UUID
		var data []byte
		m := &canonical.Message{SpecVersion: "1.0", DataContentType: "application/json"}
		if err := rows.Scan(&om.Seq, &id, &m.Type, &m.Subject, &m.Source, &m.DataSchema, &m.FactSystem, &m.FactRef,
			&m.FactVersion, &m.Time, &data); err != nil {
			return nil, err
		}
		m.ID = id.String()
		m.Time = m.Time.UTC() // pgx gives the process's zone; outboxMessage gives UTC
		m.Data = json.RawMessage(data)
		om.Message = m
		out = append(out, om)
	}
	return out, rows.Err()
}

// Unpublished returns up to limit outbox rows after seq after that the broker has not
// acknowledged yet, in acceptance order. PostgreSQL says which
// (outbox_state_unpublished); the messages this process committed come from its
// outboxCache, the others from the outbox.
//
// The index keeps an entry for every published row until a vacuum removes it, all
// before the first unpublished one: a scan from 0 walks them all. The relay reads from
// its cursor instead (pipeline's outboxCursor), and from 0 only now and then.
func (s *Store) Unpublished(ctx context.Context, after int64, limit int) ([]OutboxMessage, error) {
	// A state row goes with its payload (retention), so an unpublished row has one.
	rows, err := s.pool.Query(ctx, `SELECT seq FROM outbox_state WHERE published_at IS NULL AND seq > $1
		ORDER BY seq LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: unpublished: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OutboxMessage, error) {
		var om OutboxMessage
		return om, r.Scan(&om.Seq)
	})
	if err != nil {
		return nil, fmt.Errorf("store: unpublished: %w", err)
	}
	missing := s.recent.fill(out)
	if len(missing) == 0 {
		return out, nil
	}
	rows, err = s.pool.Query(ctx, `SELECT `+outboxColumns+` FROM outbox WHERE seq = ANY($1) AND data IS NOT NULL`, missing)
	if err != nil {
		return nil, fmt.Errorf("store: unpublished: %w", err)
	}
	read, err := scanOutbox(rows)
	if err != nil {
		return nil, fmt.Errorf("store: unpublished: %w", err)
	}
	bySeq := make(map[int64]*canonical.Message, len(read))
	for _, om := range read {
		bySeq[om.Seq] = om.Message
	}
	// A row purged meanwhile is left out.
	kept := out[:0]
	for _, om := range out {
		if om.Message == nil {
			om.Message = bySeq[om.Seq]
		}
		if om.Message != nil {
			kept = append(kept, om)
		}
	}
	return kept, nil
}

// Unsettled returns up to limit messages published more than age ago that some
// destination has still not recorded an outcome for, in acceptance order: the sweeper
// publishes them again, since a broker may have lost them. A message is unsettled while
// one of its deliveries is pending, so they are found from the pending deliveries (a
// small partial index: what is in flight), not from the outbox, which holds every
// message until retention.
func (s *Store) Unsettled(ctx context.Context, age time.Duration, limit int) ([]OutboxMessage, error) {
	rows, err := s.pool.Query(ctx, unsettledQuery, age.String(), limit)
	if err != nil {
		return nil, fmt.Errorf("store: unsettled: %w", err)
	}
	out, err := scanOutbox(rows)
	if err != nil {
		return nil, fmt.Errorf("store: unsettled: %w", err)
	}
	return out, nil
}

// unsettledQuery finds the pending deliveries first, then their messages, one probe
// each: its cost follows what is in flight, never the outbox's size. Written as a
// semi-join, PostgreSQL walked the whole outbox in seq order looking for them, as the
// LIMIT made that plan look cheap: 4.4 s a sweep on 2,000,000 rows, 3 s a sweep in
// the APPI backfill. A plain join to outbox_state then merge-joined the whole of that
// table (0.5 s); OFFSET 0 keeps its subquery apart, so each candidate is probed by its
// seq (0.2 s for 25,000 candidates, under a millisecond for none).
const unsettledQuery = `WITH stale AS MATERIALIZED (
		SELECT DISTINCT d.message_id FROM deliveries d WHERE d.status = 'pending' AND d.created_at < now() - $1::interval)
	SELECT ` + outboxColumnsOf + ` FROM stale JOIN outbox o ON o.id = stale.message_id
	JOIN LATERAL (SELECT s.published_at FROM outbox_state s WHERE s.seq = o.seq OFFSET 0) s ON true
	WHERE s.published_at < now() - $1::interval AND o.data IS NOT NULL
	ORDER BY o.seq LIMIT $2`

// lockStateBySeq is the one order in which statements touching several outbox_state
// rows lock them: by seq. The relay marks rows published while a replay or a
// reconciliation sends some of the same rows back to it, and retention purges their
// payloads; statements locking their rows in orders of their own (the seq index for
// one, the message id for another) deadlocked, as an end-to-end test saw when the
// deliverers still settled these rows. The statements select their rows through this,
// sorted, then update them.
const lockStateBySeq = ` ORDER BY s.seq FOR UPDATE OF s`

// MarkPublished records that the broker acknowledged these rows.
func (s *Store) MarkPublished(ctx context.Context, seqs []int64) error {
	if len(seqs) == 0 {
		return nil
	}
	_, err := s.pool.Exec(ctx, `UPDATE outbox_state SET published_at = now(), publish_count = publish_count + 1
		FROM (SELECT s.seq FROM outbox_state s WHERE s.seq = ANY($1)`+lockStateBySeq+`) l WHERE outbox_state.seq = l.seq`, seqs)
	if err != nil {
		return fmt.Errorf("store: mark published: %w", err)
	}
	s.recent.forget(seqs)
	return nil
}

// Message returns one outbox message by id.
func (s *Store) Message(ctx context.Context, id uuid.UUID) (*canonical.Message, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+outboxColumns+` FROM outbox WHERE id = $1`, id)
	if err != nil {
		return nil, fmt.Errorf("store: message: %w", err)
	}
	out, err := scanOutbox(rows)
	if err != nil {
		return nil, fmt.Errorf("store: message: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("store: message %s: %w", id, ErrNotFound)
	}
	return out[0].Message, nil
}

// Backlog counts what is waiting: outbox rows not yet published, messages not yet
// settled (some delivery pending), and pending deliveries.
type Backlog struct {
	Unpublished int64
	Unsettled   int64
	Pending     map[string]int64 // per destination
}

// Backlog reports the current backlog.
func (s *Store) Backlog(ctx context.Context) (Backlog, error) {
	b := Backlog{Pending: map[string]int64{}}
	if err := s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM outbox_state WHERE published_at IS NULL),
		(SELECT count(DISTINCT message_id) FROM deliveries WHERE status = 'pending')`).
		Scan(&b.Unpublished, &b.Unsettled); err != nil {
		return b, fmt.Errorf("store: backlog: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT destination, count(*) FROM deliveries WHERE status = 'pending' GROUP BY destination`)
	if err != nil {
		return b, fmt.Errorf("store: backlog: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var d string
		var n int64
		if err := rows.Scan(&d, &n); err != nil {
			return b, fmt.Errorf("store: backlog: %w", err)
		}
		b.Pending[d] = n
	}
	return b, rows.Err()
}

// QuarantineUnpublishable takes out of the outbox messages the broker refuses as such
// (too large): publishing them again can never succeed, and they must not block the
// relay. Each is quarantined (stage publish) with its pending deliveries, in one
// transaction, and audited.
func (s *Store) QuarantineUnpublishable(ctx context.Context, msgs []*canonical.Message, reason string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var entries []AuditEntry
		for _, m := range msgs {
			id, err := uuid.Parse(m.ID)
			if err != nil {
				return err
			}
			raw, err := json.Marshal(m)
			if err != nil {
				return err
			}
			var qid int64
			if err := tx.QueryRow(ctx, `INSERT INTO quarantine (stage, connector, message_id, fact_system, fact_ref, fact_version, reason, raw, content_type)
				SELECT 'publish', connector, id, fact_system, fact_ref, fact_version, $2, $3, 'application/cloudevents+json' FROM outbox WHERE id = $1
				RETURNING id`, id, reason, raw).Scan(&qid); err != nil {
				return fmt.Errorf("quarantine: %w", err)
			}
			if _, err := tx.Exec(ctx, `UPDATE deliveries SET status = 'quarantined', last_error = $2, updated_at = now()
				WHERE message_id = $1 AND status = 'pending'`, id, reason); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE outbox_state s SET published_at = now()
				FROM outbox o WHERE o.id = $1 AND s.seq = o.seq`, id); err != nil {
				return err
			}
			entries = append(entries, AuditEntry{Actor: "relay", Action: "quarantine", MessageID: id, Outcome: "quarantined",
				Reference: fmt.Sprintf("quarantine:%d stage:publish", qid)})
		}
		return s.appendAudit(ctx, tx, entries)
	})
	if err != nil {
		return fmt.Errorf("store: quarantine unpublishable: %w", err)
	}
	return nil
}
