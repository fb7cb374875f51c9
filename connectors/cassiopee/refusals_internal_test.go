package cassiopee

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// auditRows is a refusalAudit's written rows, in order.
type auditRows struct {
	mu   sync.Mutex
	rows []string
}

func (w *auditRows) write(_ context.Context, ref string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.rows = append(w.rows, ref)
}

func (w *auditRows) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.rows
	w.rows = nil
	return out
}

// refusalsIn sums the refusals rows stand for: a row's count:N, or 1 without one.
func refusalsIn(t *testing.T, rows []string) int {
	t.Helper()
	total := 0
	for _, r := range rows {
		_, after, found := strings.Cut(r, " count:")
		if !found {
			total++
			continue
		}
		n, err := strconv.Atoi(strings.Fields(after)[0])
		require.NoError(t, err, r)
		total += n
	}
	return total
}

var refusalClock = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)

func TestABurstOfRefusalsIsAFewAuditRowsWhoseCountsAddUp(t *testing.T) {
	var w auditRows
	a := newRefusalAudit(w.write, func() time.Time { return refusalClock })
	const n = 500
	ctx := t.Context()
	expired := refusal{kind: "tls:expired", reference: "tls:expired certificate:0123456789abcdef"}
	for range n {
		a.note(ctx, expired)
	}
	first := w.take()
	assert.Equal(t, []string{expired.reference}, first, "the first refusal is audited at once, as it is")
	a.flush(ctx)
	second := w.take()
	assert.Equal(t, []string{expired.reference + " count:499 since:2025-03-14T09:30:00Z"}, second,
		"the next ones are one row with their count and since when")
	assert.Equal(t, n, refusalsIn(t, append(first, second...)))

	t.Run("a reference still refused after a flush is counted, not audited at once", func(t *testing.T) {
		a.note(ctx, expired)
		assert.Empty(t, w.take())
		a.flush(ctx)
		assert.Equal(t, 1, refusalsIn(t, w.take()))
	})
	t.Run("a reference not refused for a whole interval is forgotten: its next refusal is audited at once", func(t *testing.T) {
		a.flush(ctx)
		assert.Empty(t, w.take(), "nothing counted, nothing written")
		a.note(ctx, expired)
		assert.Equal(t, []string{expired.reference}, w.take())
	})
	t.Run("different references and callers are audited apart", func(t *testing.T) {
		a.flush(ctx)
		a.flush(ctx)
		w.take()
		mismatch := refusal{kind: "court-mismatch", court: "750010", reference: "court:750010 payload-court:690123 court-mismatch"}
		other := refusal{kind: "court-mismatch", court: "130055", reference: "court:130055 payload-court:690123 court-mismatch"}
		for range 10 {
			a.note(ctx, mismatch)
			a.note(ctx, other)
		}
		rows := w.take()
		assert.ElementsMatch(t, []string{mismatch.reference, other.reference}, rows)
		a.flush(ctx)
		flushed := w.take()
		assert.Len(t, flushed, 2)
		assert.Equal(t, 20, refusalsIn(t, append(rows, flushed...)))
	})
}

func TestAFloodOfDistinctRefusalsIsBoundedAndCountedByKind(t *testing.T) {
	// Anyone can make certificates of another authority by the thousand: their
	// fingerprints must not be one audit row each.
	var w auditRows
	a := newRefusalAudit(w.write, func() time.Time { return refusalClock })
	const n = 10 * maxRefusalKeys
	ctx := t.Context()
	for i := range n {
		a.note(ctx, refusal{kind: "tls:unknown-authority", reference: fmt.Sprintf("tls:unknown-authority certificate:%016x", i)})
	}
	for i := range n {
		a.note(ctx, refusal{kind: "rules", court: "690123", reference: fmt.Sprintf("court:690123 rules: /x/%d: required", i)})
	}
	immediate := w.take()
	assert.Len(t, immediate, maxRefusalKeys, "at most maxRefusalKeys references between two flushes")
	a.flush(ctx)
	flushed := w.take()
	assert.ElementsMatch(t, []string{
		fmt.Sprintf("tls:unknown-authority:various count:%d since:2025-03-14T09:30:00Z", n-maxRefusalKeys),
		fmt.Sprintf("court:690123 rules:various count:%d since:2025-03-14T09:30:00Z", n),
	}, flushed, "beyond them, counted by kind, with the court when it is verified")
	assert.Equal(t, 2*n, refusalsIn(t, append(immediate, flushed...)))

	a.flush(ctx)
	assert.Empty(t, w.take())
	a.note(ctx, refusal{kind: "tls:no-certificate", reference: "tls:no-certificate"})
	assert.Equal(t, []string{"tls:no-certificate"}, w.take(), "the references forgotten, new ones are audited at once again")
}

func TestConcurrentRefusalsAreEachCountedOnce(t *testing.T) {
	var w auditRows
	a := newRefusalAudit(w.write, func() time.Time { return refusalClock })
	ctx := t.Context()
	const workers, each = 8, 250
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			for j := range each {
				a.note(ctx, refusal{kind: "tls:expired", reference: fmt.Sprintf("tls:expired certificate:%d", (i*each+j)%100)})
				if j%50 == 0 {
					a.flush(ctx)
				}
			}
		})
	}
	wg.Wait()
	a.flush(ctx)
	rows := w.take()
	assert.Equal(t, workers*each, refusalsIn(t, rows), "every refusal is in exactly one row's count")
}

func TestRunWritesWhatItCountedWhenItStops(t *testing.T) {
	var w auditRows
	a := newRefusalAudit(w.write, func() time.Time { return refusalClock })
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); a.run(ctx, time.Hour) }()
	for range 3 {
		a.note(ctx, refusal{kind: "tls:no-certificate", reference: "tls:no-certificate"})
	}
	cancel()
	<-done
	rows := w.take()
	assert.Equal(t, []string{"tls:no-certificate", "tls:no-certificate count:2 since:2025-03-14T09:30:00Z"}, rows)
}
