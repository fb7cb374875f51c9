package pipeline

// The end-to-end benchmarks of the spine (docs/performance.md): 100,000 realistic
// penal records through the real parts — PostgreSQL, the Kafka protocol over TCP, an
// HTTP destination. One iteration is the whole file: run them once each with
//
//	go test -run '^$' -bench 'IngestHalf|WholePath' -benchtime 1x ./pipeline/
//
// (make bench-e2e). Each reports, beside its own figures, the decode+validate ceiling
// measured in the same run on the same records: what the machine can do with no I/O
// at all, the bound any durable pipeline stays under.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"passerelle/config"
	"passerelle/connectors/builtin"
	"passerelle/connectors/jsonl"
	"passerelle/internal/pgtest"
	"passerelle/internal/procstat"
	"passerelle/pipeline/bus"
	"passerelle/pipeline/pipelinetest"
	"passerelle/pipeline/store"
	"passerelle/schemas"
)

const (
	// benchFacts is the number of records timed.
	benchFacts = 100_000
	// benchWarmup records go first, untimed: connections, leases, the consumer group's
	// join and the JIT-free but cache-cold first batches are paid before the clock runs.
	benchWarmup = 1_000
	benchSeed   = 2025
	// benchPartitions is the configuration's default partition count.
	benchPartitions = 6
)

// benchRecords are generated once per test binary: the warm-up records, then the
// timed ones.
var benchRecords = sync.OnceValue(func() [][]byte { return pipelinetest.PenalRecords(benchWarmup+benchFacts, benchSeed) })

// benchConfig is a hub reading a GENESIS export of penal records (jsonl) and delivering
// them over HTTP to a sentence-enforcement application, with a realistic allow-list.
func benchConfig(dbURL, broker, file, dest string) string {
	return fmt.Sprintf(`
log: {format: json, level: warn}
database: {url: %q}
kafka: {brokers: [%q], partitions: %d, replicationFactor: 1, sessionTimeout: 2s, heartbeatInterval: 500ms}
http: {listen: "127.0.0.1:0"}
connectors:
  genesis-export: {kind: jsonl, path: %q}
  appi-sap: {kind: webhook, url: %q, recipient: enforcement, timeout: 5s}
routes:
  - name: penal-records-to-sap
    types: [penal-record]
    destination: appi-sap
    legalBasis: {reference: "Code de procédure pénale, art. 712-1", purpose: "end-to-end benchmark of the spine"}
    allow:
      penal-record:
        - committalNumber
        - establishmentCode
        - establishmentName
        - version
        - person.lastName
        - person.usageName
        - person.firstNames
        - person.sex
        - person.birthDate
        - person.birthPlace
        - person.nationality
        - person.identifiers.committalNumber
        - person.identifiers.establishmentCode
        - person.identifiers.appiFileNumber
        - committalDate
        - status
        - convictions[].decisionReference
        - convictions[].court
        - convictions[].decisionDate
        - convictions[].decisionKind
        - convictions[].offences[].natinf
        - convictions[].offences[].label
        - convictions[].offences[].offenceDate
        - convictions[].sentences[].kind
        - convictions[].sentences[].duration.years
        - convictions[].sentences[].duration.months
        - convictions[].sentences[].duration.days
        - convictions[].sentences[].suspendedDuration.years
        - convictions[].sentences[].suspendedDuration.months
        - convictions[].sentences[].suspendedDuration.days
        - convictions[].sentences[].obligations
        - convictions[].sentences[].executionStartDate
        - convictions[].sentences[].endDate
        - reductions[].type
        - reductions[].days
        - reductions[].decisionDate
        - securityPeriodEnd
        - projectedReleaseDate
        - releaseDate
`, dbURL, broker, benchPartitions, file, dest)
}

func benchReadConfig(b *testing.B, yaml string) *config.Config {
	b.Helper()
	cfg, err := config.Read(strings.NewReader(yaml), func(string) string { return "" })
	require.NoError(b, err)
	return cfg
}

// decodeValidateCeiling runs the Ingester's CPU work on lines with no I/O — the jsonl
// source's one-pass decode of the CloudEvent and its data, the envelope document and
// its validation — on workers goroutines, and returns records per second.
func decodeValidateCeiling(b *testing.B, reg *schemas.Registry, lines [][]byte, workers int) float64 {
	b.Helper()
	errs := make(chan error, workers)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(lines); i += workers {
				m, data, err := jsonl.DecodeLine(lines[i])
				if err != nil {
					errs <- err
					return
				}
				m.Subject = "00000000-0000-4000-8000-000000000000" // the Ingester resolves it first
				if err := reg.Validate(envelopeDoc(m, data)); err != nil {
					errs <- fmt.Errorf("record %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return float64(len(lines)) / elapsed.Seconds()
}

// reportCeiling measures and reports the ceiling on one core and on all of them.
func reportCeiling(b *testing.B, lines [][]byte) {
	b.Helper()
	reg, err := schemas.Load()
	require.NoError(b, err)
	b.ReportMetric(decodeValidateCeiling(b, reg, lines, 1), "ceiling-1core-facts/s")
	if n := runtime.GOMAXPROCS(0); n > 1 {
		b.ReportMetric(decodeValidateCeiling(b, reg, lines, n), "ceiling-allcores-facts/s")
	}
}

// appendLines appends a block of lines, joined beforehand (pipelinetest.JoinLines):
// the source system writing its export, which the benchmarks time from its first byte
// but which is not the hub's work. Joining 100,000 records in the timed window, into a
// buffer that grew by doubling, took 1.3 s of CPU in a 12 s run of the ingest half.
func appendLines(b *testing.B, file string, block []byte) {
	b.Helper()
	f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0o600)
	require.NoError(b, err)
	_, err = f.Write(block)
	require.NoError(b, err)
	require.NoError(b, f.Close())
}

func benchCount(b *testing.B, ctx context.Context, db *store.Store, query string) int {
	b.Helper()
	var n int
	require.NoError(b, db.Pool().QueryRow(ctx, query).Scan(&n))
	return n
}

// waitPublished polls until source has ingested the whole of file (its checkpoint is
// the file's size: the checkpoint commits with the outbox rows) and no outbox row is
// unpublished. Both are index lookups: a count of the published rows, which the
// benchmark polled before, had PostgreSQL scan the outbox's state every 50 ms (1.9 s of
// its CPU in a 16 s run, taken from the pipeline it measured).
func waitPublished(b *testing.B, ctx context.Context, db *store.Store, source, file string, timeout time.Duration) {
	b.Helper()
	fi, err := os.Stat(file)
	require.NoError(b, err)
	want := strconv.FormatInt(fi.Size(), 10)
	deadline := time.Now().Add(timeout)
	for {
		var pos string
		var unpublished int
		err := db.Pool().QueryRow(ctx, `SELECT coalesce((SELECT position FROM checkpoints WHERE source = $1), ''),
			(SELECT count(*) FROM outbox_state WHERE published_at IS NULL)`, source).Scan(&pos, &unpublished)
		require.NoError(b, err)
		if pos == want && unpublished == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("not published after %s: checkpoint %q of %s bytes, %d unpublished", timeout, pos, want, unpublished)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitCount polls query until it returns want.
func waitCount(b *testing.B, ctx context.Context, db *store.Store, query string, want int, timeout time.Duration) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for {
		n := benchCount(b, ctx, db, query)
		if n == want {
			return
		}
		if n > want || time.Now().After(deadline) {
			b.Fatalf("%s: %d, want %d", query, n, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// BenchmarkIngestHalf is the ingest half of the spine on 100,000 penal records: the
// jsonl source reads the file, the Ingester decodes, resolves each person, validates
// and commits outbox, pending deliveries, dedup, checkpoint and audit in PostgreSQL,
// and the Relay publishes every outbox row to Kafka (the embedded broker, over TCP)
// and marks it published. The clock runs from the moment the records are appended to
// the file to the moment the last outbox row is marked published.
func BenchmarkIngestHalf(b *testing.B) {
	b.StopTimer()
	lines := benchRecords()
	warm, timed := lines[:benchWarmup], lines[benchWarmup:]
	reportCeiling(b, timed)
	ctx := b.Context()
	var elapsed time.Duration
	for range b.N {
		b.StopTimer()
		dbURL := pgtest.NewDatabase(b)
		emb, err := bus.StartEmbedded(ctx, bus.EmbeddedOptions{Addr: "127.0.0.1:0", Partitions: benchPartitions})
		require.NoError(b, err)
		file := filepath.Join(b.TempDir(), "genesis.jsonl")
		require.NoError(b, os.WriteFile(file, pipelinetest.JoinLines(warm), 0o600))
		cfg := benchReadConfig(b, benchConfig(dbURL, emb.Addrs()[0], file, "http://127.0.0.1:9/unused"))
		instances, ps := builtin.Default().Instantiate(cfg, zap.NewNop())
		require.Empty(b, ps)
		reg, routing, err := Prepare(cfg, instances)
		require.NoError(b, err)
		st, err := store.Open(ctx, dbURL, store.Options{MaxConns: cfg.Database.MaxConns})
		require.NoError(b, err)
		require.NoError(b, bus.EnsureTopics(ctx, emb.Addrs(), bus.Topics(cfg.Kafka.TopicPrefix), benchPartitions, 1))
		pub, err := bus.NewPublisher(bus.PublisherConfig{Brokers: emb.Addrs()})
		require.NoError(b, err)

		runCtx, cancel := context.WithCancel(ctx)
		ingester := &Ingester{Store: st, Schemas: reg, Routing: routing, Log: zap.NewNop()}
		// Poll: the hub's default waits 1 s after an empty read; 20 ms (the relay's
		// idle pause) keeps that wait out of the figure.
		source := &SourceRunner{Name: "genesis-export", Source: instances["genesis-export"].Source, Ingester: ingester, Store: st,
			Log: zap.NewNop(), Poll: 20 * time.Millisecond}
		relay := &Relay{Store: st, Publisher: pub, TopicPrefix: cfg.Kafka.TopicPrefix, Log: zap.NewNop()}
		var wg sync.WaitGroup
		wg.Go(func() { _ = source.Run(runCtx) })
		wg.Go(func() { _ = relay.Run(runCtx) })
		waitPublished(b, ctx, st, "genesis-export", file, 2*time.Minute)
		require.Equal(b, len(warm), benchCount(b, ctx, st, `SELECT count(*) FROM outbox`))

		block := pipelinetest.JoinLines(timed)
		stopProfile := pipelinetest.StartBenchProfile(b)
		b.StartTimer()
		cpu0 := pipelinetest.ReadMachineCPU(b)
		start := time.Now()
		appendLines(b, file, block)
		waitPublished(b, ctx, st, "genesis-export", file, 10*time.Minute)
		elapsed += time.Since(start)
		b.StopTimer()
		stopProfile()
		pipelinetest.ReportMachine(b, cpu0, pipelinetest.ReadMachineCPU(b))

		cancel()
		wg.Wait()
		require.Equal(b, len(lines), benchCount(b, ctx, st, `SELECT count(*) FROM outbox`), "every record was accepted")
		require.Zero(b, benchCount(b, ctx, st, `SELECT count(*) FROM quarantine`), "no record was refused")
		require.NoError(b, pub.Close())
		st.Close()
		emb.Close()
	}
	b.ReportMetric(float64(b.N*len(timed))/elapsed.Seconds(), "facts/s")
}

// BenchmarkWholePath is the whole spine on 100,000 penal records, every guarantee on:
// a `passerelle serve` process (the binary, as production runs it) reads the file,
// ingests, relays to Kafka (a broker in the benchmark's process, standing for the
// cluster), consumes, applies the route's policy and delivers each record to a local
// HTTP destination with its idempotency key, recording every outcome and audit row.
// It reports facts/s from the first record's acceptance to the last effect at the
// destination, p50 and p99 of each record's latency from its acceptance (outbox
// accepted_at) to its effect (the destination's clock: same machine), and the hub
// process's peak RSS (VmHWM). The records arrive as one burst, so latency includes the
// queueing of the burst: it says how long the last records wait, not an idle hub's
// latency.
func BenchmarkWholePath(b *testing.B) {
	b.StopTimer()
	lines := benchRecords()
	warm, timed := lines[:benchWarmup], lines[benchWarmup:]
	reportCeiling(b, timed)
	ctx := b.Context()
	bin := filepath.Join(b.TempDir(), "passerelle")
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "passerelle/cmd/passerelle").CombinedOutput()
	require.NoError(b, err, "go build: %s", out)

	var (
		latencies []time.Duration
		busy      time.Duration
		peakRSS   int64
	)
	for range b.N {
		b.StopTimer()
		dbURL := pgtest.NewDatabase(b)
		emb, err := bus.StartEmbedded(ctx, bus.EmbeddedOptions{Addr: "127.0.0.1:0", Partitions: benchPartitions, GroupMinSessionTimeout: time.Second})
		require.NoError(b, err)
		dest := pipelinetest.NewDestination(benchSeed)
		dir := b.TempDir()
		file := filepath.Join(dir, "genesis.jsonl")
		require.NoError(b, os.WriteFile(file, pipelinetest.JoinLines(warm), 0o600))
		cfgFile := filepath.Join(dir, "passerelle.yaml")
		require.NoError(b, os.WriteFile(cfgFile, []byte(benchConfig(dbURL, emb.Addrs()[0], file, dest.URL())), 0o600))
		logFile := filepath.Join(dir, "hub.log")
		logf, err := os.Create(logFile)
		require.NoError(b, err)
		args := []string{"serve", "--config", cfgFile}
		if prof := os.Getenv("PASSERELLE_BENCH_CPUPROFILE"); prof != "" {
			args = append(args, "--cpuprofile", prof) // the hub process's profile: go tool pprof
		}
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL)
		require.NoError(b, cmd.Start())
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		waitEffects := func(n int, timeout time.Duration) {
			b.Helper()
			deadline := time.Now().Add(timeout)
			for dest.AppliedCount() < n {
				select {
				case err := <-exited:
					log, _ := os.ReadFile(logFile)
					b.Fatalf("the hub exited: %v\n%s", err, tail(log, 3000))
				case <-time.After(20 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					log, _ := os.ReadFile(logFile)
					b.Fatalf("%d effects of %d after %s\n%s", dest.AppliedCount(), n, timeout, tail(log, 3000))
				}
			}
		}
		waitEffects(len(warm), 3*time.Minute)

		block := pipelinetest.JoinLines(timed)
		b.StartTimer()
		cpu0 := pipelinetest.ReadMachineCPU(b)
		appendLines(b, file, block)
		waitEffects(len(lines), 15*time.Minute)
		b.StopTimer()
		pipelinetest.ReportMachine(b, cpu0, pipelinetest.ReadMachineCPU(b))
		rss := vmHWM(b, cmd.Process.Pid)
		peakRSS = max(peakRSS, rss)
		// The last effects' outcomes are recorded a few milliseconds after them: let the
		// hub record them before it is stopped (one stopped first would deliver them
		// again at its next start, which this benchmark does not run).
		st, err := store.Open(ctx, dbURL, store.Options{MaxConns: 2})
		require.NoError(b, err)
		waitCount(b, ctx, st, `SELECT count(*) FROM deliveries WHERE status = 'delivered'`, len(lines), time.Minute)
		require.NoError(b, cmd.Process.Signal(syscall.SIGTERM))
		var stopErr error
		select {
		case stopErr = <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			stopErr = <-exited
		}
		if stopErr != nil {
			b.Logf("the hub did not stop cleanly on SIGTERM: %v", stopErr)
		}
		_ = logf.Close()

		// Latency: accepted_at of each timed record's outbox row → its effect.
		accepted := map[string]time.Time{}
		rows, err := st.Pool().Query(ctx, `SELECT d.idempotency_key, o.accepted_at FROM deliveries d JOIN outbox o ON o.id = d.message_id
			ORDER BY o.seq OFFSET $1`, len(warm))
		require.NoError(b, err)
		var key string
		var at time.Time
		_, err = pgx.ForEachRow(rows, []any{&key, &at}, func() error { accepted[key] = at; return nil })
		require.NoError(b, err)
		require.Len(b, accepted, len(timed))
		var first, last time.Time
		effects := dest.Applied()
		require.Len(b, effects, len(lines), "one effect per record, none twice")
		matched := 0
		for _, e := range effects {
			a, ok := accepted[e.Key]
			if !ok {
				continue // a warm-up record
			}
			matched++
			latencies = append(latencies, e.At.Sub(a))
			if first.IsZero() || a.Before(first) {
				first = a
			}
			if e.At.After(last) {
				last = e.At
			}
		}
		require.Equal(b, len(timed), matched, "every timed record took effect")
		busy += last.Sub(first)
		var pending int
		require.NoError(b, st.Pool().QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE status <> 'delivered'`).Scan(&pending))
		require.Zero(b, pending, "every record delivered")
		st.Close()
		dest.Close()
		emb.Close()
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[min(len(latencies)-1, int(p*float64(len(latencies))))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(b.N*len(timed))/busy.Seconds(), "facts/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(peakRSS)/(1<<20), "peak-RSS-MiB")
}

// vmHWM reads a process's peak resident set size, in bytes.
func vmHWM(b *testing.B, pid int) int64 {
	b.Helper()
	rss, err := procstat.PeakRSS(pid)
	require.NoError(b, err)
	return rss
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
