package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Delivery statuses.
const (
	StatusPending     = "pending"
	StatusDelivered   = "delivered"
	StatusSuperseded  = "superseded" // a newer version was delivered first: this one is not sent
	StatusQuarantined = "quarantined"
)

// DeliveryState is what the store knows of a message at a destination before a
// consumer delivers it.
type DeliveryState struct {
	Status         string
	Attempts       int
	Route          string
	IdempotencyKey string
	// NewerDelivered is true when a newer version of the same source fact has already
	// been delivered to this destination: this one must not overwrite it.
	NewerDelivered bool
	// NewerPending is true when a newer version of the same source fact is waiting
	// for this destination: one that keeps the newest itself can skip this one.
	NewerPending bool
}

// DeliveryStates returns the state of each message at destination. A message without a
// delivery row is not routed there (it is absent from the map). NewerPending is asked
// only when askPending is set (a destination that keeps the newest itself): for the
// others the question is skipped, not answered false by chance.
func (s *Store) DeliveryStates(ctx context.Context, destination string, ids []uuid.UUID, askPending bool) (map[uuid.UUID]DeliveryState, error) {
	out := make(map[uuid.UUID]DeliveryState, len(ids))
	// The newer versions of the fact are read once, with both questions: one descent of
	// deliveries_fact (migration 0024) where two EXISTS made two.
	rows, err := s.pool.Query(ctx, `SELECT d.message_id, d.status, d.attempts, d.route, d.idempotency_key,
		coalesce(n.delivered, false), $3::boolean AND coalesce(n.pending, false)
		FROM deliveries d LEFT JOIN LATERAL (
			SELECT bool_or(x.status = 'delivered') AS delivered, bool_or(x.status = 'pending') AS pending
			FROM deliveries x WHERE x.destination = d.destination AND x.fact_system = d.fact_system
			AND x.fact_ref = d.fact_ref AND x.fact_version > d.fact_version AND x.status IN ('pending', 'delivered')
		) n ON true
		WHERE d.destination = $1 AND d.message_id = ANY($2)`, destination, ids, askPending)
	if err != nil {
		return nil, fmt.Errorf("store: delivery states: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var st DeliveryState
		if err := rows.Scan(&id, &st.Status, &st.Attempts, &st.Route, &st.IdempotencyKey, &st.NewerDelivered, &st.NewerPending); err != nil {
			return nil, fmt.Errorf("store: delivery states: %w", err)
		}
		out[id] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: delivery states: %w", err)
	}
	return out, nil
}

// DeliveryOutcome is the final outcome of a message at a destination.
type DeliveryOutcome struct {
	MessageID   uuid.UUID
	Destination string
	Route       string
	LegalBasis  string
	Status      string // StatusDelivered, StatusSuperseded or StatusQuarantined
	Attempts    int
	// Receipt is the destination's acknowledgement (JSON), and ReceiptRef its id.
	Receipt    json.RawMessage
	ReceiptRef string
	// Error is the permanent error's reason (no personal data), for StatusQuarantined.
	Error string
	// Raw is the canonical message (CloudEvents JSON) kept in quarantine for replay.
	Raw []byte
	// Identifiers the destination answered for the person (e.g. PRISME's dossierId),
	// linked to Subject.
	Identifiers []Identifier
	Subject     string
}

// RecordDeliveries records outcomes in one transaction: delivery rows, quarantine rows
// for permanent failures and the audit. Only after it returns may the consumer commit
// the Kafka offsets. A message whose deliveries are no longer pending is settled: no
// other row says so.
//
// recorded[i] reports whether outs[i] changed its delivery: an outcome that arrives for
// a delivery already settled (a message delivered again after a rebalance or a crash)
// keeps the first one and is not audited again, and whoever counts outcomes (metrics)
// must not count it either.
func (s *Store) RecordDeliveries(ctx context.Context, outs []DeliveryOutcome) (recorded []bool, err error) {
	if len(outs) == 0 {
		return nil, nil
	}
	recorded = make([]bool, len(outs))
	// The receipts' identifiers, in the table once committed. Those the table already
	// holds are left out of the insert, which would find them and do nothing.
	var links []Identifier
	var persons []string
	epoch := int64(-1) // of identity_epoch, read by the outcomes' update
	for _, o := range outs {
		if o.Subject == "" {
			continue
		}
		for _, id := range o.Identifiers {
			links, persons = append(links, id), append(persons, o.Subject)
		}
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		n := len(outs)
		ids, dests, statuses := make([]uuid.UUID, n), make([]string, n), make([]string, n)
		attempts, errs, receipts := make([]int32, n), make([]*string, n), make([]*string, n)
		entries := make([]AuditEntry, 0, n)
		for i, o := range outs {
			ids[i], dests[i], statuses[i], attempts[i] = o.MessageID, o.Destination, o.Status, int32(o.Attempts)
			if o.Error != "" {
				e := o.Error
				errs[i] = &e
			}
			if len(o.Receipt) > 0 {
				r := string(o.Receipt)
				receipts[i] = &r
			}
		}
		// Only a pending row changes: an outcome recorded twice (a redelivery after a
		// crash between record and commit) keeps the first one. identity_epoch comes
		// with each row (read once, by the statement's snapshot), for the receipts'
		// identifiers below: no round trip of its own.
		rows, err := tx.Query(ctx, `UPDATE deliveries d SET status = u.st, attempts = greatest(d.attempts, u.att),
			last_error = coalesce(u.err, d.last_error), receipt = coalesce(u.rec::jsonb, d.receipt), updated_at = now()
			FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[]) AS u(id, dest, st, att, err, rec)
			WHERE d.message_id = u.id AND d.destination = u.dest AND d.status = 'pending'
			RETURNING d.message_id, d.destination, d.status, (SELECT epoch FROM identity_epoch)`, ids, dests, statuses, attempts, errs, receipts)
		if err != nil {
			return fmt.Errorf("deliveries: %w", err)
		}
		// The status each changed delivery took. An outcome given twice in one batch (a
		// message fetched again before its first outcome was written) changes its row
		// once, with one of the two: that one is recorded, the other is not.
		type delivery struct {
			id   uuid.UUID
			dest string
		}
		changed := map[delivery]string{}
		for rows.Next() {
			var id uuid.UUID
			var dest, status string
			if err := rows.Scan(&id, &dest, &status, &epoch); err != nil {
				rows.Close()
				return fmt.Errorf("deliveries: %w", err)
			}
			changed[delivery{id, dest}] = status
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("deliveries: %w", err)
		}
		for i, o := range outs {
			k := delivery{o.MessageID, o.Destination}
			if st, ok := changed[k]; !ok || st != o.Status {
				continue
			}
			delete(changed, k)
			recorded[i] = true
			e := AuditEntry{Actor: o.Destination, MessageID: o.MessageID, Route: o.Route, Destination: o.Destination,
				LegalBasis: o.LegalBasis, Outcome: o.Status}
			switch o.Status {
			case StatusDelivered:
				e.Action, e.Reference = "deliver", o.ReceiptRef
			case StatusSuperseded:
				e.Action = "supersede"
			case StatusQuarantined:
				var qid int64
				if err := tx.QueryRow(ctx, `INSERT INTO quarantine (stage, connector, route, destination, message_id, reason, raw, content_type, attempts)
					SELECT 'deliver', $1, $2, $1, $3, $4, $5, 'application/cloudevents+json', $6
					RETURNING id`, o.Destination, o.Route, o.MessageID, o.Error, o.Raw, o.Attempts).Scan(&qid); err != nil {
					return fmt.Errorf("quarantine: %w", err)
				}
				if _, err := tx.Exec(ctx, `UPDATE quarantine q SET fact_system = o.fact_system, fact_ref = o.fact_ref,
					fact_version = o.fact_version FROM outbox o WHERE q.id = $1 AND o.id = q.message_id`, qid); err != nil {
					return fmt.Errorf("quarantine: %w", err)
				}
				e.Action, e.Reference = "quarantine", "quarantine:"+strconv.FormatInt(qid, 10)
			default:
				return fmt.Errorf("deliveries: unknown status %q", o.Status)
			}
			entries = append(entries, e)
		}
		// A link deleted by hand raises the epoch (migration 0029): the set of identifiers
		// known to be in the table holds only for the epoch it was filled at. With no row
		// changed, the epoch is unknown (-1): every identifier is inserted.
		var linkS, linkV, linkP []string
		for _, i := range s.linked.missing(epoch, links) {
			linkS, linkV, linkP = append(linkS, links[i].System), append(linkV, links[i].Value), append(linkP, persons[i])
		}
		if len(linkS) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO identities (system, identifier, person_id)
				SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING`, linkS, linkV, linkP); err != nil {
				return fmt.Errorf("identities: %w", err)
			}
		}
		return s.appendAudit(ctx, tx, entries)
	})
	if err != nil {
		return nil, fmt.Errorf("store: record deliveries: %w", err)
	}
	s.linked.add(epoch, links)
	return recorded, nil
}

// NoteAttempt records a transient failure (attempt count and reason) of a pending
// delivery, for operators; it changes nothing else.
func (s *Store) NoteAttempt(ctx context.Context, id uuid.UUID, destination string, attempts int, reason string) error {
	_, err := s.pool.Exec(ctx, `UPDATE deliveries SET attempts = greatest(attempts, $3), last_error = $4, updated_at = now()
		WHERE message_id = $1 AND destination = $2 AND status = 'pending'`, id, destination, attempts, reason)
	if err != nil {
		return fmt.Errorf("store: note attempt: %w", err)
	}
	return nil
}
