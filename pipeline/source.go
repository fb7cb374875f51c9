package pipeline

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"passerelle/connectors"
	"passerelle/internal/logging"
	"passerelle/pipeline/store"
)

// SourceRunner polls one source instance. Among all hub processes sharing the
// database, one runs it at a time (lease "source:<name>"); when that process dies,
// another takes over from the last committed checkpoint.
type SourceRunner struct {
	Name     string
	Source   connectors.Source
	Ingester *Ingester
	Store    *store.Store
	Log      *zap.Logger
	// Poll is the wait after an empty batch. Default 1s.
	Poll time.Duration
	// BackoffMin and BackoffMax bound the waits after a transient error. Defaults 200ms
	// and 30s.
	BackoffMin, BackoffMax time.Duration
	// OnBatch, when set, is called after each committed batch (metrics, tests).
	OnBatch func(Ingested)
	// Controls, when set, pause the source: it stops reading and gives up its lease
	// until it is resumed, then reads from its checkpoint (which an operator may have
	// reset meanwhile).
	Controls *Controls
}

// Run polls until ctx ends.
func (r *SourceRunner) Run(ctx context.Context) error {
	if r.Poll == 0 {
		r.Poll = time.Second
	}
	if r.BackoffMin == 0 {
		r.BackoffMin = 200 * time.Millisecond
	}
	if r.BackoffMax == 0 {
		r.BackoffMax = 30 * time.Second
	}
	log := r.Log.With(logging.Connector(r.Name))
	for ctx.Err() == nil {
		if r.Controls.SourcePaused(r.Name) {
			sleep(ctx, pausePoll)
			continue
		}
		lease, err := r.Store.AcquireLease(ctx, "source:"+r.Name, time.Second)
		if err != nil {
			if ctx.Err() == nil {
				log.Error("source lease", zap.Error(err))
				sleep(ctx, time.Second)
			}
			continue
		}
		log.Info("source started")
		err = r.poll(ctx, lease, log)
		lease.Release()
		if err != nil && ctx.Err() == nil {
			log.Warn("source stopped, will take the lease again", zap.Error(err))
			sleep(ctx, time.Second)
		}
	}
	return nil
}

func (r *SourceRunner) poll(ctx context.Context, lease *store.Lease, log *zap.Logger) error {
	pos, _, err := r.Store.Checkpoint(ctx, r.Name)
	if err != nil {
		return err
	}
	bo := newBackoff(r.BackoffMin, r.BackoffMax)
	for ctx.Err() == nil {
		if r.Controls.SourcePaused(r.Name) {
			log.Info("source paused by an operator: it stops reading and gives up its lease")
			return nil
		}
		batch, err := r.Source.Read(ctx, pos)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			ra, _ := connectors.RetryAfter(err)
			wait := bo.next(ra)
			log.Warn("read failed, will retry from the same position", zap.Error(err), zap.Duration("wait", wait))
			sleep(ctx, wait)
			continue
		}
		bo.reset()
		if len(batch.Facts) == 0 && batch.Next == pos {
			sleep(ctx, r.Poll)
			continue
		}
		next := batch.Next
		res, err := r.Ingester.Ingest(ctx, lease, r.Name, batch.Facts, &next)
		if err != nil {
			if errors.Is(err, store.ErrLeaseLost) || ctx.Err() != nil {
				return err
			}
			// Nothing was committed: the same facts are read again.
			log.Error("ingest failed, will read the batch again", zap.Error(err))
			sleep(ctx, bo.next(0))
			continue
		}
		pos = next
		if r.OnBatch != nil {
			r.OnBatch(res)
		}
	}
	return nil
}
