package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"passerelle/canonical"
	"passerelle/connectors"
	"passerelle/internal/logging"
	"passerelle/internal/tick"
	"passerelle/pipeline/store"
)

// ReleaseActor is the audit's actor of the releases the hub makes on its own, once a
// review was decided (the decision itself names the operator).
const ReleaseActor = "hub:identity"

// releaseEvery is how often a running hub releases the messages of decided reviews
// that no command released (a decision taken while a held message was committing,
// a command that stopped half-way).
const releaseEvery = 5 * time.Second

// ErrRelease wraps what failed once a decision was recorded, while its held facts were
// being released: the decision stands, and a running hub releases them within
// releaseEvery.
var ErrRelease = errors.New("releasing the held facts")

// DecideIdentity records an operator's decision on review (store.ReviewLinked or
// store.ReviewApart, audited under actor), then releases the facts held for it, and
// returns how many it released. An error that wraps ErrRelease came after the decision
// was recorded; any other is the decision's own (store.ErrNotFound,
// store.ErrAlreadyDecided, or a failure that rolled it back, or whose commit's outcome
// is unknown: the review's status says).
func (r *Replayer) DecideIdentity(ctx context.Context, review int64, decision, actor string) (int, error) {
	if err := r.Store.DecideIdentityReview(ctx, review, decision, actor); err != nil {
		return 0, err
	}
	n, err := r.ReleaseHeld(ctx, review, actor)
	if err != nil {
		return n, fmt.Errorf("identity review %d decided; %w: %w", review, ErrRelease, err)
	}
	return n, nil
}

// ReleaseHeld lets the messages held for decided identity reviews go on (of review
// only, when it is not 0), oldest first, and returns how many it released. Each goes
// through ingest again without its provisional subject, so that the decision
// resolves it: after "link" the new person's identifiers lead to the known person,
// after "apart" they lead to the new one. Each release commits with its ingest
// (store.ReleaseHeld), so a message is released once even when several processes
// try; the destinations' dedup and idempotency keys do the rest.
func (r *Replayer) ReleaseHeld(ctx context.Context, review int64, actor string) (int, error) {
	released := 0
	for {
		items, err := r.Store.DecidedHolds(ctx, review, 500)
		if err != nil {
			return released, err
		}
		n := 0
		for _, q := range items {
			ok, _, err := r.release(ctx, q, actor)
			if err != nil {
				return released, err
			}
			if ok {
				n++
			}
		}
		released += n
		if n == 0 || len(items) < 500 {
			return released, nil
		}
	}
}

// replayHeld is Replay for a message held for an identity review: only once the
// review is decided.
func (r *Replayer) replayHeld(ctx context.Context, q store.QuarantineItem, actor string) (ReplayResult, error) {
	res := ReplayResult{ID: q.ID}
	review, ok := store.ReviewOfHeld(q.Reason)
	if !ok {
		return res, fmt.Errorf("quarantine %d: held without a review", q.ID)
	}
	status, err := r.Store.ReviewStatus(ctx, review)
	if err != nil {
		return res, err
	}
	if status == store.ReviewOpen {
		return res, fmt.Errorf("quarantine %d waits for identity review %d: decide it (passerelle identities review link|apart %d)",
			q.ID, review, review)
	}
	done, in, err := r.release(ctx, q, actor)
	if err != nil {
		return res, err
	}
	if !done {
		return res, fmt.Errorf("quarantine %d was already released", q.ID)
	}
	res.Outcome = string(store.Accepted)
	for _, o := range in.Outcomes {
		if o.Outcome != store.Accepted {
			res.Outcome = string(o.Outcome)
		}
	}
	for _, id := range in.Held {
		res.Outcome, res.Requarantined = "quarantined again", id
	}
	return res, nil
}

// release ingests one held message again, without its provisional subject.
func (r *Replayer) release(ctx context.Context, q store.QuarantineItem, actor string) (bool, Ingested, error) {
	if len(q.Raw) == 0 {
		return false, Ingested{}, fmt.Errorf("quarantine %d: its bytes were purged by retention", q.ID)
	}
	var m canonical.Message
	if err := json.Unmarshal(q.Raw, &m); err != nil {
		return false, Ingested{}, fmt.Errorf("quarantine %d: stored message unreadable: %w", q.ID, err)
	}
	m.Subject = ""
	q.MessageID, _ = uuid.Parse(m.ID)
	var in Ingested
	ok, err := r.Store.ReleaseHeld(ctx, q, actor, func(ctx context.Context, db store.Beginner) error {
		var err error
		in, err = r.Ingester.Ingest(ctx, db, q.Connector, []connectors.Fact{{Raw: q.Raw, ContentType: q.ContentType,
			Messages: []*canonical.Message{&m}}}, nil)
		return err
	})
	return ok, in, err
}

// runReleases releases, every releaseEvery until ctx ends, what decided reviews still
// hold.
func (r *Replayer) runReleases(ctx context.Context, log *zap.Logger) {
	tick.Every(ctx, releaseEvery, func(ctx context.Context) {
		n, err := r.ReleaseHeld(ctx, 0, ReleaseActor)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("identity releases", zap.Error(err))
		case n > 0:
			log.Info("messages released after an identity review", logging.Count(n))
		}
	})
}
