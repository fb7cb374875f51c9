package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// legalBasisAccess is the legal basis the audit gives subject access exports.
const legalBasisAccess = "Directive (UE) 2016/680, art. 14; loi 78-17, art. 105 — droit d'accès"

// SubjectExport is everything the hub moved about one person: the person ids it knew
// her under, her identifiers in each system, every fact accepted about her with its
// source, and for each fact every destination with its outcome, dates, legal basis
// and receipt. It answers a person's access request and the CNIL.
type SubjectExport struct {
	Persons     []string            `json:"persons"`     // canonical person ids (linked ones included)
	Identifiers []SubjectIdentifier `json:"identifiers"` // each system's identifiers, the name key left out
	Facts       []SubjectFact       `json:"facts"`       // oldest first
	// ExportedAt is when the export was made (UTC).
	ExportedAt time.Time `json:"exportedAt"`
}

// SubjectIdentifier is one system's identifier of the person.
type SubjectIdentifier struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

// SubjectFact is one accepted message about the person.
type SubjectFact struct {
	MessageID   uuid.UUID  `json:"messageId"`
	Type        string     `json:"type"`
	Source      string     `json:"source"`    // CloudEvents source
	Connector   string     `json:"connector"` // the source connector instance
	FactSystem  string     `json:"factSystem"`
	FactRef     string     `json:"factRef"`
	FactVersion int64      `json:"factVersion"`
	EventTime   time.Time  `json:"eventTime"`
	AcceptedAt  time.Time  `json:"acceptedAt"`
	SettledAt   *time.Time `json:"settledAt,omitempty"`
	// PayloadPurged is true once retention purged the message's bytes.
	PayloadPurged bool `json:"payloadPurged"`
	// Data is the canonical data as accepted, when asked for and still held.
	Data        json.RawMessage     `json:"data,omitempty"`
	Deliveries  []SubjectDelivery   `json:"deliveries"`
	Quarantined []SubjectQuarantine `json:"quarantined,omitempty"`
}

// SubjectDelivery is one destination of a fact.
type SubjectDelivery struct {
	Destination string          `json:"destination"`
	Route       string          `json:"route"`
	LegalBasis  string          `json:"legalBasis"` // as audited when the outcome was recorded
	Status      string          `json:"status"`
	Attempts    int             `json:"attempts"`
	CreatedAt   time.Time       `json:"createdAt"`
	OutcomeAt   time.Time       `json:"outcomeAt"`
	ReceiptRef  string          `json:"receiptRef,omitempty"` // the destination's receipt id, from the audit
	Receipt     json.RawMessage `json:"receipt,omitempty"`    // the receipt, until retention purges it
}

// SubjectQuarantine is a quarantine item of a fact.
type SubjectQuarantine struct {
	ID          int64     `json:"id"`
	Stage       string    `json:"stage"`
	Destination string    `json:"destination,omitempty"`
	Reason      string    `json:"reason"`
	Status      string    `json:"status"`
	FailedAt    time.Time `json:"lastFailedAt"`
}

// SubjectQuery names the person: one system's identifier (System and Value, as the
// identities table holds them: ECROU "numéro@établissement", APPI, PRISME, or
// PERSON_KEY for an exact name + birth date key), or a canonical person id.
type SubjectQuery struct {
	System string
	Value  string
	Person string
	// WithData includes the canonical data the hub still holds.
	WithData bool
}

// ExportSubject gathers everything the hub moved about the person q names, and audits
// the export on behalf of actor (whether or not the person was found). It reads by
// index only (identities, outbox by subject, deliveries, audit and quarantine by
// message), so its cost follows the person's facts, not the store's size. A person
// not found gives an export without persons.
func (s *Store) ExportSubject(ctx context.Context, q SubjectQuery, actor string) (*SubjectExport, error) {
	exp := &SubjectExport{ExportedAt: s.now().UTC().Truncate(time.Second), Identifiers: []SubjectIdentifier{}, Facts: []SubjectFact{}, Persons: []string{}}
	person := q.Person
	if person == "" {
		err := s.pool.QueryRow(ctx, `SELECT person_id FROM identities WHERE system = $1 AND identifier = $2`, q.System, q.Value).Scan(&person)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("store: subject export: %w", err)
		}
	}
	outcome, ref := "not-found", "query:"+q.System
	if q.Person != "" {
		ref = "query:person"
	}
	if person != "" {
		persons, err := s.LinkedPersons(ctx, person)
		if err != nil {
			return nil, err
		}
		exp.Persons = persons
		if err := s.subjectFacts(ctx, exp, q.WithData); err != nil {
			return nil, fmt.Errorf("store: subject export: %w", err)
		}
		if len(exp.Facts) > 0 || len(exp.Identifiers) > 0 {
			outcome, ref = "exported", "persons:"+strings.Join(persons, ",")
		} else {
			exp.Persons = []string{} // a person id the hub never knew
		}
	}
	if err := s.Audit(ctx, AuditEntry{Actor: actor, Action: "subject-export", Outcome: outcome,
		LegalBasis: legalBasisAccess, Reference: ref}); err != nil {
		return nil, fmt.Errorf("store: subject export: audit: %w", err)
	}
	return exp, nil
}

func (s *Store) subjectFacts(ctx context.Context, exp *SubjectExport, withData bool) error {
	rows, err := s.pool.Query(ctx, `SELECT system, identifier FROM identities WHERE person_id = ANY($1) AND system <> $2
		ORDER BY system, identifier`, exp.Persons, NameKeySystem)
	if err != nil {
		return err
	}
	exp.Identifiers, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (SubjectIdentifier, error) {
		var id SubjectIdentifier
		return id, r.Scan(&id.System, &id.Value)
	})
	if err != nil {
		return err
	}
	// A fact is settled when none of its deliveries is pending any more, at its last
	// outcome (at its acceptance when no route carries it).
	rows, err = s.pool.Query(ctx, `SELECT o.id, o.type, o.source, o.connector, o.fact_system, o.fact_ref, o.fact_version, o.event_time,
		o.accepted_at, CASE WHEN NOT d.pending THEN greatest(o.accepted_at, d.last) END, o.data IS NULL, CASE WHEN $2 THEN o.data END
		FROM outbox o CROSS JOIN LATERAL (SELECT coalesce(bool_or(x.status = 'pending'), false) AS pending, max(x.updated_at) AS last
			FROM deliveries x WHERE x.message_id = o.id) d
		WHERE o.subject = ANY($1) ORDER BY o.accepted_at, o.seq`, exp.Persons, withData)
	if err != nil {
		return err
	}
	exp.Facts, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (SubjectFact, error) {
		var f SubjectFact
		var data []byte
		err := r.Scan(&f.MessageID, &f.Type, &f.Source, &f.Connector, &f.FactSystem, &f.FactRef, &f.FactVersion, &f.EventTime,
			&f.AcceptedAt, &f.SettledAt, &f.PayloadPurged, &data)
		if len(data) > 0 {
			f.Data = json.RawMessage(data)
		}
		f.Deliveries = []SubjectDelivery{}
		return f, err
	})
	if err != nil {
		return err
	}
	if len(exp.Facts) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(exp.Facts))
	index := make(map[uuid.UUID]int, len(exp.Facts))
	for i, f := range exp.Facts {
		ids[i], index[f.MessageID] = f.MessageID, i
	}
	// Each delivery with the legal basis and receipt reference its outcome was audited
	// with (the newest outcome, after a replay).
	rows, err = s.pool.Query(ctx, `SELECT d.message_id, d.destination, d.route, d.status, d.attempts, d.created_at, d.updated_at, d.receipt,
		coalesce(a.legal_basis, ''), coalesce(a.reference, '')
		FROM deliveries d
		LEFT JOIN LATERAL (SELECT legal_basis, CASE WHEN action = 'deliver' THEN reference END AS reference FROM audit
			WHERE audit.message_id = d.message_id AND audit.destination = d.destination
			AND audit.action IN ('deliver', 'supersede', 'quarantine') ORDER BY seq DESC LIMIT 1) a ON true
		WHERE d.message_id = ANY($1) ORDER BY d.message_id, d.destination`, ids)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var d SubjectDelivery
		var receipt []byte
		if err := rows.Scan(&id, &d.Destination, &d.Route, &d.Status, &d.Attempts, &d.CreatedAt, &d.OutcomeAt, &receipt,
			&d.LegalBasis, &d.ReceiptRef); err != nil {
			return err
		}
		if len(receipt) > 0 {
			d.Receipt = json.RawMessage(receipt)
		}
		f := &exp.Facts[index[id]]
		f.Deliveries = append(f.Deliveries, d)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()
	qrows, err := s.pool.Query(ctx, `SELECT message_id, id, stage, coalesce(destination, ''), reason, status, last_failed_at
		FROM quarantine WHERE message_id = ANY($1) ORDER BY id`, ids)
	if err != nil {
		return err
	}
	defer qrows.Close()
	for qrows.Next() {
		var id uuid.UUID
		var q SubjectQuarantine
		if err := qrows.Scan(&id, &q.ID, &q.Stage, &q.Destination, &q.Reason, &q.Status, &q.FailedAt); err != nil {
			return err
		}
		f := &exp.Facts[index[id]]
		f.Quarantined = append(f.Quarantined, q)
	}
	return qrows.Err()
}

// FindPerson returns the canonical person id one system's identifier is linked to.
func (s *Store) FindPerson(ctx context.Context, system, value string) (string, bool, error) {
	var person string
	err := s.pool.QueryRow(ctx, `SELECT person_id FROM identities WHERE system = $1 AND identifier = $2`, system, value).Scan(&person)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: find person: %w", err)
	}
	return person, true, nil
}
