package tick_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"

	"passerelle/internal/tick"
)

func TestEveryCallsAtEachPeriodUntilTheContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		var calls atomic.Int32
		done := make(chan struct{})
		go func() {
			tick.Every(ctx, time.Second, func(context.Context) { calls.Add(1) })
			close(done)
		}()
		synctest.Wait()
		assert.Zero(t, calls.Load(), "the first call waits one period")
		time.Sleep(3*time.Second + time.Millisecond)
		synctest.Wait()
		assert.EqualValues(t, 3, calls.Load())
		cancel()
		<-done
		time.Sleep(5 * time.Second)
		assert.EqualValues(t, 3, calls.Load(), "no call after the context ended")
	})
}

func TestASlowCallDelaysTheNextRatherThanOverlapping(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second+time.Millisecond)
		defer cancel()
		var running, overlaps, calls atomic.Int32
		tick.Every(ctx, time.Second, func(context.Context) {
			if running.Add(1) > 1 {
				overlaps.Add(1)
			}
			calls.Add(1)
			time.Sleep(2500 * time.Millisecond)
			running.Add(-1)
		})
		assert.Zero(t, overlaps.Load())
		assert.Less(t, calls.Load(), int32(10), "the ticker drops the ticks a slow call missed")
	})
}
