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
		err := r.flow(ctx, lease, log, &pos)
		if err == nil || ctx.Err() != nil {
			continue
		}
		if errors.Is(err, store.ErrLeaseLost) {
			return err
		}
		// Nothing of the failed batch was committed: it is read again from pos.
		log.Error("ingest failed, will read the batch again", zap.Error(err))
		sleep(ctx, bo.next(0))
	}
	return nil
}

// prepared is a batch read and prepared ahead, with the position after it.
type prepared struct {
	batch *Prepared
	next  string
}

// flow reads, prepares and commits batches from *pos, which it advances with each
// commit. The next batch is read and prepared (decoded, resolved, validated: the hub's
// CPU) while the previous one commits (PostgreSQL's work), so that neither waits for
// the other; commits stay one at a time, in order, each with its checkpoint. It
// returns nil when the source is paused or ctx ends, and the commit's error when one
// fails (the batch read ahead is dropped: everything after *pos is read again).
func (r *SourceRunner) flow(ctx context.Context, lease *store.Lease, log *zap.Logger, pos *string) error {
	ahead := make(chan prepared) // unbuffered: one batch prepared ahead, waiting to commit
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ahead)
		r.readAhead(rctx, log, *pos, ahead)
	}()
	defer func() {
		cancel()
		for range ahead { // drain: the reader may be sending
		}
		<-done
	}()
	for p := range ahead {
		next := p.next
		res, err := r.Ingester.Commit(ctx, lease, p.batch, &next)
		if err != nil {
			return err
		}
		*pos = next
		if r.OnBatch != nil {
			r.OnBatch(res)
		}
	}
	return nil
}

// readAhead reads and prepares batches from pos and sends them on ahead, until ctx
// ends or the source is paused.
func (r *SourceRunner) readAhead(ctx context.Context, log *zap.Logger, pos string, ahead chan<- prepared) {
	bo := newBackoff(r.BackoffMin, r.BackoffMax)
	for ctx.Err() == nil {
		if r.Controls.SourcePaused(r.Name) {
			return
		}
		batch, err := r.Source.Read(ctx, pos)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			ra, _ := connectors.RetryAfter(err)
			wait := bo.next(ra)
			log.Warn("read failed, will retry from the same position", zap.Error(err), zap.Duration("wait", wait))
			sleep(ctx, wait)
			continue
		}
		if len(batch.Facts) == 0 && batch.Next == pos {
			bo.reset()
			sleep(ctx, r.Poll)
			continue
		}
		p, err := r.Ingester.Prepare(ctx, r.Name, "", batch.Facts)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			wait := bo.next(0)
			log.Error("ingest failed, will read the batch again", zap.Error(err), zap.Duration("wait", wait))
			sleep(ctx, wait)
			continue
		}
		bo.reset()
		select {
		case ahead <- prepared{batch: p, next: batch.Next}:
			pos = batch.Next
		case <-ctx.Done():
			return
		}
	}
}
