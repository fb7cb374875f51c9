package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Identifier is one system's identifier of a person.
type Identifier struct {
	System string // ECROU (numéro d'écrou@établissement), APPI, PRISME, PERSON_KEY, ...
	Value  string
}

// NameKeySystem is the system of the exact name + first names + birth date key
// (pipeline.IDPersonKey): a match on it alone is weaker than one on a system's own
// identifier, and is checked for conflicts before it links anything.
const NameKeySystem = "PERSON_KEY"

// OneIdentifierPerPerson are the systems in which a person has one identifier only:
// the APPI enforcement file and the PRISME file. Two different values of one of them
// mean two people, so a name + birth date match that meets one is doubtful. A person
// has several écrou numbers (a new one at each committal, at the destination of every
// transfer), so a different one is not a conflict.
var OneIdentifierPerPerson = map[string]bool{"APPI": true, "PRISME": true}

// ResolvePersons returns a canonical person id for each person, given the identifiers
// the message carries: the id already linked to one of its systems' identifiers (the
// oldest link wins); else the id its exact name + birth date key is linked to, unless
// that person holds another identifier of a system in OneIdentifierPerPerson (a
// doubtful match: the message goes on under a new id, and the pair is recorded in
// identity_reviews for a human, never merged silently); else a new id. Then it links
// every new identifier to that id. Identifiers are never numéros parquet (co-defendants
// share them).
func (s *Store) ResolvePersons(ctx context.Context, persons [][]Identifier) ([]string, error) {
	out := make([]string, len(persons))
	var epoch int64
	probed := map[Identifier]string{} // read from the table, or linked here
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Two sources resolving the same person at once would each find her unknown and
		// give her an id of their own (the second's links lost to ON CONFLICT): the
		// identifiers are locked first, in one order, so the second waits and finds the
		// first's links.
		if _, err := tx.Exec(ctx, `SELECT count(pg_advisory_xact_lock($1::int4, k)) FROM unnest($2::int4[]) AS k`,
			lockIdentityClass, identityLockKeys(persons)); err != nil {
			return fmt.Errorf("identity locks: %w", err)
		}
		// Each identifier once: the facts of a batch are often about the same persons
		// (several measures of one person, several versions of one measure), and every
		// probe is a descent of the identities index. Those the cache knows at the
		// epoch read here are not probed (identityCache).
		var unique []Identifier
		asked := map[Identifier]bool{}
		for _, p := range persons {
			for _, id := range p {
				if !asked[id] {
					asked[id] = true
					unique = append(unique, id)
				}
			}
		}
		cacheEpoch, known := s.identities.lookup(unique)
		var misses []Identifier
		for _, id := range unique {
			if _, ok := known[id]; !ok {
				misses = append(misses, id)
			}
		}
		// The epoch and the probe go in one round trip, as two statements: the epoch is
		// read after the locks were taken.
		b := &pgx.Batch{}
		b.Queue(`SELECT epoch FROM identity_epoch`)
		if len(misses) > 0 {
			systems, values := identityProbeArgs(misses)
			b.Queue(identityProbe, systems, values)
		}
		br := tx.SendBatch(ctx, b)
		err := br.QueryRow().Scan(&epoch)
		if err != nil {
			err = fmt.Errorf("identity epoch: %w", err)
		} else if len(misses) > 0 {
			var rows pgx.Rows
			if rows, err = br.Query(); err == nil {
				err = scanIdentityProbe(rows, probed)
			}
		}
		if err := errors.Join(err, br.Close()); err != nil {
			return err
		}
		if epoch != cacheEpoch && len(known) > 0 {
			// A merge since the cache's entries were read: ask again for those too.
			var cached []Identifier
			for id := range known {
				cached = append(cached, id)
			}
			known = map[Identifier]string{}
			systems, values := identityProbeArgs(cached)
			rows, err := tx.Query(ctx, identityProbe, systems, values)
			if err != nil {
				return err
			}
			if err := scanIdentityProbe(rows, probed); err != nil {
				return err
			}
		}
		for id, pid := range probed {
			known[id] = pid
		}
		// The persons only a name key finds: their identifiers tell a doubtful match.
		// (Most messages are found by a system's identifier, and this query is skipped.)
		var byName []string
		for _, p := range persons {
			if _, ok := bySystemID(p, known); !ok {
				for _, id := range p {
					if pid, ok := known[id]; ok && id.System == NameKeySystem {
						byName = append(byName, pid)
					}
				}
			}
		}
		held, err := heldIdentifiers(ctx, tx, byName)
		if err != nil {
			return err
		}
		var linkS, linkV, linkP []string
		var doubts []identityDoubt
		for i, p := range persons {
			out[i], _ = bySystemID(p, known)
			if out[i] == "" {
				for _, id := range p {
					if id.System != NameKeySystem {
						continue
					}
					if pid, ok := known[id]; ok {
						if conflicts := conflicting(p, held[pid]); len(conflicts) > 0 {
							out[i] = uuid.NewString()
							doubts = append(doubts, identityDoubt{known: pid, created: out[i],
								reason: "same name and birth date, different " + strings.Join(conflicts, ", ") + " identifiers"})
						} else {
							out[i] = pid
						}
					}
				}
			}
			if out[i] == "" {
				out[i] = uuid.NewString()
			}
			for _, id := range p {
				if _, ok := known[id]; !ok {
					known[id] = out[i] // a later person of the batch with it links to the same id
					linkS, linkV, linkP = append(linkS, id.System), append(linkV, id.Value), append(linkP, out[i])
					if OneIdentifierPerPerson[id.System] {
						if held[out[i]] == nil {
							held[out[i]] = map[string]string{}
						}
						held[out[i]][id.System] = id.Value
					}
				}
			}
		}
		if len(linkS) > 0 {
			// Only the links this statement wrote are remembered: one that met a link
			// written meanwhile without the identifier locks (a receipt's, deliveries.go)
			// is asked again next time.
			rows, err := tx.Query(ctx, `INSERT INTO identities (system, identifier, person_id)
				SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING
				RETURNING system, identifier, person_id`, linkS, linkV, linkP)
			if err != nil {
				return err
			}
			if err := scanIdentityProbe(rows, probed); err != nil {
				return err
			}
		}
		return s.recordDoubts(ctx, tx, doubts)
	})
	if err != nil {
		return nil, fmt.Errorf("store: resolve persons: %w", err)
	}
	s.identities.remember(epoch, probed)
	return out, nil
}

// identityProbe looks up the links of identifiers, given as (systems, values): one
// probe of the primary key per identifier (OFFSET 0 keeps the subquery from being
// flattened into a join, which the planner hashed the whole table for at every batch
// while it held fewer than a few hundred thousand identifiers).
const identityProbe = `SELECT k.s, k.v, i.person_id FROM unnest($1::text[], $2::text[]) AS k(s, v)
	CROSS JOIN LATERAL (SELECT i.person_id FROM identities i
		WHERE i.system = k.s AND i.identifier = k.v OFFSET 0) i`

func identityProbeArgs(ids []Identifier) (systems, values []string) {
	systems, values = make([]string, len(ids)), make([]string, len(ids))
	for i, id := range ids {
		systems[i], values[i] = id.System, id.Value
	}
	return systems, values
}

// scanIdentityProbe reads (system, identifier, person id) rows into known.
func scanIdentityProbe(rows pgx.Rows, known map[Identifier]string) error {
	defer rows.Close()
	for rows.Next() {
		var id Identifier
		var pid string
		if err := rows.Scan(&id.System, &id.Value, &pid); err != nil {
			return err
		}
		known[id] = pid
	}
	return rows.Err()
}

// lockIdentityClass is the first key of the transaction-scoped advisory locks on
// identifiers (the two-key form: a space apart from the single-key locks of leases,
// migrations, the audit and retention).
const lockIdentityClass int32 = 0x1D3

// identityLockBuckets bounds the locks one transaction takes: PostgreSQL's lock table
// is shared and sized by max_locks_per_transaction (64 by default) times the
// connections, and a batch of a thousand persons would otherwise take thousands.
// Identifiers sharing a bucket are serialised together, for the few milliseconds of a
// resolution.
const identityLockBuckets = 64

// identityLockKeys returns the lock keys of every identifier of persons, sorted and
// distinct (two identifiers may share a key: they are then serialised together).
func identityLockKeys(persons [][]Identifier) []int32 {
	var keys []int32
	for _, p := range persons {
		for _, id := range p {
			h := fnv.New32a()
			_, _ = h.Write([]byte(id.System))
			_, _ = h.Write([]byte{0})
			_, _ = h.Write([]byte(id.Value))
			keys = append(keys, int32(h.Sum32()%identityLockBuckets))
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// bySystemID returns the person the first of ids known in a system's own numbering
// (not the name key) is linked to.
func bySystemID(ids []Identifier, known map[Identifier]string) (string, bool) {
	for _, id := range ids {
		if id.System == NameKeySystem {
			continue
		}
		if pid, ok := known[id]; ok {
			return pid, true
		}
	}
	return "", false
}

// heldIdentifiers returns, for each person, its identifiers in the systems of
// OneIdentifierPerPerson.
func heldIdentifiers(ctx context.Context, tx pgx.Tx, persons []string) (map[string]map[string]string, error) {
	held := map[string]map[string]string{}
	if len(persons) == 0 {
		return held, nil
	}
	systems := make([]string, 0, len(OneIdentifierPerPerson))
	for s := range OneIdentifierPerPerson {
		systems = append(systems, s)
	}
	rows, err := tx.Query(ctx, `SELECT person_id, system, identifier FROM identities
		WHERE person_id = ANY($1) AND system = ANY($2) ORDER BY created_at`, persons, systems)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var pid, system, value string
		if err := rows.Scan(&pid, &system, &value); err != nil {
			return nil, err
		}
		if held[pid] == nil {
			held[pid] = map[string]string{}
		}
		if _, ok := held[pid][system]; !ok {
			held[pid][system] = value
		}
	}
	return held, rows.Err()
}

// conflicting returns the systems of OneIdentifierPerPerson in which ids and a person's
// held identifiers differ, sorted.
func conflicting(ids []Identifier, held map[string]string) []string {
	var out []string
	for _, id := range ids {
		if v, ok := held[id.System]; ok && OneIdentifierPerPerson[id.System] && v != id.Value {
			out = append(out, id.System)
		}
	}
	sort.Strings(out)
	return out
}
