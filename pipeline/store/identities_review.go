package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Identity review decisions and statuses (identity_reviews.status).
const (
	ReviewOpen   = "open"
	ReviewLinked = "linked" // one person: person_b's identifiers now lead to person_a
	ReviewApart  = "apart"  // two people, as the hub kept them
)

// LegalBasisAccuracy is the legal basis the audit gives identity reviews: personal
// data must be accurate, and a wrong link would carry one person's penal data into
// another's file.
const LegalBasisAccuracy = "Directive (UE) 2016/680, art. 4.1 d) — exactitude des données"

// identityDoubt is a doubtful match found while resolving persons.
type identityDoubt struct {
	known, created string
	reason         string
}

// recordDoubts records doubtful matches for review, and audits each, inside tx.
func (s *Store) recordDoubts(ctx context.Context, tx pgx.Tx, doubts []identityDoubt) error {
	if len(doubts) == 0 {
		return nil
	}
	entries := make([]AuditEntry, 0, len(doubts))
	for _, d := range doubts {
		var id int64
		err := tx.QueryRow(ctx, `INSERT INTO identity_reviews (person_a, person_b, reason) VALUES ($1, $2, $3)
			ON CONFLICT (person_a, person_b) DO UPDATE SET reason = excluded.reason RETURNING id`, d.known, d.created, d.reason).Scan(&id)
		if err != nil {
			return fmt.Errorf("identity review: %w", err)
		}
		entries = append(entries, AuditEntry{Actor: "hub:identity", Action: "identity-doubt", Outcome: "kept-apart",
			LegalBasis: LegalBasisAccuracy, Reference: "identity-review:" + strconv.FormatInt(id, 10)})
	}
	return s.appendAudit(ctx, tx, entries)
}

// IdentityReview is a doubtful match, with what an operator needs to decide: each
// person's identifiers (never their names: the console shows the facts) and how many
// facts went on under each.
type IdentityReview struct {
	ID        int64
	PersonA   string // the person known before
	PersonB   string // the id the doubtful facts went on under
	Reason    string
	Status    string
	CreatedAt time.Time
	DecidedAt *time.Time
	DecidedBy string
	IdentsA   []Identifier // without the name key
	IdentsB   []Identifier
	MessagesA int64
	MessagesB int64
	SourcesA  []string // the connectors the facts of A came from
	SourcesB  []string
	// Held is how many messages of B wait in the quarantine for the decision
	// (identities.doubtful: wait).
	Held int64
}

// ListIdentityReviews returns the reviews of status ("open", "linked", "apart", or
// "all"), oldest first.
func (s *Store) ListIdentityReviews(ctx context.Context, status string) ([]IdentityReview, error) {
	if status == "" {
		status = ReviewOpen
	}
	rows, err := s.pool.Query(ctx, `SELECT id, person_a, person_b, reason, status, created_at, decided_at, coalesce(decided_by, '')
		FROM identity_reviews WHERE $1 = 'all' OR status = $1 ORDER BY id LIMIT 10000`, status)
	if err != nil {
		return nil, fmt.Errorf("store: identity reviews: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (IdentityReview, error) {
		var v IdentityReview
		err := r.Scan(&v.ID, &v.PersonA, &v.PersonB, &v.Reason, &v.Status, &v.CreatedAt, &v.DecidedAt, &v.DecidedBy)
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: identity reviews: %w", err)
	}
	for i := range out {
		r := &out[i]
		for _, side := range []struct {
			person  string
			idents  *[]Identifier
			count   *int64
			sources *[]string
		}{{r.PersonA, &r.IdentsA, &r.MessagesA, &r.SourcesA}, {r.PersonB, &r.IdentsB, &r.MessagesB, &r.SourcesB}} {
			if *side.idents, err = s.identifiersOf(ctx, side.person); err != nil {
				return nil, err
			}
			if err := s.pool.QueryRow(ctx, `SELECT count(*), coalesce(array_agg(DISTINCT connector), '{}') FROM outbox WHERE subject = $1`,
				side.person).Scan(side.count, side.sources); err != nil {
				return nil, fmt.Errorf("store: identity reviews: %w", err)
			}
		}
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM quarantine WHERE stage = $1 AND status = 'open' AND strpos(reason, $2) = 1`,
			StageIdentity, heldPrefix(r.ID)).Scan(&r.Held); err != nil {
			return nil, fmt.Errorf("store: identity reviews: %w", err)
		}
	}
	return out, nil
}

func (s *Store) identifiersOf(ctx context.Context, person string) ([]Identifier, error) {
	rows, err := s.pool.Query(ctx, `SELECT system, identifier FROM identities WHERE person_id = $1 AND system <> $2
		ORDER BY system, identifier`, person, NameKeySystem)
	if err != nil {
		return nil, fmt.Errorf("store: identifiers: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Identifier, error) {
		var id Identifier
		err := r.Scan(&id.System, &id.Value)
		return id, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: identifiers: %w", err)
	}
	return out, nil
}

// ErrAlreadyDecided is returned when a review was decided before.
var ErrAlreadyDecided = errors.New("already decided")

// DecideIdentityReview records an operator's decision on an open review: ReviewLinked
// moves person B's identifiers to person A, so that B's future facts go on under A
// (and a subject access request for either finds both); ReviewApart keeps them apart.
// The decision is audited with the operator's account.
func (s *Store) DecideIdentityReview(ctx context.Context, id int64, decision, actor string) error {
	if decision != ReviewLinked && decision != ReviewApart {
		return fmt.Errorf("store: identity review %d: decision must be %s or %s", id, ReviewLinked, ReviewApart)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if decision == ReviewLinked {
			// Every identifier lock, in the resolutions' order: no resolution links a new
			// identifier to B after the move below, or keeps serving B's links from a
			// process's cache (the epoch raised below empties them all).
			if _, err := tx.Exec(ctx, `SELECT count(pg_advisory_xact_lock($1::int4, k)) FROM generate_series(0, $2::int4 - 1) AS k`,
				lockIdentityClass, identityLockBuckets); err != nil {
				return fmt.Errorf("identity locks: %w", err)
			}
		}
		var a, b, status string
		err := tx.QueryRow(ctx, `SELECT person_a, person_b, status FROM identity_reviews WHERE id = $1 FOR UPDATE`, id).Scan(&a, &b, &status)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if status != ReviewOpen {
			return fmt.Errorf("%w (%s)", ErrAlreadyDecided, status)
		}
		if decision == ReviewLinked {
			// The update raises identity_epoch (its trigger, migration 0028): every
			// process's identity cache empties at its next resolution.
			if _, err := tx.Exec(ctx, `UPDATE identities SET person_id = $1 WHERE person_id = $2`, a, b); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE identity_reviews SET status = $2, decided_at = now(), decided_by = $3 WHERE id = $1`,
			id, decision, actor); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, []AuditEntry{{Actor: actor, Action: "identity-" + decision, Outcome: decision,
			LegalBasis: LegalBasisAccuracy, Reference: "identity-review:" + strconv.FormatInt(id, 10)}})
	})
	if err != nil {
		return fmt.Errorf("store: identity review %d: %w", id, err)
	}
	return nil
}

// LinkedPersons returns person and every person id an operator linked to it, directly
// or through others (the facts of a linked person keep the subject they went on
// under).
func (s *Store) LinkedPersons(ctx context.Context, person string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `WITH RECURSIVE linked(p) AS (
			SELECT $1::text COLLATE "C" -- the collation of the person ids (migration 0025)
			UNION
			SELECT CASE WHEN r.person_a = l.p THEN r.person_b ELSE r.person_a END
			FROM identity_reviews r JOIN linked l ON r.status = 'linked' AND (r.person_a = l.p OR r.person_b = l.p)
		) SELECT p FROM linked ORDER BY p`, person)
	if err != nil {
		return nil, fmt.Errorf("store: linked persons: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store: linked persons: %w", err)
	}
	return out, nil
}
