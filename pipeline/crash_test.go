package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/internal/pgtest"
	"passerelle/pipeline"
	"passerelle/pipeline/bus"
	"passerelle/pipeline/pipelinetest"
	"passerelle/pipeline/store"
)

// buildBinary builds passerelle once for the crash tests.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "passerelle")
	out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "passerelle/cmd/passerelle").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// crashRig is a broker and a database that outlive the hub processes a test kills.
type crashRig struct {
	t       *testing.T
	bin     string
	cfg     string
	file    string
	dbURL   string
	dest    *pipelinetest.Destination
	newest  map[string]int64
	lines   [][]byte
	logDir  string
	started int
	running []*exec.Cmd
	broker  string
}

// group describes the deliverer's consumer group as the broker sees it: its state, and
// each member with the partitions it was given.
func (r *crashRig) group() string {
	c := &kafka.Client{Addr: kafka.TCP(r.broker), Timeout: 5 * time.Second}
	res, err := c.DescribeGroups(context.Background(), &kafka.DescribeGroupsRequest{GroupIDs: []string{pipeline.DeliverGroup("archive")}})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, g := range res.Groups {
		fmt.Fprintf(&b, "group %s: %s, %d members, error %v\n", g.GroupID, g.GroupState, len(g.Members), g.Error)
		for _, m := range g.Members {
			fmt.Fprintf(&b, "  member %s: %+v\n", m.MemberID, m.MemberAssignments.Topics)
		}
	}
	return b.String()
}

func newCrashRig(t *testing.T, facts int, faults pipelinetest.Faults) *crashRig {
	t.Helper()
	r := &crashRig{t: t, bin: buildBinary(t), dbURL: pgtest.NewDatabase(t), logDir: t.TempDir()}
	emb, err := bus.StartEmbedded(t.Context(), bus.EmbeddedOptions{GroupMinSessionTimeout: time.Second, Partitions: 4})
	require.NoError(t, err)
	t.Cleanup(emb.Close)
	r.broker = emb.Addrs()[0]
	r.dest = pipelinetest.NewDestination(7)
	t.Cleanup(r.dest.Close)
	r.dest.SetFaults(faults)
	r.lines, r.newest = pipelinetest.Facts(facts, facts/8, 42)
	dir := t.TempDir()
	r.file = filepath.Join(dir, "measures.jsonl")
	require.NoError(t, os.WriteFile(r.file, nil, 0o600))
	r.cfg = filepath.Join(dir, "passerelle.yaml")
	require.NoError(t, os.WriteFile(r.cfg, fmt.Appendf(nil, `
log: {format: json, level: debug}
database: {url: %q}
kafka: {brokers: [%q], partitions: 4, replicationFactor: 1, sessionTimeout: 2s, heartbeatInterval: 500ms, rebalanceTimeout: 4s}
http: {listen: "127.0.0.1:0"}
delivery: {backoffMin: 20ms, backoffMax: 500ms, timeout: 1s}
connectors:
  appi-export: {kind: jsonl, path: %q}
  archive: {kind: webhook, url: %q, recipient: other, timeout: 1s}
routes:
  - name: measures-to-archive
    types: [measure]
    destination: archive
    legalBasis: {reference: "Test", purpose: "crash test of the spine"}
    allow:
      measure: [version, measureNumber, status, person.identifiers.appiFileNumber]
`, r.dbURL, emb.Addrs()[0], r.file, r.dest.URL()), 0o600))
	return r
}

// appendFacts writes the next share of the facts to the source file.
func (r *crashRig) appendFacts(from, to int) {
	f, err := os.OpenFile(r.file, os.O_APPEND|os.O_WRONLY, 0o600)
	require.NoError(r.t, err)
	_, err = f.Write(pipelinetest.JoinLines(r.lines[from:to]))
	require.NoError(r.t, err)
	require.NoError(r.t, f.Close())
}

// start runs one hub process.
func (r *crashRig) start() *exec.Cmd {
	r.started++
	logf, err := os.Create(filepath.Join(r.logDir, fmt.Sprintf("hub-%02d.log", r.started)))
	require.NoError(r.t, err)
	cmd := exec.Command(r.bin, "serve", "--config", r.cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	// DATABASE_URL overrides the file (as in production): point it at this test's database.
	cmd.Env = append(os.Environ(), "DATABASE_URL="+r.dbURL, "GOTRACEBACK=all")
	require.NoError(r.t, cmd.Start())
	r.running = append(r.running, cmd)
	r.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); _ = logf.Close() })
	return cmd
}

// kill SIGKILLs a hub; one that already exited on its own fails the test.
func (r *crashRig) kill(cmd *exec.Cmd) {
	r.t.Helper()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		log, _ := os.ReadFile(filepath.Join(r.logDir, fmt.Sprintf("hub-%02d.log", r.started)))
		r.t.Fatalf("the hub exited before it was killed: %v\n%s", err, tail(log, 3000))
	}
	_ = cmd.Wait()
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// settle waits until the destination holds every newest version and the store has
// nothing in flight, then checks every guarantee.
func (r *crashRig) settle(timeout time.Duration) {
	t := r.t
	st, err := store.Open(t.Context(), r.dbURL, store.Options{MaxConns: 2})
	require.NoError(t, err)
	defer st.Close()
	deadline := time.Now().Add(timeout)
	for {
		b, err := st.Backlog(t.Context())
		require.NoError(t, err)
		problems := pipelinetest.Check(r.dest.Applied(), r.newest)
		if len(problems) == 0 && b.Unpublished == 0 && b.Unsettled == 0 {
			break
		}
		if time.Now().After(deadline) {
			group := r.group()
			// A hub that is stuck says where: SIGQUIT makes the Go runtime write every
			// goroutine's stack to its log before it exits.
			for _, cmd := range r.running {
				if cmd.ProcessState == nil && cmd.Process.Signal(syscall.SIGQUIT) == nil {
					_ = cmd.Wait()
				}
			}
			var logs []byte
			for i := 1; i <= r.started; i++ {
				l, _ := os.ReadFile(filepath.Join(r.logDir, fmt.Sprintf("hub-%02d.log", i)))
				log, dump := splitDump(l)
				var others, events []byte // the consumer group's own events apart
				for line := range bytes.Lines(log) {
					if bytes.Contains(line, []byte(`"kafka-consumer"`)) {
						if !bytes.Contains(line, []byte("no messages received")) && !bytes.Contains(line, []byte("committed offsets")) {
							events = append(events, line...) // joins, assignments, errors
						}
					} else if !bytes.Contains(line, []byte(`"level":"debug"`)) {
						others = append(others, line...)
					}
				}
				logs = append(append(logs, fmt.Sprintf("--- hub %d\n", i)...), tail(others, 1500)...)
				logs = append(append(logs, "consumer group events:\n"...), tail(events, 4000)...)
				logs = append(logs, dump...)
			}
			var outbox, audit, checkpoints string
			_ = st.Pool().QueryRow(t.Context(), `SELECT count(*)::text FROM outbox`).Scan(&outbox)
			_ = st.Pool().QueryRow(t.Context(), `SELECT coalesce(string_agg(action||'/'||outcome||'='||n, ', '), '') FROM (SELECT action, outcome, count(*) n FROM audit GROUP BY 1, 2) a`).Scan(&audit)
			_ = st.Pool().QueryRow(t.Context(), `SELECT coalesce(string_agg(source||'@'||position, ', '), '') FROM checkpoints`).Scan(&checkpoints)
			var activity string
			_ = st.Pool().QueryRow(t.Context(), `SELECT coalesce(string_agg(state||' '||coalesce(wait_event_type,'')||'/'||coalesce(wait_event,'')||': '||left(query, 80), E'\n'), '')
				FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&activity)
			t.Fatalf("not settled after %s: backlog %+v; outbox %s rows; audit %s; checkpoints %s; first problems: %v\nsessions:\n%s\n%s\n%s",
				timeout, b, outbox, audit, checkpoints, head(problems, 5), activity, group, logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// 0 missing, 0 duplicate effects, no older version after a newer one.
	assert.Empty(t, pipelinetest.Check(r.dest.Applied(), r.newest))
	keys := map[string]bool{}
	for _, e := range r.dest.Applied() {
		assert.False(t, keys[e.Key], "key %s took effect twice", e.Key)
		keys[e.Key] = true
	}
	var pending, quarantined int
	require.NoError(t, st.Pool().QueryRow(t.Context(), `SELECT count(*) FILTER (WHERE status = 'pending'),
		count(*) FILTER (WHERE status = 'quarantined') FROM deliveries`).Scan(&pending, &quarantined))
	assert.Zero(t, pending)
	assert.Zero(t, quarantined, "nothing in this test deserves quarantine")
	var orphans int
	require.NoError(t, st.Pool().QueryRow(t.Context(), `SELECT count(*) FROM deliveries d
		WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.id = d.message_id)`).Scan(&orphans))
	assert.Zero(t, orphans, "every delivery has its message")
	v, err := st.VerifyAudit(t.Context())
	require.NoError(t, err)
	assert.Nil(t, v.Problem)
	req, replays, faulted := r.dest.Stats()
	t.Logf("%d hub processes; destination: %d requests, %d replays, %d faults, %d effects for %d facts",
		r.started, req, replays, faulted, len(r.dest.Applied()), len(r.newest))
}

// splitDump separates a hub's log from the goroutine dump SIGQUIT appended to it, and
// keeps from the dump only the goroutines that run the hub's own code or kafka-go's.
func splitDump(l []byte) (log, dump []byte) {
	i := bytes.Index(l, []byte("\nSIGQUIT: quit"))
	if i < 0 {
		return l, nil
	}
	log, dump = l[:i+1], []byte("goroutines in passerelle and kafka-go code:\n")
	for g := range bytes.SplitSeq(l[i:], []byte("\n\n")) {
		if bytes.HasPrefix(g, []byte("goroutine ")) &&
			(bytes.Contains(g, []byte("passerelle/")) || bytes.Contains(g, []byte("segmentio/kafka-go"))) {
			dump = append(append(dump, g...), "\n\n"...)
		}
	}
	return log, dump
}

func head(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func TestCrashTheHubRepeatedly(t *testing.T) {
	const facts, kills = 20000, 10
	r := newCrashRig(t, facts, pipelinetest.Faults{Fail5xx: 0.1, DropAfterApply: 0.02})
	rng := rand.New(rand.NewPCG(3, 4))
	chunk := facts / kills
	for i := range kills {
		r.appendFacts(i*chunk, (i+1)*chunk)
		hub := r.start()
		time.Sleep(time.Duration(700+rng.IntN(2300)) * time.Millisecond)
		r.kill(hub)
	}
	r.start()
	r.settle(3 * time.Minute)
}

func TestTwoHubsOneKilled(t *testing.T) {
	const facts = 6000
	r := newCrashRig(t, facts, pipelinetest.Faults{Fail5xx: 0.05})
	r.appendFacts(0, facts/2)
	a := r.start()
	b := r.start()
	time.Sleep(3 * time.Second)
	r.kill(a)
	r.appendFacts(facts/2, facts)
	r.settle(2 * time.Minute)
	require.NoError(t, b.Process.Signal(syscall.Signal(0)), "the surviving hub is still running")
}
