package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"passerelle/canonical"
	"passerelle/connectors"
	"passerelle/internal/logging"
	"passerelle/pipeline/bus"
	"passerelle/pipeline/store"
)

// Consumer is one consumer group's reader (bus.Consumer).
type Consumer interface {
	Fetch(ctx context.Context) (kafka.Message, error)
	Commit(ctx context.Context, msgs ...kafka.Message) error
}

// ErrDestinationStopped is returned by Deliverer.Run when most recent deliveries failed
// permanently: an outage of the destination (or a change of its contract) must not
// fill the quarantine. The hub then pauses the destination's routes (Running.deliver),
// and an operator resumes them once the cause is understood.
var ErrDestinationStopped = errors.New("destination stopped")

// Deliverer delivers one destination's messages: one consumer group, several lanes.
// A person's messages always take the same lane (the Kafka key is the person), so they
// are delivered in order; different persons are delivered concurrently.
type Deliverer struct {
	Destination string
	Sink        connectors.Sink
	Store       *store.Store
	Routing     *Routing
	Consumer    Consumer
	Log         *zap.Logger
	// Lanes is the number of concurrent deliveries. Default 16.
	Lanes int
	// BackoffMin and BackoffMax bound retry waits. Defaults 200ms and 30s.
	BackoffMin, BackoffMax time.Duration
	// Timeout bounds one attempt. Default 10s.
	Timeout time.Duration
	// FailureWindow and FailureRatio: the destination stops when FailureRatio of the
	// last FailureWindow outcomes were permanent failures. Defaults 50 and 0.8.
	FailureWindow int
	FailureRatio  float64
	// FlushEvery bounds how long an outcome waits to be recorded. Default 10ms.
	FlushEvery time.Duration
	// Metrics, when set, count outcomes, latency, retries and consumer lag.
	Metrics *Metrics
	// Controls, when set, pause routes: the deliverer stops fetching while every route
	// of Routes is paused, and a message of a paused route waits in its lane until the
	// route is resumed.
	Controls *Controls
	// Routes are the names of the routes to this destination.
	Routes []string
}

// routeOf returns the route that carries typ to the destination ("" when none does:
// there is one route per type and destination).
func (d *Deliverer) routeOf(typ string) string {
	for _, t := range d.Routing.Targets(typ) {
		if t.Destination == d.Destination {
			return t.Route
		}
	}
	return ""
}

// allPaused reports whether every route to the destination is paused.
func (d *Deliverer) allPaused() bool {
	if d.Controls == nil || len(d.Routes) == 0 {
		return false
	}
	for _, r := range d.Routes {
		if !d.Controls.RoutePaused(r) {
			return false
		}
	}
	return true
}

func (d *Deliverer) defaults() {
	if d.Lanes == 0 {
		d.Lanes = 16
	}
	if d.BackoffMin == 0 {
		d.BackoffMin = 200 * time.Millisecond
	}
	if d.BackoffMax == 0 {
		d.BackoffMax = 30 * time.Second
	}
	if d.Timeout == 0 {
		d.Timeout = 10 * time.Second
	}
	if d.FailureWindow == 0 {
		d.FailureWindow = 50
	}
	if d.FailureRatio == 0 {
		d.FailureRatio = 0.8
	}
	if d.FlushEvery == 0 {
		d.FlushEvery = 10 * time.Millisecond
	}
}

// work is one fetched message on its way.
type work struct {
	km kafka.Message
	// msg is km decoded (nil when it is not a canonical message: err says why), and
	// state its delivery state at the destination, read with those of the messages
	// fetched with it (routed is false when no route carries it there).
	msg    *canonical.Message
	id     uuid.UUID
	err    error
	state  store.DeliveryState
	routed bool

	outcome *store.DeliveryOutcome // nil: nothing to record (already recorded elsewhere)
	links   []store.Identifier
	subject string
	took    time.Duration // from the first attempt to the outcome
}

// Run delivers until ctx ends (nil) or the destination stops (ErrDestinationStopped).
func (d *Deliverer) Run(ctx context.Context) error {
	d.defaults()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	lanes := make([]chan *work, d.Lanes)
	// Each lane remembers the newest version of each fact it delivered: an outcome is
	// recorded a few milliseconds after the delivery, and an older version of the same
	// fact (same person, so same lane) must not slip through in between.
	recent := make([]*laneVersions, d.Lanes)
	done := make(chan *work, 4*d.Lanes)
	offsets := newOffsetTracker()
	breaker := newBreaker(d.FailureWindow, d.FailureRatio)

	var wg sync.WaitGroup
	for i := range lanes {
		lanes[i] = make(chan *work, 64)
		recent[i] = newLaneVersions()
		wg.Go(func() {
			for w := range lanes[i] {
				if ctx.Err() != nil {
					continue // drain: not recorded, not committed, redelivered later
				}
				if err := d.handle(ctx, w, breaker, recent[i]); err != nil {
					cancel(err)
					continue
				}
				if w.outcome == nil && ctx.Err() != nil {
					// Interrupted (an attempt cut short, a pause that outlived the run),
					// not done: handed to the recorder, its offset would be committed
					// with its delivery still pending, and only the sweeper would send
					// it again. Left out, it is fetched again from the last commit.
					continue
				}
				select {
				case done <- w:
				case <-ctx.Done():
				}
			}
		})
	}

	recorderDone := make(chan struct{})
	go func() {
		defer close(recorderDone)
		d.record(ctx, done, offsets)
	}()

	fetched := make(chan *work, stateBatch)
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		d.dispatch(ctx, fetched, lanes)
	}()
	fetchErr := d.fetch(ctx, fetched, offsets)
	close(fetched)
	<-dispatched
	for _, l := range lanes {
		close(l)
	}
	wg.Wait()
	cancel(fetchErr)
	<-recorderDone
	if cause := context.Cause(ctx); errors.Is(cause, ErrDestinationStopped) {
		return cause
	}
	return nil
}

func (d *Deliverer) fetch(ctx context.Context, fetched chan<- *work, offsets *offsetTracker) error {
	for {
		if d.allPaused() {
			// Paused: fetch nothing (the consumer keeps its group membership); what
			// arrives meanwhile waits in Kafka, its deliveries pending in PostgreSQL.
			sleep(ctx, pausePoll)
			if ctx.Err() != nil {
				return nil
			}
			continue
		}
		km, err := d.Consumer.Fetch(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			d.Log.Warn("fetch", logging.Destination(d.Destination), zap.Error(err))
			sleep(ctx, time.Second)
			continue
		}
		offsets.fetched(km)
		d.Metrics.fetched(d.Destination, km)
		select {
		case fetched <- &work{km: km}:
		case <-ctx.Done():
			return nil
		}
	}
}

// stateBatch is the most messages whose delivery states are read at once.
const stateBatch = 256

// dispatch takes the fetched messages in groups — what has arrived while the previous
// group was read, up to stateBatch: one message when the flow is quiet, many under
// load, never a wait — reads their delivery states in one query, and hands each to
// its person's lane. One query per message was the deliverers' largest cost in
// PostgreSQL.
func (d *Deliverer) dispatch(ctx context.Context, fetched <-chan *work, lanes []chan *work) {
	batch := make([]*work, 0, stateBatch)
	for {
		w, ok := <-fetched
		if !ok {
			return
		}
		batch = append(batch[:0], w)
	more:
		for len(batch) < stateBatch {
			select {
			case w, ok := <-fetched:
				if !ok {
					break more
				}
				batch = append(batch, w)
			default:
				break more
			}
		}
		d.readStates(ctx, batch)
		for _, w := range batch {
			h := fnv.New32a()
			_, _ = h.Write(w.km.Key)
			select {
			case lanes[h.Sum32()%uint32(len(lanes))] <- w:
			case <-ctx.Done():
				return // not recorded, not committed: redelivered later
			}
		}
	}
}

// readStates decodes the messages of batch and reads their delivery states, retrying
// until PostgreSQL answers or ctx ends.
func (d *Deliverer) readStates(ctx context.Context, batch []*work) {
	ids := make([]uuid.UUID, 0, len(batch))
	for _, w := range batch {
		w.msg, w.err = bus.FromKafka(w.km)
		if w.err != nil {
			continue
		}
		var err error
		if w.id, err = uuid.Parse(w.msg.ID); err != nil {
			w.msg, w.err = nil, errMessageID
			continue
		}
		ids = append(ids, w.id)
	}
	if len(ids) == 0 {
		return
	}
	states, err := d.states(ctx, ids)
	if err != nil {
		return // ctx ended: the lanes drop these messages
	}
	for _, w := range batch {
		if w.msg != nil {
			w.state, w.routed = states[w.id]
		}
	}
}

var errMessageID = errors.New("message id is not a UUID")

// states reads the delivery states of ids, retrying until PostgreSQL answers or ctx
// ends.
func (d *Deliverer) states(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]store.DeliveryState, error) {
	for {
		states, err := d.Store.DeliveryStates(ctx, d.Destination, ids, d.newestWins())
		if err == nil {
			return states, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		d.Log.Warn("read delivery states", logging.Destination(d.Destination), logging.Count(len(ids)), zap.Error(err))
		sleep(ctx, time.Second)
	}
}

type factKey struct{ system, ref string }

// laneMemory is how many facts a generation of a lane's memory holds. An entry must
// outlive the moment its outcome is recorded, and then every message of the lane whose
// state was read before that moment: the recorder holds at most two batches of outcomes
// unrecorded (2 × recordBatch, all lanes together) and a lane's queue 64 messages, so
// every entry is looked at by those within fewer than 2,200 later deliveries of its
// lane. After that the state read from PostgreSQL says a newer version was delivered.
const laneMemory = 4096

// laneVersions is a lane's memory of the newest version of each fact it delivered, in
// two generations: when the current one is full it becomes the previous one, and the
// one before is dropped. Each entry lives for at least laneMemory later deliveries,
// and a lane holds at most twice that: at 2,000,000 APPI rows the memory had grown
// with every fact a lane had seen (up to 100,000 a lane, then cleared at once, which
// could drop an entry just made). Its keys are copies: a message's attributes are
// substrings of one string of all its headers (bus.FromKafka), which a key would keep
// whole (45 MB of the hub's 92 in a heap profile of a 1,000,000-row backfill).
type laneVersions struct{ cur, prev map[factKey]int64 }

func newLaneVersions() *laneVersions {
	return &laneVersions{cur: make(map[factKey]int64, laneMemory), prev: map[factKey]int64{}}
}

// newer reports whether the lane delivered a version of k newer than version.
func (l *laneVersions) newer(k factKey, version int64) bool {
	if v, ok := l.cur[k]; ok && v > version {
		return true
	}
	v, ok := l.prev[k]
	return ok && v > version
}

// delivered records that version of k was delivered.
func (l *laneVersions) delivered(k factKey, version int64) {
	if v, ok := l.cur[k]; ok {
		l.cur[k] = max(v, version)
		return
	}
	if len(l.cur) >= laneMemory {
		l.prev, l.cur = l.cur, make(map[factKey]int64, laneMemory)
	}
	l.cur[factKey{strings.Clone(k.system), strings.Clone(k.ref)}] = max(l.prev[k], version)
}

// newestWins reports whether the destination keeps the newest version of a fact
// itself (connectors.NewestWins), so that a version whose newer one is already waiting
// need not be sent.
func (d *Deliverer) newestWins() bool {
	nw, ok := d.Sink.(connectors.NewestWins)
	return ok && nw.NewestWins()
}

// handle decides the outcome of one message, delivering it when it must be.
func (d *Deliverer) handle(ctx context.Context, w *work, br *breaker, recent *laneVersions) error {
	m := w.msg
	if m == nil {
		if w.err == nil {
			return nil // shutting down before its state was read
		}
		// Not a canonical message: nothing the hub published. Log and move on.
		d.Log.Error("not a canonical message", logging.Topic(w.km.Topic), logging.Partition(w.km.Partition),
			logging.Offset(w.km.Offset), zap.Error(w.err))
		return nil
	}
	id := w.id
	st, routed := w.state, w.routed
	waited := false
	for d.Controls.RoutePaused(d.routeOf(m.Type)) {
		// Fetched before the pause took effect, or another route of the destination
		// is still running: the message waits here, unrecorded, until the resume.
		waited = true
		sleep(ctx, pausePoll)
		if ctx.Err() != nil {
			return nil
		}
	}
	if waited {
		// The state read with its batch may be old now.
		states, err := d.states(ctx, []uuid.UUID{id})
		if err != nil {
			return nil
		}
		st, routed = states[id]
	}
	if !routed || st.Status != store.StatusPending {
		return nil // not routed here, or its outcome is already recorded
	}
	route := d.Routing.Route(st.Route)
	out := &store.DeliveryOutcome{MessageID: id, Destination: d.Destination, Route: st.Route, Attempts: st.Attempts}
	w.outcome, w.subject = out, m.Subject
	if route != nil {
		out.LegalBasis = route.LegalBasis
	}
	fk := factKey{m.FactSystem, m.FactRef}
	if st.NewerDelivered || recent.newer(fk, m.FactVersion) || (st.NewerPending && d.newestWins()) {
		out.Status = store.StatusSuperseded
		return nil
	}
	// The original message, kept in quarantine for a replay: encoded only on that way.
	raw := func() []byte { b, _ := json.Marshal(m); return b }
	var pol interface{ Apply([]byte) ([]byte, error) }
	if route != nil {
		if p := route.Policies[m.Type]; p != nil {
			pol = p
		}
	}
	if pol == nil {
		out.Status, out.Error, out.Raw = store.StatusQuarantined, fmt.Sprintf("route %q does not carry %s to %s any more", st.Route, m.Type, d.Destination), raw()
		return nil
	}
	data, err := pol.Apply(m.Data)
	if err != nil {
		out.Status, out.Error, out.Raw = store.StatusQuarantined, "policy: "+err.Error(), raw()
		return nil
	}
	filtered := *m
	filtered.Data = data

	bo := newBackoff(d.BackoffMin, d.BackoffMax)
	start := time.Now()
	for {
		for d.Controls.RoutePaused(st.Route) {
			// Paused between two attempts (a destination down for maintenance): no
			// more attempts until the resume.
			sleep(ctx, pausePoll)
			if ctx.Err() != nil {
				w.outcome = nil // shutting down: not recorded, redelivered later
				return nil
			}
		}
		out.Attempts++
		actx, cancel := context.WithTimeout(ctx, d.Timeout)
		rc, err := d.Sink.Deliver(actx, connectors.Delivery{Message: &filtered, IdempotencyKey: st.IdempotencyKey, Attempt: out.Attempts})
		cancel()
		switch {
		case err == nil:
			out.Status, out.ReceiptRef = store.StatusDelivered, rc.ID
			w.took = time.Since(start)
			out.Receipt = rc.Detail
			if len(out.Receipt) > 0 && !json.Valid(out.Receipt) {
				out.Receipt = nil
			}
			for _, i := range rc.Identifiers {
				w.links = append(w.links, store.Identifier{System: i.System, Value: i.Value})
			}
			out.Identifiers = w.links
			out.Subject = m.Subject
			recent.delivered(fk, m.FactVersion)
			br.record(true)
			return nil
		case ctx.Err() != nil:
			w.outcome = nil // shutting down: not recorded, redelivered later
			return nil
		case connectors.IsPermanent(err):
			if br.record(false) {
				w.outcome = nil
				d.Log.Error("destination stopped: most recent deliveries were refused", logging.Destination(d.Destination),
					zap.String("last_reason", err.Error()))
				return fmt.Errorf("%w: %s: %d of the last %d deliveries were refused; last reason: %w",
					ErrDestinationStopped, d.Destination, br.failures(), br.size, err)
			}
			out.Status, out.Error, out.Raw = store.StatusQuarantined, err.Error(), raw()
			w.took = time.Since(start)
			return nil
		default:
			d.Metrics.retried(d.Destination)
			ra, _ := connectors.RetryAfter(err)
			wait := bo.next(ra)
			level := zap.DebugLevel // a few failures are a destination's ordinary life
			if out.Attempts > 3 {
				level = zap.WarnLevel
			}
			d.Log.Log(level, "delivery failed, will retry", logging.MessageID(m.ID), logging.Destination(d.Destination),
				logging.Attempt(out.Attempts), zap.Duration("wait", wait), zap.Error(err))
			if nerr := d.Store.NoteAttempt(ctx, id, d.Destination, out.Attempts, err.Error()); nerr != nil && ctx.Err() == nil {
				d.Log.Warn("note attempt", zap.Error(nerr))
			}
			sleep(ctx, wait)
		}
	}
}

// recordBatch is the most outcomes recorded in one transaction; recordFlush is the
// size at which a batch goes without waiting for FlushEvery.
const (
	recordBatch = 1024
	recordFlush = 256
)

// record writes outcomes in batches, then commits the offsets that are done. Outcomes
// are collected while the previous batch is being written: under load each batch holds
// what arrived during the last transaction, so the lanes never wait for PostgreSQL's
// commit, and one transaction, one audit append and one disk sync serve many outcomes
// (with one batch at a time, the lanes waited for every commit, and the recorder was
// the whole path's bottleneck).
func (d *Deliverer) record(ctx context.Context, done <-chan *work, offsets *offsetTracker) {
	// What the lanes already delivered is recorded within a bounded time after ctx
	// ends; after that, it is redelivered (same idempotency keys) and recorded then.
	fctx, fcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer fcancel()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(5*time.Second, fcancel) })
	defer stop()

	batches := make(chan []*work) // unbuffered: a batch is handed over when the writer is free
	written := make(chan struct{})
	go func() {
		defer close(written)
		for b := range batches {
			d.flush(fctx, b, offsets)
		}
	}()
	finish := func(batch []*work) {
		if len(batch) > 0 {
			batches <- batch
		}
		close(batches)
		<-written
	}

	var batch []*work
	ticked := false
	ticker := time.NewTicker(d.FlushEvery)
	defer ticker.Stop()
	for {
		var out chan<- []*work
		if len(batch) >= recordFlush || (ticked && len(batch) > 0) {
			out = batches
		}
		in := done
		if len(batch) >= recordBatch {
			in = nil // full: the lanes wait for the writer
		}
		select {
		case w, ok := <-in:
			if !ok {
				finish(batch)
				return
			}
			batch = append(batch, w)
		case out <- batch:
			batch, ticked = nil, false
		case <-ticker.C:
			ticked = true
		case <-ctx.Done():
		drain:
			for {
				select {
				case w := <-done:
					batch = append(batch, w)
				default:
					break drain
				}
			}
			finish(batch)
			return
		}
	}
}

// flush records the outcomes of batch, then commits the offsets that are done.
func (d *Deliverer) flush(ctx context.Context, batch []*work, offsets *offsetTracker) {
	var outs []store.DeliveryOutcome
	var took []time.Duration
	for _, w := range batch {
		if w.outcome != nil {
			outs, took = append(outs, *w.outcome), append(took, w.took)
		}
	}
	var recorded []bool
	for {
		// The outcome must be durable before the offset is committed; if the context
		// ends first, the messages are redelivered and recorded then.
		var err error
		recorded, err = d.Store.RecordDeliveries(ctx, outs)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		d.Log.Error("record deliveries", logging.Destination(d.Destination), zap.Error(err))
		sleep(ctx, time.Second)
	}
	// Only the outcomes that changed a delivery count: one delivered again (after a
	// rebalance) found its first outcome recorded, and counting it would make the
	// metrics say more outcomes than messages.
	for i, o := range outs {
		if !recorded[i] {
			continue
		}
		d.Metrics.delivered(d.Destination, o.Route, o.Status, took[i])
	}
	var commits []kafka.Message
	for _, w := range batch {
		commits = append(commits, offsets.done(w.km)...)
	}
	if len(commits) > 0 {
		// Bounded: a commit kafka-go cannot hand to a live generation (a rebalance under
		// way) would hold the recorder, and behind it every lane. Giving it up is
		// harmless: a later commit of the partition covers these offsets, and a message
		// delivered again finds its outcome recorded.
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := d.Consumer.Commit(cctx, commits...)
		cancel()
		if err != nil {
			// After a rebalance another member owns the partition: it will see the
			// recorded outcomes and skip these messages.
			d.Log.Warn("commit offsets", logging.Destination(d.Destination), zap.Error(err))
		}
	}
}

// offsetTracker knows, per partition, which fetched offsets are done, and returns the
// message to commit when a prefix of them is: offsets are committed in order, never
// past a message still in flight.
//
// The same offset can be fetched twice: after a rebalance that gives this consumer a
// partition it had, kafka-go reads it again from the last commit while the messages
// fetched before are still in the lanes. Each fetch is an entry of the queue, and done
// counts per offset, so that every entry is matched by one done: with a set instead,
// the two dones of an offset could land before the first entry left the queue, and the
// second entry would wait for ever, holding back every later commit of its partition.
type offsetTracker struct {
	mu    sync.Mutex
	parts map[string]*partitionOffsets
}

type partitionOffsets struct {
	queue []kafka.Message // fetched, in order
	done  map[int64]int   // dones not yet matched to an entry, per offset
	// committed is the highest offset given to commit: a prefix that advances over a
	// second fetch can end below it, and a commit never goes back.
	committed int64
}

func newOffsetTracker() *offsetTracker { return &offsetTracker{parts: map[string]*partitionOffsets{}} }

func partKey(km kafka.Message) string { return fmt.Sprintf("%s/%d", km.Topic, km.Partition) }

func (t *offsetTracker) fetched(km kafka.Message) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.parts[partKey(km)]
	if p == nil {
		p = &partitionOffsets{done: map[int64]int{}, committed: -1}
		t.parts[partKey(km)] = p
	}
	p.queue = append(p.queue, km)
}

// done marks one fetch of km done and returns the message to commit for its
// partition, if the committed prefix advanced. Every offset up to the one returned has
// its outcome recorded: each fetch hands out a partition's messages in order, from the
// group's last commit.
func (t *offsetTracker) done(km kafka.Message) []kafka.Message {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.parts[partKey(km)]
	if p == nil {
		return nil
	}
	p.done[km.Offset]++
	var best *kafka.Message
	for len(p.queue) > 0 && p.done[p.queue[0].Offset] > 0 {
		m := p.queue[0]
		if p.done[m.Offset]--; p.done[m.Offset] == 0 {
			delete(p.done, m.Offset)
		}
		p.queue = p.queue[1:]
		if m.Offset > p.committed {
			p.committed, best = m.Offset, &m
		}
	}
	if best == nil {
		return nil
	}
	return []kafka.Message{*best}
}

// breaker watches the last outcomes of a destination.
type breaker struct {
	mu    sync.Mutex
	ring  []bool // true = permanent failure
	next  int
	size  int
	ratio float64
	full  bool
}

func newBreaker(size int, ratio float64) *breaker {
	return &breaker{ring: make([]bool, size), size: size, ratio: ratio}
}

// record adds an outcome and reports whether the destination must stop.
func (b *breaker) record(ok bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ring[b.next] = !ok
	b.next = (b.next + 1) % b.size
	if b.next == 0 {
		b.full = true
	}
	return b.full && float64(b.failuresLocked()) >= b.ratio*float64(b.size)
}

func (b *breaker) failures() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.failuresLocked()
}

func (b *breaker) failuresLocked() int {
	n := 0
	for _, f := range b.ring {
		if f {
			n++
		}
	}
	return n
}
