package store

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// What a newer version of a fact corrected, as Rectification.Changes names it.
const (
	ChangedIdentity = "identity" // the person: names, birth date, identifiers
	ChangedSentence = "sentence" // convictions, sentences, measures, their dates
	ChangedOther    = "other"    // neither: an ordinary update
	ChangedUnknown  = "unknown"  // a version's bytes were purged: cannot tell
)

// LegalBasisRectification is the legal basis the audit gives the corrections an operator
// carried, and the console's listings of the corrections still owed.
const LegalBasisRectification = "Directive (UE) 2016/680, art. 16 — rectification"

// sentenceFields are the top-level data fields of the canonical types that hold
// sentence data (the penal record's convictions and dates, the judgment's sentences,
// the measure itself, the transferred measures).
var sentenceFields = []string{"convictions", "reductions", "projectedReleaseDate", "releaseDate", "securityPeriodEnd",
	"sentences", "offences", "obligations", "startDate", "endDate", "measures", "kind"}

// Rectification is a destination that received an older version of a fact and has
// not yet acknowledged its newest one: the correction a person is owed there (Directive
// (UE) 2016/680, art. 16: a rectification is carried to every recipient). The newest
// version reaches every destination its routes name through the ordinary flow, with
// its own idempotency key; a destination no route names for it any more ("not-routed")
// needs an operator.
type Rectification struct {
	Subject          string    `json:"subject"`
	FactSystem       string    `json:"factSystem"`
	FactRef          string    `json:"factRef"`
	DeliveredVersion int64     `json:"deliveredVersion"` // the newest version the destination acknowledged
	CurrentVersion   int64     `json:"currentVersion"`
	MessageID        uuid.UUID `json:"messageId"` // the current version's message
	Destination      string    `json:"destination"`
	Status           string    `json:"status"` // pending, quarantined or not-routed
	AcceptedAt       time.Time `json:"acceptedAt"`
	Changes          []string  `json:"changes"` // identity, sentence, other or unknown
}

// PendingRectifications lists, oldest correction first, every destination that was
// delivered an older version of a fact than the newest one the hub accepted and has
// not acknowledged the newest yet; person, when not empty, restricts it to one person
// id. Without a person it reads every delivered row once (an operator's question, not
// a flow's); with one, only the deliveries of that person's facts.
func (s *Store) PendingRectifications(ctx context.Context, person string, limit int) ([]Rectification, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.pool.Query(ctx, pendingRectifications(person, `o.subject, l.fact_system, l.fact_ref, p.delivered_version,
			l.version, l.message_id, p.destination, coalesce(n.status, 'not-routed'), o.accepted_at, o.data, old.data`)+`
		ORDER BY o.accepted_at, l.fact_system, l.fact_ref, p.destination LIMIT $2`, person, limit)
	if err != nil {
		return nil, fmt.Errorf("store: rectifications: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Rectification, error) {
		var rc Rectification
		var cur, old []byte
		err := r.Scan(&rc.Subject, &rc.FactSystem, &rc.FactRef, &rc.DeliveredVersion, &rc.CurrentVersion, &rc.MessageID,
			&rc.Destination, &rc.Status, &rc.AcceptedAt, &cur, &old)
		rc.Changes = changes(old, cur)
		return rc, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: rectifications: %w", err)
	}
	return out, nil
}

// CountPendingRectifications counts what PendingRectifications would list for person
// (all persons when empty), without reading the versions' payloads or a limit: what the
// journal shows at every page.
func (s *Store) CountPendingRectifications(ctx context.Context, person string) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, pendingRectifications(person, `count(*)`), person).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: rectifications: %w", err)
	}
	return n, nil
}

// pendingRectifications is the query of the pending rectifications, selecting columns
// ($1: the person, or empty for all). The older version's row (old) is joined for
// the columns that name it; PostgreSQL removes the join when none does.
func pendingRectifications(person, columns string) string {
	prev := `prev AS (
			SELECT d.destination, d.fact_system, d.fact_ref, max(d.fact_version) AS delivered_version,
				(array_agg(d.message_id ORDER BY d.fact_version DESC))[1] AS delivered_message
			FROM deliveries d JOIN dedup l ON l.fact_system = d.fact_system AND l.fact_ref = d.fact_ref
			WHERE d.status = 'delivered' AND d.fact_version < l.version
			GROUP BY d.destination, d.fact_system, d.fact_ref)`
	if person != "" {
		// The person's facts, from her messages (outbox_subject); their older versions
		// at each destination (deliveries_fact, whose leading column is the destination:
		// the few destinations are found by a skip scan of that index, and each is probed
		// apart, OFFSET 0 keeping the planner from scanning the index past its leading
		// column, as it did on a join; status = 'delivered' implies the index's
		// predicate). A fact whose older versions went out under another subject (before
		// a merge) is still found by its newest version, which the final filter asks for.
		prev = `dests AS (
			WITH RECURSIVE r(d) AS (
				SELECT min(destination) FROM deliveries WHERE status IN ('pending', 'delivered')
				UNION ALL
				SELECT (SELECT min(destination) FROM deliveries WHERE destination > r.d AND status IN ('pending', 'delivered'))
				FROM r WHERE r.d IS NOT NULL)
			SELECT d FROM r WHERE d IS NOT NULL),
		mine AS (SELECT DISTINCT fact_system, fact_ref FROM outbox WHERE subject = $1),
		prev AS (
			SELECT d.destination, d.fact_system, d.fact_ref, max(d.fact_version) AS delivered_version,
				(array_agg(d.message_id ORDER BY d.fact_version DESC))[1] AS delivered_message
			FROM mine m JOIN dedup l ON l.fact_system = m.fact_system AND l.fact_ref = m.fact_ref
			CROSS JOIN dests
			CROSS JOIN LATERAL (SELECT d.* FROM deliveries d WHERE d.destination = dests.d AND d.fact_system = m.fact_system
				AND d.fact_ref = m.fact_ref AND d.fact_version < l.version AND d.status = 'delivered' OFFSET 0) d
			GROUP BY d.destination, d.fact_system, d.fact_ref)`
	}
	return `WITH ` + prev + `
		SELECT ` + columns + `
		FROM prev p
		JOIN dedup l ON l.fact_system = p.fact_system AND l.fact_ref = p.fact_ref
		JOIN outbox o ON o.id = l.message_id
		LEFT JOIN deliveries n ON n.message_id = l.message_id AND n.destination = p.destination
		LEFT JOIN outbox old ON old.id = p.delivered_message
		WHERE (n.status IS NULL OR n.status IN ('pending', 'quarantined')) AND ($1 = '' OR o.subject = $1)
		AND NOT EXISTS (SELECT 1 FROM rectification_acks k WHERE k.message_id = l.message_id AND k.destination = p.destination)`
}

// changes tells what a newer version's data changed in the older one's.
func changes(old, cur []byte) []string {
	if len(old) == 0 || len(cur) == 0 {
		return []string{ChangedUnknown}
	}
	var a, b map[string]any
	if json.Unmarshal(old, &a) != nil || json.Unmarshal(cur, &b) != nil {
		return []string{ChangedUnknown}
	}
	var out []string
	if !reflect.DeepEqual(a["person"], b["person"]) {
		out = append(out, ChangedIdentity)
	}
	for _, f := range sentenceFields {
		if !reflect.DeepEqual(a[f], b[f]) {
			out = append(out, ChangedSentence)
			break
		}
	}
	if len(out) == 0 {
		out = append(out, ChangedOther)
	}
	return out
}

// AckRectification records that an operator carried the correction message to
// destination outside the flow (a destination no route names any more, a letter): it
// leaves the pending list, and the audit says who did it. Only a pending rectification
// can be acknowledged.
func (s *Store) AckRectification(ctx context.Context, message uuid.UUID, destination, actor string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var pending bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM dedup l
			JOIN deliveries d ON d.fact_system = l.fact_system AND d.fact_ref = l.fact_ref AND d.destination = $2
				AND d.status = 'delivered' AND d.fact_version < l.version
			WHERE l.message_id = $1
			AND NOT EXISTS (SELECT 1 FROM deliveries n WHERE n.message_id = $1 AND n.destination = $2 AND n.status IN ('delivered', 'superseded'))
			AND NOT EXISTS (SELECT 1 FROM rectification_acks k WHERE k.message_id = $1 AND k.destination = $2))`,
			message, destination).Scan(&pending); err != nil {
			return err
		}
		if !pending {
			return ErrNotFound
		}
		if _, err := tx.Exec(ctx, `INSERT INTO rectification_acks (message_id, destination, acked_by) VALUES ($1, $2, $3)
			ON CONFLICT DO NOTHING`, message, destination, actor); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, []AuditEntry{{Actor: actor, Action: "rectification-ack", MessageID: message,
			Destination: destination, LegalBasis: LegalBasisRectification, Outcome: "acknowledged"}})
	})
	if err != nil {
		return fmt.Errorf("store: acknowledge rectification of %s at %s: %w", message, destination, err)
	}
	return nil
}
