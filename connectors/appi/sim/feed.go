package sim

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// FeedOptions configure DB.Feed. The zero value is usable.
type FeedOptions struct {
	// Interval is the wait between two changes. Default 500ms.
	Interval time.Duration
	// LateFraction is the fraction of changes written by a long transaction that
	// commits after LateDelay, while later changes commit before it. Default 0.1.
	LateFraction float64
	// LateDelay is how long such a transaction stays open. Default 5s; the contract
	// allows up to 30s.
	LateDelay time.Duration
	// LostFraction is the fraction of changes preceded by a seq lost to a rolled-back
	// transaction. Default 0.02.
	LostFraction float64
	// Seed draws which changes are late or lost. Default 1.
	Seed uint64
}

// Feed writes g's changes into appi.mesures_export until ctx ends, as a live APPI
// does: one change per Interval, some committed late, some seqs lost. It waits for
// the late transactions it opened (rolling back those still open when ctx ends) and
// returns nil when ctx ends, or the first write error.
func (db *DB) Feed(ctx context.Context, g *Generator, o FeedOptions) error {
	if o.Interval <= 0 {
		o.Interval = 500 * time.Millisecond
	}
	if o.LateFraction == 0 {
		o.LateFraction = 0.1
	}
	if o.LateDelay <= 0 {
		o.LateDelay = 5 * time.Second
	}
	if o.LostFraction == 0 {
		o.LostFraction = 0.02
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed+1))
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		lateErr error
	)
	err := db.feed(ctx, g, o, rng, func(late *LateTx) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A late row still open when the demo stops is rolled back, as in APPI.
			if err := <-late.CommitAfter(ctx, o.LateDelay); err != nil && ctx.Err() == nil {
				mu.Lock()
				lateErr = cmp.Or(lateErr, err)
				mu.Unlock()
			}
		}()
	})
	wg.Wait()
	return cmp.Or(err, lateErr)
}

// feed is Feed's loop; spawn commits a late transaction in the background.
func (db *DB) feed(ctx context.Context, g *Generator, o FeedOptions, rng *rand.Rand, spawn func(*LateTx)) error {
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if rng.Float64() < o.LostFraction {
			if _, err := db.LoseSeqs(ctx, 1); err != nil {
				return feedErr(ctx, err)
			}
		}
		row := g.NextAt(time.Now())
		if rng.Float64() >= o.LateFraction {
			if err := db.Insert(ctx, row); err != nil {
				return feedErr(ctx, err)
			}
			continue
		}
		late, err := db.BeginLate(ctx, row)
		if err != nil {
			return feedErr(ctx, err)
		}
		spawn(late)
	}
}

// feedErr is nil when ctx ended (the write failed because of it), else err.
func feedErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("appi sim: feed: %w", err)
}
