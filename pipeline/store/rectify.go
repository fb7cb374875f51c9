package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// FactMessage is what the outbox says of one accepted message: enough to make a new
// version of its fact (an operator's rectification).
type FactMessage struct {
	ID          uuid.UUID
	Type        string
	Subject     string
	Source      string
	DataSchema  string
	Connector   string
	FactSystem  string
	FactRef     string
	FactVersion int64
	EventTime   time.Time
	Data        []byte // nil once retention purged it
}

const factMessageColumns = `o.id, o.type, o.subject, o.source, o.dataschema, o.connector, o.fact_system, o.fact_ref, o.fact_version, o.event_time, o.data`

func scanFactMessage(row pgx.Row, what string) (FactMessage, error) {
	var f FactMessage
	err := row.Scan(&f.ID, &f.Type, &f.Subject, &f.Source, &f.DataSchema, &f.Connector, &f.FactSystem, &f.FactRef, &f.FactVersion, &f.EventTime, &f.Data)
	if errors.Is(err, pgx.ErrNoRows) {
		return f, fmt.Errorf("store: %s: %w", what, ErrNotFound)
	}
	if err != nil {
		return f, fmt.Errorf("store: %s: %w", what, err)
	}
	return f, nil
}

// MessageOf returns an accepted message's outbox record.
func (s *Store) MessageOf(ctx context.Context, id uuid.UUID) (FactMessage, error) {
	return scanFactMessage(s.pool.QueryRow(ctx, `SELECT `+factMessageColumns+` FROM outbox o WHERE o.id = $1`, id), "message "+id.String())
}

// CurrentOf returns the record of the newest version the hub accepted of a fact.
func (s *Store) CurrentOf(ctx context.Context, system, ref string) (FactMessage, error) {
	return scanFactMessage(s.pool.QueryRow(ctx, `SELECT `+factMessageColumns+` FROM dedup l JOIN outbox o ON o.id = l.message_id
		WHERE l.fact_system = $1 AND l.fact_ref = $2`, system, ref), "fact "+system+":"+ref)
}

// RecipientsOf returns each destination that acknowledged a version of a fact, with
// the newest version it acknowledged: the recipients a rectification is owed to.
func (s *Store) RecipientsOf(ctx context.Context, system, ref string) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT destination, max(fact_version) FROM deliveries
		WHERE fact_system = $1 AND fact_ref = $2 AND status = $3 GROUP BY destination`, system, ref, StatusDelivered)
	if err != nil {
		return nil, fmt.Errorf("store: recipients of %s:%s: %w", system, ref, err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var d string
		var v int64
		if err := rows.Scan(&d, &v); err != nil {
			return nil, fmt.Errorf("store: recipients of %s:%s: %w", system, ref, err)
		}
		out[d] = v
	}
	return out, rows.Err()
}

// RecordRectification runs ingest on db (a savepoint of one transaction) and appends
// entry, the operator's act, to the audit in the same transaction: the corrected
// version and the record of who rectified it commit together. entry is called after
// ingest, so that it may name what ingest decided.
func (s *Store) RecordRectification(ctx context.Context, ingest func(ctx context.Context, db Beginner) error, entry func() AuditEntry) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := ingest(ctx, txBeginner{tx}); err != nil {
			return err
		}
		e := entry()
		if e.LegalBasis == "" {
			e.LegalBasis = LegalBasisRectification
		}
		return s.appendAudit(ctx, tx, []AuditEntry{e})
	})
	if err != nil {
		return fmt.Errorf("store: rectification: %w", err)
	}
	return nil
}
