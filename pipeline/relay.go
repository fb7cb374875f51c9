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
	// last row published: a transaction commits its seqs after others took higher ones
	// (rarely, by milliseconds), and a replay or a reconciliation sends old rows back.
	// Default 1s.
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
	lastSweep, lastCheck, lastRescan := time.Now(), time.Now(), time.Now()
	// after is the last row published in seq order: the next read starts there, but at
	// every Rescan, which starts from the first row (0).
	var after int64
	backoff := newBackoff(100*time.Millisecond, 5*time.Second)
	for ctx.Err() == nil {
		if time.Since(lastCheck) > 5*time.Second {
			if err := lease.Check(ctx); err != nil {
				return err
			}
			lastCheck = time.Now()
		}
		from := after
		if time.Since(lastRescan) >= r.Rescan {
			from, lastRescan = 0, time.Now()
		}
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
			after = max(after, rows[len(rows)-1].Seq)
		}
	}
	return nil
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
