package pipeline

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"passerelle/canonical"
	"passerelle/connectors"
	"passerelle/pipeline/store"
)

// ErrNoCaller is Accept's error for a push without a caller, whose receipt nobody could read.
var ErrNoCaller = errors.New("pipeline: a push needs its caller")

// pushStripes is the number of locks that serialise, within one process, the pushes
// that carry the same fact.
const pushStripes = 64

// PushHost is the hub's connectors.Host for one push source instance: Accept runs the
// Ingester inside a transaction of its own that also records the receipt, so that the
// receipt and the facts it promises commit together (the ingest itself runs in a
// savepoint of it). It is safe for concurrent use.
//
// Two pushes of the same fact at the same moment are serialised in this process
// (striped locks on the fact's reference), so that the second one sees the first as a
// duplicate and gets its receipt. Across hub processes the store's dedup still keeps
// one outbox row per version at the destination (the idempotency key is the fact's),
// but both pushes may then get a receipt of their own.
type PushHost struct {
	// Name is the push source instance: the connector of its facts and the actor of
	// its audit rows.
	Name     string
	Ingester *Ingester
	Store    *store.Store
	Log      *zap.Logger

	stripes [pushStripes]sync.Mutex
}

var _ connectors.Host = (*PushHost)(nil)

// Accept implements connectors.Host.
func (h *PushHost) Accept(ctx context.Context, p connectors.Push) (connectors.Pushed, error) {
	if p.Caller == "" {
		return connectors.Pushed{}, ErrNoCaller
	}
	unlock := h.lock(p.Facts)
	defer unlock()

	var out connectors.Pushed
	var receiptID uuid.UUID
	// The ingest runs in a savepoint of a transaction begun only when the store asks
	// for it, after the persons are resolved on a connection of their own: a push never
	// holds two connections at once, so concurrent pushes cannot starve the pool.
	db := &deferredTx{pool: h.Store.Pool()}
	defer db.rollback(ctx)
	err := func() error {
		// The audit names who pushed: the instance and its authenticated caller.
		ing, err := h.Ingester.IngestBy(ctx, db, h.Name, h.Name+":"+p.Caller, p.Facts, nil)
		if err != nil {
			return err
		}
		if db.tx == nil {
			return errors.New("the ingest did not begin a transaction")
		}
		tx := db.tx
		msgs := receiptMessages(p.Facts, ing)
		fresh := false
		var facts []canonical.FactID
		for _, m := range msgs {
			switch {
			case m.Outcome == store.ReceiptAccepted || m.Outcome == store.ReceiptQuarantined || m.Fact == nil:
				fresh = true
			default:
				facts = append(facts, *m.Fact)
			}
		}
		if !fresh && len(facts) > 0 {
			id, found, err := h.Store.FindReceipt(ctx, tx, h.Name, p.Caller, facts)
			if err != nil {
				return err
			}
			if found {
				receiptID, out.Replay = id, true
				return tx.Commit(ctx) // the duplicates' audit rows
			}
		}
		receiptID = uuid.New()
		if _, err := h.Store.InsertReceipt(ctx, tx, store.NewReceipt{ID: receiptID, Connector: h.Name, Caller: p.Caller,
			Reference: p.Reference, Messages: msgs}); err != nil {
			return err
		}
		return tx.Commit(ctx)
	}()
	if err != nil {
		return connectors.Pushed{}, fmt.Errorf("pipeline: push to %s: %w", h.Name, err)
	}
	out.ReceiptID = receiptID.String()
	out.Receipt, err = h.Receipt(ctx, p.Caller, out.ReceiptID)
	if err != nil {
		// Committed: the receipt exists even if it cannot be read back at once.
		return out, fmt.Errorf("pipeline: push to %s committed, receipt %s unreadable: %w", h.Name, out.ReceiptID, err)
	}
	return out, nil
}

// deferredTx is a store.Beginner that begins its transaction on the pool at the first
// Begin, and answers every Begin with a savepoint of it.
type deferredTx struct {
	pool *pgxpool.Pool
	tx   pgx.Tx
}

// Begin implements store.Beginner.
func (d *deferredTx) Begin(ctx context.Context) (pgx.Tx, error) {
	if d.tx == nil {
		tx, err := d.pool.Begin(ctx)
		if err != nil {
			return nil, fmt.Errorf("begin: %w", err)
		}
		d.tx = tx
	}
	sp, err := d.tx.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("savepoint: %w", err)
	}
	return sp, nil
}

// rollback ends the transaction if it was not committed.
func (d *deferredTx) rollback(ctx context.Context) {
	if d.tx != nil {
		_ = d.tx.Rollback(context.WithoutCancel(ctx)) // after a commit: pgx.ErrTxClosed, nothing to do
	}
}

// receiptMessages lists the push's messages with what ingest decided for each.
func receiptMessages(facts []connectors.Fact, ing Ingested) []store.ReceiptMessage {
	outcome := make(map[*canonical.Message]store.MessageOutcome, len(ing.Messages))
	for k, m := range ing.Messages {
		if k < len(ing.Outcomes) {
			outcome[m] = ing.Outcomes[k]
		}
	}
	// Conflicts are quarantined after the rejections and the held messages, in the
	// order of the messages.
	nextConflict := len(ing.Rejected) + len(ing.Held)
	var out []store.ReceiptMessage
	for i, f := range facts {
		if qid, rejected := ing.Rejected[i]; rejected {
			n := max(len(f.Messages), 1)
			for j := range n {
				rm := store.ReceiptMessage{FactIndex: i, MessageIndex: j, Outcome: store.ReceiptQuarantined, QuarantineID: qid, Fact: f.Fact}
				if j < len(f.Messages) {
					rm.MessageID, _ = uuid.Parse(f.Messages[j].ID)
					rm.Fact = factOf(f.Messages[j])
				}
				if rm.MessageID == uuid.Nil {
					rm.MessageID = uuid.New() // an input that never became a message
				}
				out = append(out, rm)
			}
			continue
		}
		for j, m := range f.Messages {
			rm := store.ReceiptMessage{FactIndex: i, MessageIndex: j, Fact: factOf(m)}
			if _, held := ing.Held[m]; held {
				// Accepted: it waits for an identity review, then goes on under its
				// own message id, which the receipt follows.
				rm.Outcome = store.ReceiptAccepted
				rm.MessageID, _ = uuid.Parse(m.ID)
				if rm.MessageID == uuid.Nil {
					rm.MessageID = uuid.New()
				}
				out = append(out, rm)
				continue
			}
			mo := outcome[m]
			rm.MessageID = mo.ID
			switch mo.Outcome {
			case store.Accepted:
				rm.Outcome = store.ReceiptAccepted
			case store.Duplicate:
				rm.Outcome, rm.MessageID = store.ReceiptDuplicate, mo.Current
			case store.Stale:
				rm.Outcome, rm.Current = store.ReceiptStale, mo.Current
			default: // Conflict: same version, other content; quarantined by the store
				rm.Outcome = store.ReceiptQuarantined
				if nextConflict < len(ing.Quarantined) {
					rm.QuarantineID = ing.Quarantined[nextConflict]
				}
				nextConflict++
			}
			if rm.MessageID == uuid.Nil {
				rm.MessageID = uuid.New()
			}
			out = append(out, rm)
		}
	}
	return out
}

func factOf(m *canonical.Message) *canonical.FactID {
	if m.FactSystem == "" && m.FactRef == "" {
		return nil
	}
	return &canonical.FactID{System: m.FactSystem, Ref: m.FactRef, Version: m.FactVersion}
}

// lock takes the stripes of the facts' references, in order, and returns the unlock.
func (h *PushHost) lock(facts []connectors.Fact) func() {
	var idx []int
	for _, f := range facts {
		for _, m := range f.Messages {
			hs := fnv.New32a()
			_, _ = hs.Write([]byte(m.FactSystem + "\x00" + m.FactRef))
			idx = append(idx, int(hs.Sum32()%pushStripes))
		}
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	for _, i := range idx {
		h.stripes[i].Lock()
	}
	return func() {
		for _, i := range slices.Backward(idx) {
			h.stripes[i].Unlock()
		}
	}
}

// Receipt implements connectors.Host.
func (h *PushHost) Receipt(ctx context.Context, caller, id string) (connectors.PushReceipt, error) {
	rid, err := uuid.Parse(id)
	if err != nil || caller == "" {
		return connectors.PushReceipt{}, connectors.ErrNoReceipt
	}
	v, err := h.Store.Receipt(ctx, h.Name, caller, rid)
	if errors.Is(err, store.ErrNotFound) {
		return connectors.PushReceipt{}, connectors.ErrNoReceipt
	}
	if err != nil {
		return connectors.PushReceipt{}, fmt.Errorf("pipeline: receipt of %s: %w", h.Name, err)
	}
	r := connectors.PushReceipt{ID: v.ID.String(), Caller: v.Caller, Reference: v.Reference, ReceivedAt: v.ReceivedAt,
		Messages: make([]connectors.PushMessage, len(v.Messages))}
	for i, m := range v.Messages {
		r.Messages[i] = pushMessage(m)
	}
	return r, nil
}

// pushMessage says where a receipt's message stands: quarantined wins over
// everything, then delivered once every destination has an outcome, then relayed once
// on Kafka.
func pushMessage(m store.ReceiptMessageState) connectors.PushMessage {
	pm := connectors.PushMessage{Fact: m.FactIndex, Index: m.MessageIndex, MessageID: m.MessageID.String()}
	for _, d := range m.Deliveries {
		pm.Deliveries = append(pm.Deliveries, connectors.PushDelivery{Destination: d.Destination, Status: d.Status, At: d.UpdatedAt,
			Receipt: d.Receipt, Reason: d.LastError, QuarantineID: d.QuarantineID})
	}
	switch m.Outcome {
	case store.ReceiptStale:
		pm.State = connectors.StateStale
		if m.Current != uuid.Nil {
			pm.Current = m.Current.String()
		}
		return pm
	case store.ReceiptQuarantined:
		pm.State, pm.QuarantineID, pm.Reason = connectors.StateQuarantined, m.QuarantineID, m.QuarantineReason
		return pm
	}
	done, delivered := 0, 0
	for _, d := range m.Deliveries {
		switch d.Status {
		case store.StatusQuarantined:
			pm.State, pm.QuarantineID, pm.Reason = connectors.StateQuarantined, d.QuarantineID, d.LastError
			return pm
		case store.StatusDelivered:
			done++
			delivered++
		case store.StatusSuperseded:
			done++
		}
	}
	switch {
	case len(m.Deliveries) > 0 && done == len(m.Deliveries) && delivered > 0:
		pm.State = connectors.StateDelivered
	case len(m.Deliveries) > 0 && done == len(m.Deliveries):
		pm.State = connectors.StateSuperseded
	case m.Published:
		pm.State = connectors.StateRelayed
	default:
		pm.State = connectors.StateAccepted
	}
	return pm
}

// Audit implements connectors.Host.
func (h *PushHost) Audit(ctx context.Context, e connectors.AuditEntry) error {
	if err := h.Store.Audit(ctx, store.AuditEntry{Actor: h.Name, Action: e.Action, Outcome: e.Outcome, Reference: e.Reference}); err != nil {
		return fmt.Errorf("pipeline: audit of %s: %w", h.Name, err)
	}
	return nil
}
