package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// The journal's queries: what the hub knows and moved about one person, for the
// console's per-person journal (the right of access asks the same question). They read
// personal data: the caller audits every lookup.

// PersonsByIdentifier returns the canonical persons linked to a system's identifier.
// With prefix, value matches the start of the identifier up to an '@' (a numéro
// d'écrou without its establishment: "24-0655" finds "24-0655@0310301").
func (s *Store) PersonsByIdentifier(ctx context.Context, system, value string, prefix bool) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT person_id FROM identities WHERE system = $1
		AND (identifier = $2 OR ($3 AND split_part(identifier, '@', 1) = $2)) ORDER BY person_id LIMIT 50`, system, value, prefix)
	if err != nil {
		return nil, fmt.Errorf("store: persons by identifier: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("store: persons by identifier: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// PersonsByProsecutionNumber returns the persons whose facts carry a numéro parquet
// (person.identifiers.prosecutionNumbers, or a prosecutionNumber anywhere in the data:
// a judgment's, a conviction's). A case has several persons when it has co-defendants;
// the identities table never links by it, so the facts are searched (a full scan of
// the outbox payloads still held: for a console lookup, not for a flow).
func (s *Store) PersonsByProsecutionNumber(ctx context.Context, number string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT subject FROM (
			SELECT subject, convert_from(data, 'UTF8')::jsonb AS d FROM outbox WHERE data IS NOT NULL) o
		WHERE jsonb_path_exists(d, '$.person.identifiers.prosecutionNumbers[*] ? (@ == $n)', jsonb_build_object('n', $1::text))
		   OR jsonb_path_exists(d, '$.**.prosecutionNumber ? (@ == $n)', jsonb_build_object('n', $1::text))
		ORDER BY subject LIMIT 50`, number)
	if err != nil {
		return nil, fmt.Errorf("store: persons by prosecution number: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("store: persons by prosecution number: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// PersonIdentifiers returns the identifiers linked to a person, oldest first.
func (s *Store) PersonIdentifiers(ctx context.Context, person string) ([]Identifier, error) {
	rows, err := s.pool.Query(ctx, `SELECT system, identifier FROM identities WHERE person_id = $1 ORDER BY created_at, system`, person)
	if err != nil {
		return nil, fmt.Errorf("store: person identifiers: %w", err)
	}
	defer rows.Close()
	var out []Identifier
	for rows.Next() {
		var id Identifier
		if err := rows.Scan(&id.System, &id.Value); err != nil {
			return nil, fmt.Errorf("store: person identifiers: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// JournalFact is one accepted fact about a person, with what became of it at each
// destination.
type JournalFact struct {
	MessageID   uuid.UUID
	Type        string
	Connector   string
	FactSystem  string
	FactRef     string
	FactVersion int64
	EventTime   time.Time
	AcceptedAt  time.Time
	// Data is the canonical data, nil once retention purged it.
	Data       []byte
	Deliveries []JournalDelivery
}

// JournalDelivery is one destination's outcome of a fact.
type JournalDelivery struct {
	Destination string
	Route       string
	Status      string
	Attempts    int
	LastError   string
	UpdatedAt   time.Time
	// QuarantineID is the open or replayed quarantine item of a quarantined delivery.
	QuarantineID int64
}

// PersonJournal returns a person's facts, newest event first (at most limit), with
// their deliveries.
func (s *Store) PersonJournal(ctx context.Context, person string, limit int) ([]JournalFact, error) {
	if limit <= 0 {
		limit = 500
	}
	rows, err := s.pool.Query(ctx, `SELECT id, type, connector, fact_system, fact_ref, fact_version, event_time, accepted_at, data
		FROM outbox WHERE subject = $1 ORDER BY event_time DESC, seq DESC LIMIT $2`, person, limit)
	if err != nil {
		return nil, fmt.Errorf("store: journal: %w", err)
	}
	var facts []JournalFact
	index := map[uuid.UUID]int{}
	var ids []uuid.UUID
	for rows.Next() {
		var f JournalFact
		if err := rows.Scan(&f.MessageID, &f.Type, &f.Connector, &f.FactSystem, &f.FactRef, &f.FactVersion, &f.EventTime,
			&f.AcceptedAt, &f.Data); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: journal: %w", err)
		}
		index[f.MessageID] = len(facts)
		ids = append(ids, f.MessageID)
		facts = append(facts, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: journal: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	drows, err := s.pool.Query(ctx, `SELECT d.message_id, d.destination, d.route, d.status, d.attempts, coalesce(d.last_error, ''),
			d.updated_at, coalesce((SELECT max(q.id) FROM quarantine q WHERE q.message_id = d.message_id
				AND q.destination = d.destination), 0)
		FROM deliveries d WHERE d.message_id = ANY($1) ORDER BY d.destination`, ids)
	if err != nil {
		return nil, fmt.Errorf("store: journal deliveries: %w", err)
	}
	defer drows.Close()
	for drows.Next() {
		var id uuid.UUID
		var d JournalDelivery
		if err := drows.Scan(&id, &d.Destination, &d.Route, &d.Status, &d.Attempts, &d.LastError, &d.UpdatedAt, &d.QuarantineID); err != nil {
			return nil, fmt.Errorf("store: journal deliveries: %w", err)
		}
		f := &facts[index[id]]
		f.Deliveries = append(f.Deliveries, d)
	}
	if err := drows.Err(); err != nil {
		return nil, fmt.Errorf("store: journal deliveries: %w", err)
	}
	return facts, nil
}
