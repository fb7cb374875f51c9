package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap"

	"passerelle/canonical"
	"passerelle/connectors"
	"passerelle/internal/logging"
	"passerelle/pipeline/store"
)

// ErrNoCaller is Accept's error for a push without a caller, whose receipt nobody could read.
var ErrNoCaller = errors.New("pipeline: a push needs its caller")

// maxGroup is the most pushes committed together.
const maxGroup = 64

// PushHost is the hub's connectors.Host for one push source instance: Accept runs the
// Ingester inside a transaction that also records the receipt, so that the receipt and
// the facts it promises commit together (the ingest itself runs in a savepoint of it).
// It is safe for concurrent use.
//
// Concurrent pushes are committed in groups (group commit): what arrived while the
// previous group committed, up to maxGroup pushes — a single push when the flow is
// quiet, without waiting for company — is prepared at once (one resolution of the
// persons) and committed in one transaction with every push's receipt, after which
// each caller gets its own answer. A group is prepared while the previous one commits;
// the commits are one at a time. The pushes of a group are ingested caller by caller
// (one store ingest per caller, in savepoints of the group's transaction, for the
// audit names each push's caller), each caller's in their order of arrival, so that two
// pushes of the same fact at the same moment are ordered: the second one sees the
// first as a duplicate and gets its receipt. A push's refused facts are quarantined as
// if it were alone; a group whose transaction PostgreSQL refuses because of one push's
// data is committed again push by push, so that this push alone fails; any other
// failure fails every push of the group and commits nothing. Across hub processes
// the store's dedup still keeps one outbox row per version at the destination (the
// idempotency key is the fact's), but both pushes may then get a receipt of their own.
type PushHost struct {
	// Name is the push source instance: the connector of its facts and the actor of
	// its audit rows.
	Name     string
	Ingester *Ingester
	Store    *store.Store
	Log      *zap.Logger

	mu      sync.Mutex
	queue   []*pushRequest // waiting for a group, in order of arrival
	running bool           // a goroutine prepares the groups
	// committed is closed when the last group's commit is over: the next group's
	// commit waits for it.
	committed <-chan struct{}
}

var _ connectors.Host = (*PushHost)(nil)

// pushRequest is one Accept waiting for its group.
type pushRequest struct {
	ctx  context.Context
	push connectors.Push
	done chan pushAnswer // buffered: the committer never waits for the caller
	// taken (the request is in a group) and dropped (its caller gave up while it
	// waited) are guarded by the host's mu.
	taken, dropped bool
}

// pushAnswer is what Accept returns.
type pushAnswer struct {
	out connectors.Pushed
	err error
}

// Accept implements connectors.Host.
func (h *PushHost) Accept(ctx context.Context, p connectors.Push) (connectors.Pushed, error) {
	if p.Caller == "" {
		return connectors.Pushed{}, ErrNoCaller
	}
	if err := ctx.Err(); err != nil {
		return connectors.Pushed{}, fmt.Errorf("pipeline: push to %s: %w", h.Name, err)
	}
	r := &pushRequest{ctx: ctx, push: p, done: make(chan pushAnswer, 1)}
	h.mu.Lock()
	h.queue = append(h.queue, r)
	if !h.running {
		h.running = true
		go h.commitGroups()
	}
	h.mu.Unlock()
	select {
	case a := <-r.done:
		return a.out, a.err
	case <-ctx.Done():
		h.mu.Lock()
		if !r.taken {
			r.dropped = true
			h.mu.Unlock()
			return connectors.Pushed{}, fmt.Errorf("pipeline: push to %s: %w", h.Name, ctx.Err())
		}
		h.mu.Unlock()
		// In a group already: whether it committed is the answer.
		a := <-r.done
		return a.out, a.err
	}
}

// commitGroups commits the waiting pushes, group after group, until none waits. It
// prepares a group while the previous one commits; the commits are one at a time, in
// order, and the receipts are read back while the next group commits.
func (h *PushHost) commitGroups() {
	h.mu.Lock()
	prev := h.committed
	h.mu.Unlock()
	for {
		h.mu.Lock()
		var group []*pushRequest
		n := 0
		for _, r := range h.queue {
			if len(group) == maxGroup {
				break
			}
			n++
			if !r.dropped {
				r.taken = true
				group = append(group, r)
			}
		}
		rest := h.queue[n:]
		clear(h.queue[:n])
		h.queue = rest
		if len(group) == 0 {
			h.running, h.queue, h.committed = false, nil, prev
			h.mu.Unlock()
			return
		}
		h.mu.Unlock()
		g := h.prepareGroup(group)
		if prev != nil {
			<-prev
		}
		done := make(chan struct{})
		go h.commitGroup(g, done)
		prev = done
	}
}

// pushGroup is a group of pushes on its way.
type pushGroup struct {
	requests []*pushRequest
	ctx      context.Context
	stop     func()
	// unresolved are the messages whose persons the group's preparation resolved, to
	// resolve them again if it is retried push by push (a message that comes with its
	// subject is not checked for an identity review).
	unresolved []*canonical.Message
	facts      []connectors.Fact // every fact of the group
	pushOf     []int             // the push of each fact
	first      []int             // the index of each push's first fact
	msgPush    map[*canonical.Message]int
	prepared   *Prepared
	err        error // of the preparation
}

// prepareGroup prepares the facts of a group at once: the persons are resolved before
// its transaction begins, on a connection of their own, so that a group never holds
// two connections at once and cannot starve the pool.
func (h *PushHost) prepareGroup(requests []*pushRequest) (g *pushGroup) {
	g = &pushGroup{requests: requests, first: make([]int, len(requests)), msgPush: map[*canonical.Message]int{}}
	g.ctx, g.stop = groupContext(requests)
	defer h.recoverGroup(func() { g.err = errGroupPanic })
	for i, r := range requests {
		g.first[i] = len(g.facts)
		for _, f := range r.push.Facts {
			g.facts = append(g.facts, f)
			g.pushOf = append(g.pushOf, i)
			for _, m := range f.Messages {
				g.msgPush[m] = i
				if m.Subject == "" {
					g.unresolved = append(g.unresolved, m)
				}
			}
		}
	}
	g.prepared, g.err = h.Ingester.Prepare(g.ctx, h.Name, "", g.facts)
	return g
}

// errGroupPanic answers the pushes of a group whose work panicked.
var errGroupPanic = errors.New("the push group's work panicked")

// recoverGroup, deferred, turns a panic of a group's work into its pushes' error (and
// a log line with the stack, without the panic's value, which might quote data), as
// the panic of a request's handler would have been: the hub goes on.
func (h *PushHost) recoverGroup(fail func()) {
	if v := recover(); v != nil {
		h.Log.Error("push group panicked", logging.Connector(h.Name), zap.Stack("stack"))
		fail()
	}
}

// commitGroup commits a prepared group, closes done, then reads the receipts back and
// answers each caller.
func (h *PushHost) commitGroup(g *pushGroup, done chan struct{}) {
	defer g.stop()
	closed := false
	defer h.recoverGroup(func() {
		if !closed {
			close(done)
		}
		for _, r := range g.requests {
			select { // the callers not answered yet
			case r.done <- pushAnswer{err: fmt.Errorf("pipeline: push to %s: %w", h.Name, errGroupPanic)}:
			default:
			}
		}
	})
	var (
		receipts []uuid.UUID
		replay   []bool
	)
	err := g.err
	if err == nil {
		receipts, replay, err = h.commitPrepared(g)
	}
	if err != nil && len(g.requests) > 1 && (isDataError(err) || errors.Is(err, errGroupPanic)) {
		// Refused by PostgreSQL for one push's data, or a push's data made its
		// preparation panic: nothing was committed, each push goes again alone, so
		// that only that one fails.
		h.Log.Warn("push group refused, committing its pushes one by one", logging.Connector(h.Name), logging.Count(len(g.requests)))
		for _, m := range g.unresolved {
			m.Subject = ""
		}
		for _, r := range g.requests {
			single := make(chan struct{})
			h.commitGroup(h.prepareGroup([]*pushRequest{r}), single)
		}
		closed = true
		close(done)
		return
	}
	closed = true
	close(done)
	if err != nil {
		for _, r := range g.requests {
			r.done <- pushAnswer{err: fmt.Errorf("pipeline: push to %s: %w", h.Name, err)}
		}
		return
	}
	for i, a := range h.readBack(g, receipts, replay) {
		g.requests[i].done <- a
	}
}

// commitPrepared commits a prepared group, with every push's receipt, in one
// transaction, and returns each push's receipt id and whether it is an earlier one. An
// error means nothing was committed.
func (h *PushHost) commitPrepared(g *pushGroup) ([]uuid.UUID, []bool, error) {
	ctx, group := g.ctx, g.requests
	byCaller := h.splitByCaller(group, g.prepared, g.pushOf, g.msgPush)
	tx, err := h.Store.Pool().Begin(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }() // after a commit: pgx.ErrTxClosed, nothing to do

	views := make([]pushIngest, len(group))
	for i := range views {
		views[i] = pushIngest{rejected: map[int]int64{}, held: map[*canonical.Message]int64{},
			outcome: map[*canonical.Message]store.MessageOutcome{}, conflict: map[*canonical.Message]int64{}}
	}
	for _, sub := range byCaller {
		if len(sub.out.Messages) == 0 && len(sub.rejections) == 0 {
			continue
		}
		// The audit names who pushed: the instance and its authenticated caller.
		ing, err := h.Ingester.Commit(ctx, savepoints{tx}, sub, nil)
		if err != nil {
			return nil, nil, err
		}
		// Conflicts are quarantined after the rejections and the held messages, in the
		// order of the messages.
		next := len(sub.rejections)
		for k, m := range ing.Messages {
			if k >= len(ing.Outcomes) {
				break
			}
			mo := ing.Outcomes[k]
			v := views[g.pushOf[ing.FactOf[k]]]
			v.outcome[m] = mo
			if mo.Outcome == store.Conflict {
				if next < len(ing.Quarantined) {
					v.conflict[m] = ing.Quarantined[next]
				}
				next++
			}
		}
		for f, qid := range ing.Rejected {
			views[g.pushOf[f]].rejected[f-g.first[g.pushOf[f]]] = qid
		}
		for m, qid := range ing.Held {
			views[g.msgPush[m]].held[m] = qid
		}
	}

	// The receipts, in the order of the pushes: a push of duplicates only is answered
	// with the receipt that recorded them first, perhaps one of this group, so the
	// receipts of its caller waiting to be written are written before it looks.
	ids := make([]uuid.UUID, len(group))
	replay := make([]bool, len(group))
	var pending []store.NewReceipt
	pendingCallers := map[string]bool{}
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		if _, err := h.Store.InsertReceipts(ctx, tx, pending); err != nil {
			return err
		}
		pending = pending[:0]
		clear(pendingCallers)
		return nil
	}
	for i, r := range group {
		p := r.push
		msgs := receiptMessages(p.Facts, views[i])
		fresh := false
		var known []canonical.FactID
		for _, m := range msgs {
			switch {
			case m.Outcome == store.ReceiptAccepted || m.Outcome == store.ReceiptQuarantined || m.Fact == nil:
				fresh = true
			default:
				known = append(known, *m.Fact)
			}
		}
		if !fresh && len(known) > 0 {
			if pendingCallers[p.Caller] {
				if err := flush(); err != nil {
					return nil, nil, err
				}
			}
			id, found, err := h.Store.FindReceipt(ctx, tx, h.Name, p.Caller, known)
			if err != nil {
				return nil, nil, err
			}
			if found {
				ids[i], replay[i] = id, true
				continue
			}
		}
		ids[i] = uuid.New()
		pending = append(pending, store.NewReceipt{ID: ids[i], Connector: h.Name, Caller: p.Caller, Reference: p.Reference, Messages: msgs})
		pendingCallers[p.Caller] = true
	}
	if err := flush(); err != nil {
		return nil, nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, nil, fmt.Errorf("commit: %w", err)
	}
	return ids, replay, nil
}

// readBack reads a committed group's receipts, in one go, into each push's answer; a
// receipt that cannot be read back is its answer's error, with its id.
func (h *PushHost) readBack(g *pushGroup, ids []uuid.UUID, replay []bool) []pushAnswer {
	answers := make([]pushAnswer, len(g.requests))
	keys := make([]store.ReceiptKey, len(g.requests))
	for i, r := range g.requests {
		answers[i].out.ReceiptID, answers[i].out.Replay = ids[i].String(), replay[i]
		keys[i] = store.ReceiptKey{Caller: r.push.Caller, ID: ids[i]}
	}
	read, err := h.Store.Receipts(g.ctx, h.Name, keys)
	for i := range answers {
		v, ok := read[ids[i]]
		if err == nil && ok {
			answers[i].out.Receipt = receiptOf(v)
			continue
		}
		cause := err
		if cause == nil {
			cause = store.ErrNotFound
		}
		// Committed: the receipt exists even if it cannot be read back at once.
		answers[i].err = fmt.Errorf("pipeline: push to %s committed, receipt %s unreadable: %w", h.Name, answers[i].out.ReceiptID, cause)
	}
	return answers
}

// groupContext is the context of a group's work: it keeps the first caller's values
// and ends when every caller of the group has given up.
func groupContext(group []*pushRequest) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(group[0].ctx))
	var left atomic.Int64
	left.Store(int64(len(group)))
	stops := make([]func() bool, len(group))
	for i, r := range group {
		stops[i] = context.AfterFunc(r.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}

// isDataError tells whether PostgreSQL refused what was written rather than failed
// (data exceptions, integrity constraints, program limits such as an index row too
// large).
func isDataError(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || len(pe.Code) < 2 {
		return false
	}
	switch pe.Code[:2] {
	case "22", "23", "54":
		return true
	}
	return false
}

// pushIngest is what ingest decided for the messages of one push of a group.
type pushIngest struct {
	rejected map[int]int64 // the push's rejected facts (by index in the push): quarantine ids
	held     map[*canonical.Message]int64
	outcome  map[*canonical.Message]store.MessageOutcome
	conflict map[*canonical.Message]int64 // quarantine ids of the conflicts
}

// splitByCaller divides a group's prepared facts into one prepared batch per caller,
// in order of the callers' first push, each audited as the instance and that caller.
// Fact indexes stay the group's.
func (h *PushHost) splitByCaller(group []*pushRequest, prep *Prepared, pushOf []int, msgPush map[*canonical.Message]int) []*Prepared {
	var subs []*Prepared
	index := map[string]int{}
	held := map[string][]store.Rejection{} // the held messages' rejections, after the others
	of := func(push int) *Prepared {
		c := group[push].push.Caller
		k, ok := index[c]
		if !ok {
			k = len(subs)
			index[c] = k
			subs = append(subs, &Prepared{connector: prep.connector, actor: h.Name + ":" + c,
				out: Ingested{Rejected: map[int]int64{}, Held: map[*canonical.Message]int64{}}})
		}
		return subs[k]
	}
	for k, m := range prep.out.Messages {
		sub := of(pushOf[prep.out.FactOf[k]])
		sub.out.Messages = append(sub.out.Messages, m)
		sub.out.FactOf = append(sub.out.FactOf, prep.out.FactOf[k])
	}
	for k := range prep.nRejected {
		sub := of(pushOf[prep.rejFact[k]])
		sub.rejections = append(sub.rejections, prep.rejections[k])
		sub.rejFact = append(sub.rejFact, prep.rejFact[k])
	}
	for k, m := range prep.held {
		sub := of(msgPush[m])
		sub.held = append(sub.held, m)
		held[sub.actor] = append(held[sub.actor], prep.rejections[prep.nRejected+k])
	}
	for _, sub := range subs {
		sub.nRejected = len(sub.rejections)
		sub.rejections = append(sub.rejections, held[sub.actor]...)
	}
	return subs
}

// savepoints is a store.Beginner that answers every Begin with a savepoint of tx.
type savepoints struct{ tx pgx.Tx }

// Begin implements store.Beginner.
func (s savepoints) Begin(ctx context.Context) (pgx.Tx, error) {
	sp, err := s.tx.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("savepoint: %w", err)
	}
	return sp, nil
}

// receiptMessages lists the push's messages with what ingest decided for each.
func receiptMessages(facts []connectors.Fact, ing pushIngest) []store.ReceiptMessage {
	var out []store.ReceiptMessage
	for i, f := range facts {
		if qid, rejected := ing.rejected[i]; rejected {
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
			if _, held := ing.held[m]; held {
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
			mo := ing.outcome[m]
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
				rm.QuarantineID = ing.conflict[m]
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
	return receiptOf(v), nil
}

// receiptOf is a receipt as its caller reads it.
func receiptOf(v store.ReceiptView) connectors.PushReceipt {
	r := connectors.PushReceipt{ID: v.ID.String(), Caller: v.Caller, Reference: v.Reference, ReceivedAt: v.ReceivedAt,
		Messages: make([]connectors.PushMessage, len(v.Messages))}
	for i, m := range v.Messages {
		r.Messages[i] = pushMessage(m)
	}
	return r
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
