package pipeline

import (
	"context"
	"encoding/json"
	"fmt"

	"passerelle/canonical"
	"passerelle/connectors"
	"passerelle/pipeline/store"
)

// Replayer re-injects quarantined inputs, unchanged, at the stage that failed: a
// source's raw bytes go through its connector's decoder, validation and ingest again; a
// refused delivery goes back to its destination (through the relay, so that the
// running hub's deliverer sends it with the same idempotency key). Every replay is
// audited.
type Replayer struct {
	Store    *store.Store
	Ingester *Ingester
	Decoders map[string]connectors.Decoder // by source connector instance
}

// ReplayResult says what became of a replayed item.
type ReplayResult struct {
	ID int64
	// Outcome: "redelivering", "accepted", "duplicate", "stale" or "quarantined again".
	Outcome string
	// Requarantined is the new quarantine id when the input failed again.
	Requarantined int64
}

// Replay re-injects one item on behalf of actor (an operator account).
func (r *Replayer) Replay(ctx context.Context, q store.QuarantineItem, actor string) (ReplayResult, error) {
	res := ReplayResult{ID: q.ID}
	if q.Status != "open" {
		return res, fmt.Errorf("quarantine %d was already replayed", q.ID)
	}
	if len(q.Raw) == 0 {
		return res, fmt.Errorf("quarantine %d: its bytes were purged by retention", q.ID)
	}
	switch q.Stage {
	case "deliver", "publish":
		if err := r.Store.ReplayDelivery(ctx, q, actor); err != nil {
			return res, err
		}
		res.Outcome = "redelivering"
		return res, nil
	case store.StageIdentity:
		return r.replayHeld(ctx, q, actor)
	case "ingest":
		var m canonical.Message
		if err := json.Unmarshal(q.Raw, &m); err != nil {
			return res, fmt.Errorf("quarantine %d: stored message unreadable: %w", q.ID, err)
		}
		return r.reingest(ctx, q, actor, connectors.Fact{Raw: q.Raw, ContentType: q.ContentType, Messages: []*canonical.Message{&m}})
	default: // decode, map, validate: through the connector again
		dec := r.Decoders[q.Connector]
		if dec == nil {
			return res, fmt.Errorf("quarantine %d: connector %q is not configured or cannot decode for replay", q.ID, q.Connector)
		}
		msgs, err := dec.Decode(ctx, q.Raw, q.ContentType)
		fact := connectors.Fact{Raw: q.Raw, ContentType: q.ContentType, Messages: msgs}
		if err != nil {
			fact.Messages, fact.Err, fact.Stage = nil, err, q.Stage
			if q.Stage == "validate" {
				fact.Stage = "decode"
			}
		}
		return r.reingest(ctx, q, actor, fact)
	}
}

func (r *Replayer) reingest(ctx context.Context, q store.QuarantineItem, actor string, fact connectors.Fact) (ReplayResult, error) {
	res := ReplayResult{ID: q.ID}
	in, err := r.Ingester.Ingest(ctx, r.Store.Pool(), q.Connector, []connectors.Fact{fact}, nil)
	if err != nil {
		return res, err
	}
	if err := r.Store.MarkReplayed(ctx, q, actor); err != nil {
		return res, err
	}
	if id, ok := in.Rejected[0]; ok {
		res.Outcome, res.Requarantined = "quarantined again", id
		return res, nil
	}
	res.Outcome = string(store.Accepted)
	for _, o := range in.Outcomes {
		if o.Outcome != store.Accepted {
			res.Outcome = string(o.Outcome)
		}
	}
	return res, nil
}
