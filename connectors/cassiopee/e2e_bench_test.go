package cassiopee_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"

	"passerelle/connectors/cassiopee/sim"
	psim "passerelle/connectors/prisme/sim"
)

// The size of BenchmarkIntakeToPrisme, overridable for a quick check
// (CASSIOPEE_BENCH_DECISIONS=1000 go test -run '^$' -bench IntakeToPrisme -benchtime 1x).
const (
	benchDecisionsEnv = "CASSIOPEE_BENCH_DECISIONS"
	benchRateEnv      = "CASSIOPEE_BENCH_RATE"
	benchDecisions    = 10_000
	benchRate         = 500.0 // decisions per second
	clerksPerCourt    = 2
)

// BenchmarkIntakeToPrisme is flow 2 end to end at a paced rate: a whole hub (the
// Cassiopée intake over TLS with client certificates, PostgreSQL, the embedded broker,
// the PRISME sink and simulator over HTTP), with two workstations of each of the four
// courts (eight TLS connections) pushing new decisions open-loop — each POST starts at
// its scheduled time, whether or not the earlier ones were answered — at
// CASSIOPEE_BENCH_RATE decisions/s (default 500) for CASSIOPEE_BENCH_DECISIONS
// decisions (default 10,000).
//
// A decision's latency runs from the start of its POST to the moment PRISME stored the
// last of its prévenus' judgments (the simulator's recuLe, its acknowledgement). It
// reports the p50, p99 and max of those latencies, the rate offered and the rate
// achieved (decisions from the first POST to the last acknowledgement), the p99 of the
// intake's answer (202) alone, of the hub's way from that answer to PRISME's request,
// and of PRISME's own answer, to show where the time goes (the log line gives their
// p50 too). It fails when a decision is not accepted — a POST the workstation gave up
// on after its 30 s timeout included, saying then how many decisions/s the intake did
// accept — or not delivered exactly once per prévenu. One iteration is the whole run:
// use -benchtime 1x (make bench-e2e).
func BenchmarkIntakeToPrisme(b *testing.B) {
	n := envInt(b, benchDecisionsEnv, benchDecisions)
	rate := envFloat(b, benchRateEnv, benchRate)
	var all []float64
	for range b.N {
		b.StopTimer()
		res := runPaced(b, n, rate)
		all = append(all, res.latencies...)
		b.ReportMetric(res.offered, "offered-rate")
		b.ReportMetric(res.achieved, "decisions/s")
		b.ReportMetric(percentile(res.accept, 0.99), "accept-p99-ms")
		b.ReportMetric(percentile(res.hub, 0.99), "hub-p99-ms")
		b.ReportMetric(percentile(res.prisme, 0.99), "prisme-p99-ms")
	}
	b.ReportMetric(float64(len(all)), "count")
	b.ReportMetric(percentile(all, 0.50), "p50-ms")
	b.ReportMetric(percentile(all, 0.99), "p99-ms")
	b.ReportMetric(slices.Max(all), "max-ms")
	b.ReportMetric(0, "ns/op") // one op is a whole run: its duration says nothing
}

// pacedDecision is one decision of a paced run and what happened to it.
type pacedDecision struct {
	court    string
	clerk    int
	npp      string // numéro parquet: the PRISME key's first part
	body     []byte
	prevenus int
	start    time.Time // the POST began
	answered time.Time // the 202 came back
	messages []string  // the receipt's message ids
	acked    time.Time // PRISME stored its last prévenu
	stored   int       // judgments PRISME stored for it
	err      error
}

// pacedResult is what a paced run measured, latencies in milliseconds.
type pacedResult struct {
	latencies, accept, hub, prisme []float64
	offered, achieved              float64
}

// runPaced runs a hub, pushes n decisions at rate decisions/s and measures them.
func runPaced(b *testing.B, n int, rate float64) pacedResult {
	b.Helper()
	r := startHubLogging(b, zapcore.WarnLevel)
	clerks := map[string][]*sim.Clerk{}
	var ds []*pacedDecision
	gens := make([]*sim.Generator, len(sim.Courts))
	for i, c := range sim.Courts {
		gens[i] = sim.NewGenerator(uint64(100+i), c)
		for range clerksPerCourt {
			clerks[c.Code] = append(clerks[c.Code], r.clerk(b, c.Code))
		}
	}
	// The warm-up's decisions come first from Lyon's generator, so that every numéro
	// parquet is sent once.
	var warmup [][]byte
	for range clerks[sim.Courts[0].Code] {
		warmup = append(warmup, sim.Body(gens[0].Decision()))
	}
	prevenus := 0
	for i := range n {
		c := i % len(sim.Courts)
		d := gens[c].Decision()
		prevenus += len(d.Prevenus)
		ds = append(ds, &pacedDecision{court: sim.Courts[c].Code, clerk: (i / len(sim.Courts)) % clerksPerCourt,
			npp: d.Jugement.NumeroParquet, body: sim.Body(d), prevenus: len(d.Prevenus)})
	}
	// One exchange per workstation first: the TLS handshakes and the first token from
	// PRISME are not what the benchmark measures.
	for i, cs := range clerks[sim.Courts[0].Code] {
		a, err := cs.Send(b.Context(), warmup[i])
		require.NoError(b, err)
		require.Equal(b, http.StatusAccepted, a.Status, "%s", a.Body)
	}
	for _, c := range sim.Courts[1:] {
		for _, cs := range clerks[c.Code] {
			a, err := cs.Receipt(b.Context(), "none")
			require.NoError(b, err)
			require.Equal(b, http.StatusNotFound, a.Status)
		}
	}
	eventually(b, time.Minute, "the warm-up delivered", func() bool { return r.settled(b) })
	warmed := r.prisme.Stats().Stored[psim.Decision]

	b.StartTimer()
	var wg sync.WaitGroup
	interval := time.Duration(float64(time.Second) / rate)
	begin := time.Now()
	for i, d := range ds {
		if wait := time.Until(begin.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		wg.Go(func() {
			d.start = time.Now()
			a, err := clerks[d.court][d.clerk].Send(context.Background(), d.body)
			d.answered = time.Now()
			switch {
			case err != nil:
				d.err = err
			case a.Status != http.StatusAccepted || a.Receipt == nil:
				d.err = fmt.Errorf("answered %d: %s", a.Status, a.Body)
			default:
				for _, m := range a.Receipt.Messages {
					d.messages = append(d.messages, m.MessageID)
				}
			}
		})
	}
	wg.Wait()
	sent := time.Since(begin)
	var refused []*pacedDecision
	var answered []float64
	for _, d := range ds {
		if d.err != nil {
			refused = append(refused, d)
		} else {
			answered = append(answered, ms(d.answered.Sub(d.start)))
		}
	}
	if len(refused) > 0 {
		// What the intake managed, to say how far from the rate offered it was.
		b.Fatalf("%d of %d decisions not accepted, the first: %s: %v; the %d accepted were answered at p50 %.0f ms, p99 %.0f ms, "+
			"%.1f decisions/s accepted", len(refused), len(ds), refused[0].npp, refused[0].err, len(answered),
			percentile(answered, 0.5), percentile(answered, 0.99), float64(len(answered))/sent.Seconds())
	}
	want := warmed + prevenus
	eventually(b, 5*time.Minute, "every judgment stored by PRISME", func() bool {
		return r.prisme.Stats().Stored[psim.Decision] >= want && r.settled(b)
	})
	b.StopTimer()

	byNPP := make(map[string]*pacedDecision, len(ds))
	for _, d := range ds {
		byNPP[d.npp] = d
	}
	for _, it := range r.prisme.History(psim.Decision) {
		npp, _, _ := strings.Cut(it.Key, "@")
		d, ok := byNPP[npp]
		if !ok {
			continue // the warm-up's
		}
		d.stored++
		if it.RecuLe.After(d.acked) {
			d.acked = it.RecuLe
		}
	}
	res := pacedResult{offered: float64(len(ds)-1) / ds[len(ds)-1].start.Sub(ds[0].start).Seconds()}
	var last time.Time
	for _, d := range ds {
		if d.stored != d.prevenus {
			b.Fatalf("decision %s: PRISME stored %d judgments for %d prévenus", d.npp, d.stored, d.prevenus)
		}
		// recuLe is a wall-clock reading: so is the difference (no monotonic reading).
		res.latencies = append(res.latencies, ms(d.acked.Sub(d.start)))
		res.accept = append(res.accept, ms(d.answered.Sub(d.start)))
		if d.acked.After(last) {
			last = d.acked
		}
	}
	res.achieved = float64(len(ds)) / last.Sub(ds[0].start).Seconds()
	res.hub, res.prisme = stages(b, r, byNPP)
	b.Logf("%d decisions (%d judgments) sent in %s over %d workstations; POST → PRISME p50 %.1f ms, p99 %.1f ms, max %.1f ms; "+
		"of which the intake's answer p50 %.1f p99 %.1f, the hub's way to PRISME p50 %.1f p99 %.1f, PRISME p50 %.1f p99 %.1f",
		len(ds), prevenus, sent.Round(time.Millisecond), len(sim.Courts)*clerksPerCourt,
		percentile(res.latencies, 0.5), percentile(res.latencies, 0.99), slices.Max(res.latencies),
		percentile(res.accept, 0.5), percentile(res.accept, 0.99), percentile(res.hub, 0.5), percentile(res.hub, 0.99),
		percentile(res.prisme, 0.5), percentile(res.prisme, 0.99))
	return res
}

// stages splits each decision's latency, in milliseconds, at the moment PRISME
// received the request of its last prévenu (the simulator's request log): hub is from
// the intake's answer to that moment — the relay, Kafka, the consumer, the delivery
// lanes and the sink —, prisme from that moment to the acknowledgement.
func stages(b *testing.B, r *hubRig, byNPP map[string]*pacedDecision) (hub, prisme []float64) {
	b.Helper()
	arrived := make(map[string]time.Time, len(byNPP))
	for _, rq := range r.prisme.Requests() {
		if rq.Endpoint != psim.EndpointDecisions || rq.Status != http.StatusCreated {
			continue
		}
		npp, _, _ := strings.Cut(rq.ItemKey, "@")
		if _, ok := byNPP[npp]; ok && rq.At.After(arrived[npp]) {
			arrived[npp] = rq.At
		}
	}
	for npp, d := range byNPP {
		at, ok := arrived[npp]
		require.True(b, ok, "PRISME's request log has %s", npp)
		hub, prisme = append(hub, ms(at.Sub(d.answered))), append(prisme, ms(d.acked.Sub(at)))
	}
	return hub, prisme
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// percentile returns the p-quantile of xs (nearest rank); xs is sorted in place.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	slices.Sort(xs)
	i := int(math.Ceil(p*float64(len(xs)))) - 1
	return xs[max(0, min(i, len(xs)-1))]
}

func envInt(b *testing.B, name string, def int) int {
	b.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	require.NoError(b, err, name)
	require.Positive(b, v, name)
	return v
}

func envFloat(b *testing.B, name string, def float64) float64 {
	b.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.ParseFloat(s, 64)
	require.NoError(b, err, name)
	require.Positive(b, v, name)
	return v
}
