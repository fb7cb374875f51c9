package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// StageIdentity is the quarantine stage of the messages held for an identity review
// (identities.doubtful: wait): valid canonical messages of a doubtful person, kept
// with their CloudEvent JSON as raw bytes, delivered nowhere until the review is
// decided. The reason names the review (HeldReason), never the person.
const StageIdentity = "identity"

// HeldReason is the quarantine reason of a message held for review: it names the
// review (ReviewOfHeld reads it back) and what conflicted, never a value.
func HeldReason(review int64, why string) string {
	return heldPrefix(review) + " " + why +
		"; it goes on once an operator decides (passerelle identities review link|apart " + strconv.FormatInt(review, 10) + ")"
}

// heldPrefix is how the reason of a message held for review begins.
func heldPrefix(review int64) string {
	return "held for identity review " + strconv.FormatInt(review, 10) + ":"
}

var heldRE = regexp.MustCompile(`^held for identity review ([0-9]+):`)

// ReviewOfHeld returns the review a held message waits for, from its reason.
func ReviewOfHeld(reason string) (int64, bool) {
	m := heldRE.FindStringSubmatch(reason)
	if m == nil {
		return 0, false
	}
	id, err := strconv.ParseInt(m[1], 10, 64)
	return id, err == nil
}

// Hold is an open review whose new person's messages must be held.
type Hold struct {
	Review int64
	Reason string // which systems conflict; never a value
}

// OpenReviewsOf returns, for those of persons that are the new person of an open
// review, that review: while it is open, the messages resolved to them are held
// (identities.doubtful: wait).
func (s *Store) OpenReviewsOf(ctx context.Context, persons []string) (map[string]Hold, error) {
	out := map[string]Hold{}
	if len(persons) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT person_b, id, reason FROM identity_reviews
		WHERE status = 'open' AND person_b = ANY($1) ORDER BY id`, persons)
	if err != nil {
		return nil, fmt.Errorf("store: open reviews: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p string
		var h Hold
		if err := rows.Scan(&p, &h.Review, &h.Reason); err != nil {
			return nil, fmt.Errorf("store: open reviews: %w", err)
		}
		if _, ok := out[p]; !ok {
			out[p] = h
		}
	}
	return out, rows.Err()
}

// ReviewStatus returns a review's status (ReviewOpen, ReviewLinked, ReviewApart).
func (s *Store) ReviewStatus(ctx context.Context, id int64) (string, error) {
	var status string
	err := s.pool.QueryRow(ctx, `SELECT status FROM identity_reviews WHERE id = $1`, id).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("store: identity review %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("store: identity review %d: %w", id, err)
	}
	return status, nil
}

// DecidedHolds returns the open quarantine items held for a review that is now
// decided, oldest first: of review only when it is not 0.
func (s *Store) DecidedHolds(ctx context.Context, review int64, limit int) ([]QuarantineItem, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.pool.Query(ctx, `SELECT `+quarantineColumns+` FROM quarantine q
		WHERE q.stage = $1 AND q.status = 'open'
		AND EXISTS (SELECT 1 FROM identity_reviews r WHERE r.status <> 'open'
			AND r.id = substring(q.reason from '^held for identity review ([0-9]+):')::bigint AND ($2 = 0 OR r.id = $2))
		ORDER BY q.id LIMIT $3`, StageIdentity, review, limit)
	if err != nil {
		return nil, fmt.Errorf("store: decided holds: %w", err)
	}
	defer rows.Close()
	var out []QuarantineItem
	for rows.Next() {
		q, err := scanQuarantine(rows)
		if err != nil {
			return nil, fmt.Errorf("store: decided holds: %w", err)
		}
		out = append(out, q)
	}
	return out, rows.Err()
}

// txBeginner begins savepoints of one transaction: what Ingest runs in when a release
// must commit with it.
type txBeginner struct{ tx pgx.Tx }

// Begin implements Beginner.
func (b txBeginner) Begin(ctx context.Context) (pgx.Tx, error) { return b.tx.Begin(ctx) }

// ReleaseHeld lets a held message go on, in one transaction: it takes the open item
// (false when it is no longer open, or another process is releasing it), runs ingest
// on db (a savepoint of that transaction, so that the message and the release commit
// together, once), marks the item replayed and audits the release with actor.
func (s *Store) ReleaseHeld(ctx context.Context, q QuarantineItem, actor string, ingest func(ctx context.Context, db Beginner) error) (bool, error) {
	released := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `SELECT id FROM quarantine WHERE id = $1 AND stage = $2 AND status = 'open' FOR UPDATE SKIP LOCKED`,
			q.ID, StageIdentity).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := ingest(ctx, txBeginner{tx}); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE quarantine SET status = 'replayed', replay_count = replay_count + 1, replayed_at = now()
			WHERE id = $1`, q.ID); err != nil {
			return err
		}
		released = true
		review, _ := ReviewOfHeld(q.Reason)
		return s.appendAudit(ctx, tx, []AuditEntry{{Actor: actor, Action: "identity-release", MessageID: q.MessageID,
			LegalBasis: LegalBasisAccuracy, Outcome: "released",
			Reference: fmt.Sprintf("quarantine:%d identity-review:%d", q.ID, review)}})
	})
	if err != nil {
		return false, fmt.Errorf("store: release %d: %w", q.ID, err)
	}
	return released, nil
}
