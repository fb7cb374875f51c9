package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Identifier is one system's identifier of a person.
type Identifier struct {
	System string // ECROU (numéro d'écrou@établissement), APPI, PRISME, PERSON_KEY, ...
	Value  string
}

// ResolvePersons returns a canonical person id for each person, given the identifiers
// the message carries: the id already linked to one of them (the oldest link wins),
// else a new one; then it links every identifier to that id. Identifiers are never
// numéros parquet (co-defendants share them).
func (s *Store) ResolvePersons(ctx context.Context, persons [][]Identifier) ([]string, error) {
	out := make([]string, len(persons))
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var systems, values []string
		for _, p := range persons {
			for _, id := range p {
				systems, values = append(systems, id.System), append(values, id.Value)
			}
		}
		known := map[Identifier]string{}
		rows, err := tx.Query(ctx, `SELECT i.system, i.identifier, i.person_id FROM identities i
			JOIN unnest($1::text[], $2::text[]) AS k(s, v) ON i.system = k.s AND i.identifier = k.v
			ORDER BY i.created_at`, systems, values)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id Identifier
			var pid string
			if err := rows.Scan(&id.System, &id.Value, &pid); err != nil {
				rows.Close()
				return err
			}
			known[id] = pid
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		var linkS, linkV, linkP []string
		for i, p := range persons {
			for _, id := range p {
				if pid, ok := known[id]; ok {
					out[i] = pid
					break
				}
			}
			if out[i] == "" {
				out[i] = uuid.NewString()
			}
			for _, id := range p {
				if _, ok := known[id]; !ok {
					known[id] = out[i] // a later person of the batch with it links to the same id
					linkS, linkV, linkP = append(linkS, id.System), append(linkV, id.Value), append(linkP, out[i])
				}
			}
		}
		if len(linkS) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO identities (system, identifier, person_id)
				SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING`, linkS, linkV, linkP); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: resolve persons: %w", err)
	}
	return out, nil
}
