package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// legalBasisRetention is the legal basis the audit gives retention runs.
const legalBasisRetention = "Directive (UE) 2016/680, art. 5 — délais de conservation"

// Retention says how long the hub keeps what it moved. Payloads are kept only as long
// as needed to deliver and to prove delivery; the audit's references for the legal
// period (DOMAIN.md, "Data protection").
type Retention struct {
	// Payloads is how long the bytes of a settled message whose every delivery was
	// delivered (or superseded) stay in the outbox, with the destinations' receipts
	// (purged with the message's bytes), and how long the bytes of replayed
	// quarantine items stay.
	Payloads time.Duration
	// Quarantine is how long the bytes of an open quarantine item, and of a message
	// with a quarantined delivery, stay (so that an operator can still replay it).
	Quarantine time.Duration
	// Audit is how long audit rows stay, and with them the rows of outbox, deliveries
	// and quarantine, which hold references only once their bytes are purged. The
	// database refuses to cut audit rows younger than 180 days.
	Audit time.Duration
}

// RetentionReport counts what a run purged (or would purge, for a dry run).
type RetentionReport struct {
	DryRun bool
	// Skipped is true when another run held the retention lock: nothing was done.
	Skipped bool
	// OutboxPayloads: bytes of delivered messages purged.
	OutboxPayloads int64
	// QuarantinedPayloads: bytes of messages with a quarantined delivery purged.
	QuarantinedPayloads int64
	// Receipts: delivery receipts purged (the audit keeps their reference).
	Receipts int64
	// QuarantineBytes: raw bytes of quarantine items purged.
	QuarantineBytes int64
	// AuditRows: audit rows cut after the legal period, the chain anchored first.
	AuditRows int64
	// Messages and QuarantineRows: rows deleted after the legal period.
	Messages       int64
	Deliveries     int64
	QuarantineRows int64
}

// Reference is the report as the audit records it: counts, never data.
func (r RetentionReport) Reference() string {
	return fmt.Sprintf("outbox:%d quarantined-outbox:%d receipts:%d quarantine-bytes:%d audit:%d messages:%d deliveries:%d quarantine-rows:%d",
		r.OutboxPayloads, r.QuarantinedPayloads, r.Receipts, r.QuarantineBytes, r.AuditRows, r.Messages, r.Deliveries, r.QuarantineRows)
}

// lockRetention is held by a retention run, so that the hub processes that each
// schedule one (and an operator's) do not run at once ("retain" in ASCII).
const lockRetention int64 = 0x72657461696e

// errDryRun rolls a dry run's transaction back.
var errDryRun = errors.New("dry run")

// ApplyRetention purges what is older than p allows, in one transaction, and audits
// the run on behalf of actor. A dry run does the same work in a transaction it rolls
// back, so its counts are exactly what a run would have purged then, and audits that
// it looked.
func (s *Store) ApplyRetention(ctx context.Context, p Retention, actor string, dryRun bool) (RetentionReport, error) {
	rep := RetentionReport{DryRun: dryRun}
	now := s.now().UTC()
	payloads, quarantine, audit := now.Add(-p.Payloads), now.Add(-p.Quarantine), now.Add(-p.Audit)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var locked bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, lockRetention).Scan(&locked); err != nil {
			return err
		}
		if !locked {
			rep.Skipped = true
			return nil
		}
		// Payloads, and with them their deliveries' receipts (found by message, the
		// deliveries' primary key) and their outbox state rows (a purged message is
		// settled for good: nothing can publish it again).
		for _, st := range []struct {
			n      *int64
			cutoff time.Time
			sql    string
		}{
			{&rep.OutboxPayloads, payloads, `UPDATE outbox SET data = NULL FROM (SELECT s.seq FROM outbox_state s JOIN outbox o ON o.seq = s.seq
				WHERE o.accepted_at < $1 AND o.data IS NOT NULL
				AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = o.id
					AND (d.status IN ('pending', 'quarantined') OR d.updated_at >= $1))` +
				lockStateBySeq + `) l WHERE outbox.seq = l.seq RETURNING outbox.id, outbox.seq`},
			{&rep.QuarantinedPayloads, quarantine, `UPDATE outbox SET data = NULL FROM (SELECT s.seq FROM outbox_state s JOIN outbox o ON o.seq = s.seq
				WHERE o.accepted_at < $1 AND o.data IS NOT NULL
				AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = o.id AND (d.status = 'pending' OR d.updated_at >= $1))` +
				lockStateBySeq + `) l WHERE outbox.seq = l.seq RETURNING outbox.id, outbox.seq`},
		} {
			rows, err := tx.Query(ctx, st.sql, st.cutoff)
			if err != nil {
				return err
			}
			var (
				ids  []uuid.UUID
				seqs []int64
				id   uuid.UUID
				seq  int64
			)
			if _, err := pgx.ForEachRow(rows, []any{&id, &seq}, func() error {
				ids, seqs = append(ids, id), append(seqs, seq)
				return nil
			}); err != nil {
				return err
			}
			*st.n = int64(len(ids))
			tag, err := tx.Exec(ctx, `UPDATE deliveries SET receipt = NULL WHERE message_id = ANY($1) AND receipt IS NOT NULL`, ids)
			if err != nil {
				return err
			}
			rep.Receipts += tag.RowsAffected()
			if _, err := tx.Exec(ctx, `DELETE FROM outbox_state WHERE seq = ANY($1)`, seqs); err != nil {
				return err
			}
		}
		steps := []struct {
			n    *int64
			sql  string
			args []any
		}{
			{&rep.QuarantineBytes, `UPDATE quarantine SET raw = NULL WHERE raw IS NOT NULL
				AND ((status = 'open' AND last_failed_at < $1) OR (status = 'replayed' AND coalesce(replayed_at, last_failed_at) < $2))`,
				[]any{quarantine, payloads}},
			// A message whose payload was purged is settled (its state row went with the
			// payload).
			{&rep.Deliveries, `DELETE FROM deliveries d USING outbox o WHERE d.message_id = o.id
				AND o.accepted_at < $1 AND o.data IS NULL`, []any{audit}},
			{&rep.Messages, `DELETE FROM outbox o WHERE o.accepted_at < $1 AND o.data IS NULL
				AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = o.id)`, []any{audit}},
			{&rep.QuarantineRows, `DELETE FROM quarantine WHERE raw IS NULL AND last_failed_at < $1`, []any{audit}},
		}
		for _, st := range steps {
			tag, err := tx.Exec(ctx, st.sql, st.args...)
			if err != nil {
				return err
			}
			*st.n = tag.RowsAffected()
		}
		// The tail of the audit chain, last: its anchor is recorded by the database
		// function, which holds the appends' lock until commit.
		if err := tx.QueryRow(ctx, `SELECT passerelle_cut_audit($1)`, audit).Scan(&rep.AuditRows); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		if dryRun {
			return errDryRun
		}
		return s.appendAudit(ctx, tx, []AuditEntry{{Actor: actor, Action: "retention", Outcome: "purged",
			LegalBasis: legalBasisRetention, Reference: rep.Reference()}})
	})
	if dryRun && errors.Is(err, errDryRun) && !rep.Skipped {
		err = s.Audit(ctx, AuditEntry{Actor: actor, Action: "retention", Outcome: "dry-run",
			LegalBasis: legalBasisRetention, Reference: rep.Reference()})
	}
	if err != nil {
		return rep, fmt.Errorf("store: retention: %w", err)
	}
	return rep, nil
}
