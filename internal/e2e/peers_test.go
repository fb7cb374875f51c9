package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	prismesim "passerelle/connectors/prisme/sim"
	"passerelle/pipeline/bus"
)

// peersEnv makes this test binary, run again by startPeers, the peers' process.
const peersEnv = "PASSERELLE_E2E_PEERS"

// peers are the hub's neighbours in a process of their own: a Kafka broker (the
// embedded one, which keeps every record in memory) and a PRISME simulator (which keeps
// every item stored), so that a benchmark's figures of memory are the hub's alone.
type peers struct {
	brokers   []string
	prismeURL string
	secret    string // of the client passerelle-demo at the simulator
	pid       int
}

// startPeers runs this test binary again as TestPeersProcess and waits for its
// addresses; the process ends when the benchmark does.
func startPeers(tb testing.TB) *peers {
	tb.Helper()
	p := &peers{secret: fmt.Sprint("peers-", time.Now().UnixNano())}
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.timeout=0")
	cmd.Env = append(os.Environ(), peersEnv+"=1", "PASSERELLE_E2E_PEERS_SECRET="+p.secret)
	if os.Getenv("GOGC") == "" {
		// The peers keep everything (2,000,000 records and items hold gigabytes): a
		// heap that grows by half, not by all of itself, before each collection.
		cmd.Env = append(cmd.Env, "GOGC=50")
	}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(tb, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(tb, err)
	require.NoError(tb, cmd.Start())
	p.pid = cmd.Process.Pid
	exited := make(chan struct{})
	tb.Cleanup(func() {
		_ = stdin.Close() // the peers' process ends when its stdin does
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	lines := bufio.NewScanner(stdout)
	for p.prismeURL == "" && lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "PEERS "); ok {
			f := strings.Fields(rest)
			require.Len(tb, f, 2, "the peers' addresses")
			p.brokers, p.prismeURL = []string{f[0]}, f[1]
		}
	}
	go func() {
		_, _ = io.Copy(io.Discard, stdout)
		_ = cmd.Wait()
		close(exited)
	}()
	require.NotEmpty(tb, p.prismeURL, "the peers' process started")
	return p
}

// resetPeakRSS resets the peers' process's VmHWM (see resetPeakRSS).
func (p *peers) resetPeakRSS() {
	_ = os.WriteFile("/proc/"+strconv.Itoa(p.pid)+"/clear_refs", []byte("5"), 0)
}

// peakRSS is the peers' process's VmHWM, in bytes.
func (p *peers) peakRSS(tb testing.TB) int64 {
	tb.Helper()
	return vmHWMOf(tb, p.pid)
}

// cpu is the CPU time the peers' process used so far (user and system).
func (p *peers) cpu(tb testing.TB) time.Duration {
	tb.Helper()
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/stat")
	require.NoError(tb, err)
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // after the command's name
	require.Greater(tb, len(f), 12, "/proc/%d/stat", p.pid)
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	require.NoError(tb, errors.Join(err1, err2))
	return time.Duration(utime+stime) * time.Second / clockTicks
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/<pid>/stat's times: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// TestMain makes this test binary, run again by startPeers with peersEnv set, the
// peers' process instead of the tests.
func TestMain(m *testing.M) {
	if os.Getenv(peersEnv) != "" {
		if err := servePeers(); err != nil {
			fmt.Fprintln(os.Stderr, "peers:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// servePeers serves the broker and the simulator, prints their addresses and runs
// until its stdin ends.
func servePeers() error {
	emb, err := bus.StartEmbedded(context.Background(), bus.EmbeddedOptions{Addr: "127.0.0.1:0",
		GroupMinSessionTimeout: time.Second})
	if err != nil {
		return err
	}
	defer emb.Close()
	srv := prismesim.New(prismesim.Options{Seed: 11, MaxRequests: 10_000, Clients: []prismesim.Client{{ID: "passerelle-demo",
		Secret: os.Getenv("PASSERELLE_E2E_PEERS_SECRET"), Scopes: []string{prismesim.ScopeEcriture, prismesim.ScopeLecture}}}})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	if path := os.Getenv("PASSERELLE_BENCH_PEERS_CPUPROFILE"); path != "" {
		// What the broker and the simulator cost, apart from the hub's own profile.
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer func() { _ = f.Close() }()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("PEERS %s %s\n", emb.Addrs()[0], ts.URL)
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}

// withBrokers makes the configuration yml use the Kafka brokers given rather than an
// embedded one.
func withBrokers(tb testing.TB, yml string, brokers []string) string {
	tb.Helper()
	var doc map[string]any
	require.NoError(tb, yaml.Unmarshal([]byte(yml), &doc))
	k, _ := doc["kafka"].(map[string]any)
	if k == nil {
		k = map[string]any{}
	}
	k["brokers"], k["replicationFactor"] = brokers, 1
	doc["kafka"] = k
	out, err := yaml.Marshal(doc)
	require.NoError(tb, err)
	return string(out)
}
