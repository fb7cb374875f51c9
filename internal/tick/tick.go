// Package tick runs the hub's periodic jobs: the planner statistics, the controls'
// refresh, the identity releases, the broker's reaper, the demo's clocks.
package tick

import (
	"context"
	"time"
)

// Every calls fn every d (the first call one period after the start) until ctx ends;
// a call that outlasts the period delays the next one rather than overlapping it.
// It returns when ctx ends.
func Every(ctx context.Context, d time.Duration, fn func(ctx context.Context)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(ctx)
		}
	}
}
