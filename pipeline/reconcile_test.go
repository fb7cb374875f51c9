package pipeline_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/canonical"
	"passerelle/pipeline"
	"passerelle/pipeline/pipelinetest"
)

// sourceInventory is what the source holds: the generator's newest version of each
// fact, plus facts the hub never received.
type sourceInventory struct {
	newest map[string]int64
	unsent []string
}

func (s sourceInventory) Inventory(_ context.Context, fn func(canonical.FactID) error) error {
	for ref, v := range s.newest {
		if err := fn(canonical.FactID{System: canonical.SystemAPPI, Ref: ref, Version: v}); err != nil {
			return err
		}
	}
	for _, ref := range s.unsent {
		if err := fn(canonical.FactID{System: canonical.SystemAPPI, Ref: ref, Version: 1}); err != nil {
			return err
		}
	}
	return nil
}

// destinationHoldings asks the test destination what it holds.
type destinationHoldings struct{ dest *pipelinetest.Destination }

func (h destinationHoldings) Holdings(_ context.Context, _ []string, fn func(string) error) error {
	for _, k := range h.dest.Keys() {
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

func TestReconcileNamesExactlyWhatTheDestinationLostAndReplayRestoresIt(t *testing.T) {
	r := startHub(t, 600, 150, pipelinetest.Faults{}, "")
	waitFor(t, 2*time.Minute, "every newest version delivered", r.settled)
	defer r.stop()
	rc := &pipeline.Reconciler{Store: r.run.Store, Source: "appi-export", Destination: "archive",
		Inventory: sourceInventory{newest: r.newest}, Holdings: destinationHoldings{r.dest},
		Types: []string{canonical.TypeMeasure}}

	res, err := rc.Run(t.Context())
	require.NoError(t, err)
	require.True(t, res.Clean(), "%v", res.Facts)
	assert.Equal(t, len(r.newest), res.OK)

	// The destination loses five facts behind the hub's back; the source gains two the
	// hub never received.
	var refs []string
	for ref := range r.newest {
		refs = append(refs, ref)
	}
	sort.Strings(refs)
	lost := refs[:5]
	for _, ref := range lost {
		require.Positive(t, r.dest.Forget(ref))
	}
	rc.Inventory = sourceInventory{newest: r.newest, unsent: []string{"mesure/NEVER-1", "mesure/NEVER-2"}}
	res, err = rc.Run(t.Context())
	require.NoError(t, err)
	assert.False(t, res.Clean())
	assert.Equal(t, 7, res.Counts[pipeline.ClassMissing], "%v", res.Facts)
	assert.Equal(t, len(r.newest)-5, res.OK)
	var missing []string
	for _, f := range res.Facts {
		missing = append(missing, f.Ref)
	}
	assert.Equal(t, sortedCopy(append(append([]string(nil), lost...), "mesure/NEVER-1", "mesure/NEVER-2")), sortedCopy(missing))
	require.Len(t, res.Gaps(), 5, "only what the destination lost can be sent again by the hub")
	t.Run("the same across page boundaries", func(t *testing.T) {
		// What the source and the destination list reaches PostgreSQL a page at a
		// time: a page of one row, pages that end inside a person's facts, one page.
		for _, page := range []int{1, 7, 64, 100_000} {
			paged := *rc
			paged.PageSize = page
			got, err := paged.Run(t.Context())
			require.NoError(t, err)
			assert.Equal(t, res, got, "page size %d", page)
		}
	})

	n, err := r.run.Store.Redeliver(t.Context(), "archive", res.Gaps(), "operator:test")
	require.NoError(t, err)
	require.Equal(t, 5, n)
	waitFor(t, time.Minute, "the lost facts delivered again", func() bool {
		res, err := rc.Run(t.Context())
		return err == nil && res.Counts[pipeline.ClassMissing] == 2 && res.Counts[pipeline.ClassPending] == 0
	})
	assert.Empty(t, pipelinetest.Check(r.dest.Applied(), r.newest), "the destination holds the newest of every fact again")

	t.Run("without the systems, the hub's own records stand for them", func(t *testing.T) {
		res, err := (&pipeline.Reconciler{Store: r.run.Store, Source: "appi-export", Destination: "archive"}).Run(t.Context())
		require.NoError(t, err)
		assert.True(t, res.Clean(), "%v", res.Facts)
		assert.False(t, res.SourceInventory)
		assert.False(t, res.DestinationHoldings)
	})
	t.Run("every redelivery is audited", func(t *testing.T) {
		var audited int
		require.NoError(t, r.run.Store.Pool().QueryRow(t.Context(),
			`SELECT count(*) FROM audit WHERE action = 'reconcile' AND actor = 'operator:test'`).Scan(&audited))
		assert.Equal(t, 5, audited)
	})
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
