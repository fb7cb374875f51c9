package e2e

import (
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"passerelle/config"
	appisim "passerelle/connectors/appi/sim"
	"passerelle/internal/procstat"
	"passerelle/pipeline"
	"passerelle/pipeline/pipelinetest"
)

// appiBenchRowsEnv lowers BenchmarkAppiBackfill's data set for quick runs.
const appiBenchRowsEnv = "PASSERELLE_BENCH_APPI_ROWS"

// appiBenchRows is the number of APPI rows of BenchmarkAppiBackfill: 2,000,000 (about
// the national caseload's history) unless PASSERELLE_BENCH_APPI_ROWS says otherwise.
func appiBenchRows(b *testing.B) int {
	b.Helper()
	v := os.Getenv(appiBenchRowsEnv)
	if v == "" {
		return 2_000_000
	}
	n, err := strconv.Atoi(v)
	require.NoError(b, err, "%s is a number of rows", appiBenchRowsEnv)
	require.Positive(b, n, "%s is a number of rows", appiBenchRowsEnv)
	return n
}

// BenchmarkAppiBackfill is a data takeover from APPI into PRISME: APPI's export already
// holds the history of the caseload — 2,000,000 rows by default
// (PASSERELLE_BENCH_APPI_ROWS lowers it), several measures per person, their changes
// of state, repeated states, a share of transactions that committed out of seq order
// — written by COPY before the clock starts. The clock then runs from the hub's start
// (in this process, route appi-to-prisme of the example configuration) until every
// row is ingested and every delivery settled, and on through `passerelle reconcile
// --from appi --to prisme`'s code path, which must find nothing missing or stale:
// PRISME holds the newest state of every measure. The Kafka broker and the PRISME
// simulator run in a process of their own (startPeers): both keep what they receive
// in memory, as a real broker's disks and PRISME's database would, and must not be
// counted as the hub's.
//
// It reports rows/s of the backfill; the seconds until every row was ingested, of the
// whole backfill, of the reconciliation and of both; the CPU cores the hub and the
// peers used on average during the backfill; the hub's peak RSS (this process's VmHWM,
// reset when the hub starts) and the peers'; the Go heap in use sampled every second,
// its peak while the first half of the rows is ingested, then until the backfill
// settled (memory is flat when the second peak is no higher than the first), and
// during the reconciliation; the deliveries PRISME acknowledged and those superseded
// (not sent: a newer version was there first), per row. PASSERELLE_BENCH_HEAPPROFILE=
// FILE writes a heap profile once the backfill settled. One iteration is the whole
// data set: run it with -benchtime 1x (make bench-e2e).
func BenchmarkAppiBackfill(b *testing.B) {
	rows := appiBenchRows(b)
	var backfill, reconcile, write, ingest, cpu, peersCPU time.Duration
	var peakRSS, peersRSS int64
	var delivered, superseded int
	var heap heapPeaks
	for range b.N {
		b.StopTimer()
		p := startPeers(b)
		r := prepareAPPIRig(b, appiRigOptions{peers: p})
		ctx := b.Context()
		g := appisim.NewGenerator(appisim.GeneratorOptions{Seed: 17, People: max(50, rows/13)})
		t0 := time.Now()
		writeAPPIHistory(b, r.appi, g, rows)
		write += time.Since(t0)
		var high int64
		var measures int
		require.NoError(b, r.appi.Pool().QueryRow(ctx,
			`SELECT max(seq), count(DISTINCT numero_mesure) FROM appi.mesures_export`).Scan(&high, &measures))
		want := strconv.FormatInt(high, 10) // the position once every seq is read, no gap open

		restoreMemory := serveMemoryBudget(b, r.yml, r.env)
		resetPeakRSS()
		p.resetPeakRSS()
		sampler := startHeapSampler()
		b.StartTimer()
		start := time.Now()
		cpu0, peersCPU0, machine0 := processCPU(b), p.cpu(b), pipelinetest.ReadMachineCPU(b)
		stopProfile := pipelinetest.StartBenchProfile(b)
		r.start()
		settled, ingested := false, false
		deadline := time.Now().Add(10*time.Minute + time.Duration(rows)*5*time.Millisecond) // liveness only
		for !settled {
			require.False(b, time.Now().After(deadline), "the backfill did not settle")
			time.Sleep(time.Second)
			pos, _, err := r.hub.run.Store.Checkpoint(ctx, "appi")
			require.NoError(b, err)
			if seq, err := strconv.ParseInt(strings.SplitN(pos, ";", 2)[0], 10, 64); err == nil {
				sampler.progress(float64(seq) / float64(high))
			}
			if pos != want {
				continue
			}
			if !ingested {
				ingested = true
				ingest += time.Since(start)
			}
			// The pending deliveries have a partial index: counted at each poll, they
			// cost little, where Backlog reads the whole outbox.
			var pending int
			require.NoError(b, r.hub.run.Store.Pool().QueryRow(ctx,
				`SELECT count(*) FROM deliveries WHERE destination = 'prisme' AND status = 'pending'`).Scan(&pending))
			if pending > 0 {
				continue
			}
			bl, err := r.hub.run.Store.Backlog(ctx)
			require.NoError(b, err)
			settled = bl.Unpublished == 0 && bl.Unsettled == 0
		}
		backfill += time.Since(start)
		cpu += processCPU(b) - cpu0
		peersCPU += p.cpu(b) - peersCPU0
		pipelinetest.ReportMachine(b, machine0, pipelinetest.ReadMachineCPU(b))
		stopProfile()
		restoreMemory()
		writeHeapProfile(b)
		sampler.progress(2) // the reconciliation
		t1 := time.Now()
		res, err := r.reconciler("appi", "prisme").Run(ctx)
		require.NoError(b, err)
		reconcile += time.Since(t1)
		b.StopTimer()
		heap = heap.max(sampler.stop())
		peakRSS = max(peakRSS, vmHWMOf(b, 0))
		peersRSS = max(peersRSS, p.peakRSS(b))

		var d, sup int
		require.NoError(b, r.hub.run.Store.Pool().QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'delivered'),
			count(*) FILTER (WHERE status = 'superseded') FROM deliveries WHERE destination = 'prisme'`).Scan(&d, &sup))
		delivered, superseded = delivered+d, superseded+sup
		require.Zero(b, res.Counts[pipeline.ClassMissing], "missing: %v", firstFacts(res))
		require.Zero(b, res.Counts[pipeline.ClassStale], "stale: %v", firstFacts(res))
		require.True(b, res.Clean(), "%v", firstFacts(res))
		require.Equal(b, measures, res.OK, "every measure of APPI is in PRISME at its newest seq")
		r.hub.stop()
	}
	n := float64(b.N)
	b.ReportMetric(float64(rows)*n/backfill.Seconds(), "rows/s")
	b.ReportMetric(backfill.Seconds()/n, "backfill-s")
	b.ReportMetric(reconcile.Seconds()/n, "reconcile-s")
	b.ReportMetric((backfill+reconcile).Seconds()/n, "total-s")
	b.ReportMetric(ingest.Seconds()/n, "ingested-s")
	b.ReportMetric(cpu.Seconds()/backfill.Seconds(), "hub-cores")
	b.ReportMetric(peersCPU.Seconds()/backfill.Seconds(), "peers-cores")
	b.ReportMetric(write.Seconds()/n, "copy-s")
	b.ReportMetric(float64(delivered)/(float64(rows)*n), "sent/row")
	b.ReportMetric(float64(superseded)/(float64(rows)*n), "superseded/row")
	b.ReportMetric(float64(peakRSS)/(1<<20), "hub-peak-RSS-MB")
	b.ReportMetric(float64(peersRSS)/(1<<20), "peers-peak-RSS-MB")
	b.ReportMetric(float64(heap.firstHalf)/(1<<20), "heap-1st-half-MB")
	b.ReportMetric(float64(heap.secondHalf)/(1<<20), "heap-2nd-half-MB")
	b.ReportMetric(float64(heap.reconcile)/(1<<20), "heap-reconcile-MB")
}

// writeAPPIHistory writes n rows of g into APPI's export by COPY, 10,000 rows a
// transaction; the first hundred of each chunk take their seqs first in a transaction
// that commits only after the rest of the chunk: out of seq order.
func writeAPPIHistory(b *testing.B, db *appisim.DB, g *appisim.Generator, n int) {
	b.Helper()
	ctx := b.Context()
	const chunk, late = 10_000, 100
	for written := 0; written < n; {
		batch := g.Rows(min(chunk, n-written))
		rest := batch
		var l *appisim.LateTx
		if len(batch) > 2*late {
			var err error
			l, err = db.BeginLate(ctx, batch[:late]...)
			require.NoError(b, err)
			rest = batch[late:]
		}
		require.NoError(b, db.Copy(ctx, rest...))
		if l != nil {
			require.NoError(b, l.Commit(ctx))
		}
		written += len(batch)
	}
}

// firstFacts is the beginning of what reconcile found, for a failure's message.
func firstFacts(res *pipeline.Reconciliation) []pipeline.FactReport {
	return res.Facts[:min(len(res.Facts), 5)]
}

// serveMemoryBudget gives this process, which runs the hub, the Go runtime's memory
// budget that `passerelle serve` would take from the configuration yml (with a Kafka
// cluster, as here: GOGC 400 under a soft limit of 200 MiB), unless GOGC or GOMEMLIMIT
// are set; it returns what puts the test binary's own back.
func serveMemoryBudget(b *testing.B, yml string, env map[string]string) (restore func()) {
	b.Helper()
	cfg, err := config.Read(strings.NewReader(yml), func(k string) string { return env[k] })
	require.NoError(b, err)
	_, _, restore = cfg.Memory.Apply(os.Getenv)
	return restore
}

// writeHeapProfile writes the heap profile to the file PASSERELLE_BENCH_HEAPPROFILE
// names, if any: what the process holds once the backfill settled.
func writeHeapProfile(b *testing.B) {
	b.Helper()
	path := os.Getenv("PASSERELLE_BENCH_HEAPPROFILE")
	if path == "" {
		return
	}
	f, err := os.Create(path)
	require.NoError(b, err)
	defer func() { require.NoError(b, f.Close()) }()
	runtime.GC()
	require.NoError(b, pprof.WriteHeapProfile(f))
}

// processCPU is the CPU time the process used so far (user and system).
func processCPU(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// resetPeakRSS resets the process's VmHWM to its current RSS (Linux's clear_refs 5);
// where that is refused, VmHWM stays the peak since the process started.
func resetPeakRSS() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// vmHWMOf reads the peak resident set size of process pid (0: this one), in bytes.
func vmHWMOf(b testing.TB, pid int) int64 {
	b.Helper()
	rss, err := procstat.PeakRSS(pid)
	require.NoError(b, err)
	return rss
}

// heapPeaks are the peaks of the Go heap in use (live and not yet swept objects).
type heapPeaks struct{ firstHalf, secondHalf, reconcile uint64 }

func (h heapPeaks) max(o heapPeaks) heapPeaks {
	return heapPeaks{max(h.firstHalf, o.firstHalf), max(h.secondHalf, o.secondHalf), max(h.reconcile, o.reconcile)}
}

// heapSampler reads the heap in use every second, filed under the progress of the
// run: below 0.5 the backfill's first half, below 2 its second, then the
// reconciliation.
type heapSampler struct {
	mu    sync.Mutex
	at    float64
	peaks heapPeaks
	done  chan struct{}
	wg    sync.WaitGroup
}

func startHeapSampler() *heapSampler {
	s := &heapSampler{done: make(chan struct{})}
	s.wg.Go(func() {
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		final := false
		for {
			metrics.Read(sample)
			v := sample[0].Value.Uint64()
			s.mu.Lock()
			switch {
			case s.at < 0.5:
				s.peaks.firstHalf = max(s.peaks.firstHalf, v)
			case s.at < 2:
				s.peaks.secondHalf = max(s.peaks.secondHalf, v)
			default:
				s.peaks.reconcile = max(s.peaks.reconcile, v)
			}
			s.mu.Unlock()
			select {
			case <-s.done:
				if !final {
					final = true
					continue // one last sample
				}
				return
			case <-tick.C:
			}
		}
	})
	return s
}

func (s *heapSampler) progress(at float64) {
	s.mu.Lock()
	s.at = at
	s.mu.Unlock()
}

func (s *heapSampler) stop() heapPeaks {
	close(s.done)
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peaks
}
