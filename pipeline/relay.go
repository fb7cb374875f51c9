package pipeline

import (
	"context"
	"errors"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"

	"passerelle/canonical"
	"passerelle/internal/logging"
	"passerelle/pipeline/bus"
	"passerelle/pipeline/store"
)

// Publisher publishes Kafka messages and returns once the broker acknowledged all of
// them (bus.Publisher).
type Publisher interface {
	Publish(ctx context.Context, msgs ...kafka.Message) error
}

// Relay publishes the outbox to Kafka. One process of a deployment runs it at a time
// (lease "relay"); the others wait to take over.
type Relay struct {
	Store       *store.Store
	Publisher   Publisher
	TopicPrefix string
	Log         *zap.Logger
	// Metrics, when set, counts the messages published.
	Metrics *Metrics
	// Batch is the number of rows published at once. Default 1000.
	Batch int
	// Idle is the pause when the outbox is empty. Default 20ms.
	Idle time.Duration
	// SweepEvery is how often unsettled rows are looked for. Default 30s.
	SweepEvery time.Duration
	// SweepAge is how long after publication a row without every outcome is published
	// again. Default 2m.
	SweepAge time.Duration
	// Rescan is how often the outbox is read from its first row rather than from the
	// relay's cursor (outboxCursor), for the rows a replay or a reconciliation sends back,
	// and how long the cursor waits at a seq that was taken and is not committed (a
	// transaction that rolled back leaves one for good). Default 1s.
	Rescan time.Duration
}

func (r *Relay) defaults() {
	if r.Batch == 0 {
		r.Batch = 1000
	}
	if r.Idle == 0 {
		r.Idle = 20 * time.Millisecond
	}
	if r.SweepEvery == 0 {
		r.SweepEvery = 30 * time.Second
	}
	if r.SweepAge == 0 {
		r.SweepAge = 2 * time.Minute
	}
	if r.Rescan == 0 {
		r.Rescan = time.Second
	}
}

// Run relays until ctx ends.
func (r *Relay) Run(ctx context.Context) error {
	r.defaults()
	for ctx.Err() == nil {
		lease, err := r.Store.AcquireLease(ctx, "relay", time.Second)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			r.Log.Error("relay lease", zap.Error(err))
			sleep(ctx, time.Second)
			continue
		}
		r.Log.Info("relay started")
		err = r.lead(ctx, lease)
		lease.Release()
		if err != nil && ctx.Err() == nil {
			r.Log.Error("relay stopped, will try again", zap.Error(err))
			sleep(ctx, time.Second)
		}
	}
	return nil
}

func (r *Relay) lead(ctx context.Context, lease *store.Lease) error {
	lastSweep, lastCheck := time.Now(), time.Now()
	cur := newOutboxCursor(r.Rescan, time.Now())
	backoff := newBackoff(100*time.Millisecond, 5*time.Second)
	for ctx.Err() == nil {
		if time.Since(lastCheck) > 5*time.Second {
			if err := lease.Check(ctx); err != nil {
				return err
			}
			lastCheck = time.Now()
		}
		from := cur.from(time.Now())
		rows, err := r.Store.Unpublished(ctx, from, r.Batch)
		sweeping := false
		if err == nil && len(rows) == 0 && time.Since(lastSweep) > r.SweepEvery {
			lastSweep = time.Now()
			rows, err = r.Store.Unsettled(ctx, r.SweepAge, r.Batch)
			sweeping = true
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			r.Log.Warn("relay: read outbox", zap.Error(err))
			sleep(ctx, backoff.next(0))
			continue
		}
		if !sweeping {
			cur.read(len(rows) == r.Batch)
		}
		if len(rows) == 0 {
			sleep(ctx, r.Idle)
			continue
		}
		if err := r.publish(ctx, rows); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// The broker did not acknowledge: nothing is marked, the same rows go again.
			r.Log.Warn("relay: publish", zap.Error(err), logging.Count(len(rows)))
			sleep(ctx, backoff.next(0))
			continue
		}
		backoff.reset()
		if sweeping {
			r.Log.Info("relay: published again messages still without every outcome", logging.Count(len(rows)))
		} else {
			cur.published(rows, time.Now())
		}
	}
	return nil
}

// outboxCursor is where the relay reads the outbox from. outbox_state_unpublished keeps
// an entry for every published row until a vacuum, all before the first unpublished
// one, so a read from the first row walks them all (2.3 ms a call at 2,000,000 rows):
// the relay reads after the seqs it published in an unbroken run instead.
//
// A seq is taken before its transaction commits, and ingests wait for each other's
// audit lock, so a higher seq often commits first: the cursor stops before the first
// seq it has not seen published, and so reads that row as soon as its transaction
// commits. A seq still missing after wait (a transaction that rolled back) is passed.
// Every wait the cursor also reads from the first row, batch after batch while they
// come full, for the rows a replay or a reconciliation sent back.
type outboxCursor struct {
	wait       time.Duration
	after      int64          // every seq up to here was published, or passed
	ahead      map[int64]bool // seqs published above after+1
	top        int64          // the highest seq published
	gapSince   time.Time      // since when after+1 is missing; zero: it is not
	lastRescan time.Time
	rescan     int64 // where the rescan goes on; -1: none under way
}

func newOutboxCursor(wait time.Duration, now time.Time) *outboxCursor {
	return &outboxCursor{wait: wait, ahead: map[int64]bool{}, lastRescan: now, rescan: -1}
}

// from is where to read next.
func (c *outboxCursor) from(now time.Time) int64 {
	if c.rescan < 0 && now.Sub(c.lastRescan) >= c.wait {
		c.rescan, c.lastRescan = 0, now
	}
	if !c.gapSince.IsZero() && now.Sub(c.gapSince) >= c.wait {
		c.after, c.gapSince = c.top, time.Time{} // rolled back, or published before us
		clear(c.ahead)
	}
	if c.rescan >= 0 {
		return c.rescan
	}
	return c.after
}

// read notes that the last read returned a full batch or not: a rescan goes on after
// a full one.
func (c *outboxCursor) read(full bool) {
	if !full {
		c.rescan = -1
	}
}

// published moves the cursor over rows, published, in seq order.
func (c *outboxCursor) published(rows []store.OutboxMessage, now time.Time) {
	if c.top == 0 {
		// The first rows a relay publishes: what is below them was published before.
		c.after = rows[0].Seq - 1
	}
	last := rows[len(rows)-1].Seq
	c.top = max(c.top, last)
	if c.rescan >= 0 {
		c.rescan = last
	}
	for _, row := range rows {
		if row.Seq > c.after {
			c.ahead[row.Seq] = true
		}
	}
	for c.ahead[c.after+1] {
		delete(c.ahead, c.after+1)
		c.after++
	}
	switch {
	case len(c.ahead) == 0:
		c.gapSince = time.Time{}
	case c.gapSince.IsZero():
		c.gapSince = now
	}
}

func (r *Relay) publish(ctx context.Context, rows []store.OutboxMessage) error {
	msgs := make([]kafka.Message, len(rows))
	seqs := make([]int64, len(rows))
	for i, row := range rows {
		msgs[i] = bus.ToKafka(row.Message, bus.TopicFor(r.TopicPrefix, row.Message.Type))
		seqs[i] = row.Seq
	}
	if err := r.Publisher.Publish(ctx, msgs...); err != nil {
		var pe *bus.PublishError
		if errors.As(err, &pe) && len(pe.Rejected) > 0 {
			// Refused as such (too large): it would block the relay for ever.
			bad := make([]*canonical.Message, len(pe.Rejected))
			for i, k := range pe.Rejected {
				bad[i] = rows[k].Message
			}
			if qerr := r.Store.QuarantineUnpublishable(ctx, bad, "the broker refused the message: "+pe.Err.Error()); qerr != nil {
				return errors.Join(err, qerr)
			}
			r.Log.Error("relay: messages refused by the broker, quarantined", logging.Count(len(bad)))
		}
		return err
	}
	r.Metrics.relayed(len(msgs))
	// A crash here publishes the rows again: consumers skip what they recorded.
	if err := r.Store.MarkPublished(context.WithoutCancel(ctx), seqs); err != nil {
		return errors.Join(errors.New("published but not marked"), err)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
