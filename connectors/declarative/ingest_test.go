package declarative

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"passerelle/config"
	"passerelle/connectors/declarative/sim"
	"passerelle/internal/pgtest"
	"passerelle/pipeline"
	"passerelle/pipeline/store"
	"passerelle/schemas"
)

// The worked example through the hub's own ingest: the pipeline's source runner
// polls the folder and commits each batch — facts, quarantined lines and the
// checkpoint in one PostgreSQL transaction — and is killed halfway; a new runner with
// a new instance takes over from the checkpoint. What PostgreSQL then holds is what
// the reconciliation reads: 9,900 accepted measures, each once, and 100 quarantined
// lines, each with its reason.
func TestTheLegacyAPPIExportIsIngestedByTheHub(t *testing.T) {
	dir := t.TempDir()
	ex := sim.APPIExport(sim.ExportOptions{Seed: 7, Rows: 10_000, MalformedEvery: 100})
	require.NoError(t, ex.Drop(dir))
	settings := exampleSettings(t, dir)

	st, err := store.Open(t.Context(), pgtest.NewDatabase(t), store.Options{MaxConns: 4})
	require.NoError(t, err)
	t.Cleanup(st.Close)
	reg, err := schemas.Load()
	require.NoError(t, err)
	routing, ps := pipeline.NewRouting(&config.Config{}, pipeline.Catalog{Reg: reg}, nil)
	require.Empty(t, ps)
	ingester := &pipeline.Ingester{Store: st, Schemas: reg, Routing: routing, Log: zap.NewNop()}

	run := func(stopAfter int64) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var batches atomic.Int64
		var empty atomic.Int64
		runner := &pipeline.SourceRunner{
			Name: "appi-csv", Source: newSource(t, settings).Source, Ingester: ingester, Store: st,
			Log: zap.NewNop(), Poll: 10 * time.Millisecond, BackoffMin: time.Millisecond, BackoffMax: 10 * time.Millisecond,
			OnBatch: func(pipeline.Ingested) {
				if batches.Add(1) == stopAfter {
					cancel() // a crash between two batches: the next runner starts from the checkpoint
				}
			},
		}
		done := make(chan error, 1)
		go func() { done <- runner.Run(ctx) }()
		deadline := time.After(2 * time.Minute)
		for {
			select {
			case err := <-done:
				require.NoError(t, err)
				return
			case <-deadline:
				t.Fatal("the source runner has not read the folder in 2 minutes")
			case <-time.After(50 * time.Millisecond):
				left, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
				if len(left) == 0 && stopAfter == 0 {
					if empty.Add(1) > 3 { // moved, and a few polls more: nothing new
						cancel()
					}
				}
			}
		}
	}
	run(8)
	run(0)

	accepted := map[string]int{}
	require.NoError(t, st.AcceptedFacts(t.Context(), "appi-csv", func(f store.AcceptedFact) error {
		accepted[f.Ref]++
		return nil
	}))
	assert.Len(t, accepted, 9_900, "measures accepted")
	for ref, n := range accepted {
		if n != 1 {
			t.Errorf("%s accepted %d times", ref, n)
		}
	}
	quarantined := 0
	require.NoError(t, st.SourceQuarantines(t.Context(), "appi-csv", func(q store.SourceQuarantine) error {
		quarantined++
		assert.Contains(t, []string{"decode", "map"}, q.Stage)
		assert.NotEmpty(t, q.Reason)
		return nil
	}))
	assert.Equal(t, 100, quarantined, "lines quarantined")
	rejected, err := filepath.Glob(filepath.Join(dir, RejectedDir, "*.reasons"))
	require.NoError(t, err)
	assert.NotEmpty(t, rejected)
}
