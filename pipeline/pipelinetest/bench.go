package pipelinetest

import (
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"
)

// MachineCPU is a reading of /proc/stat and /proc/loadavg: how busy the whole machine
// is, whatever runs on it (the benchmark, PostgreSQL, the peers, anything else).
type MachineCPU struct {
	at         time.Time
	busy, idle int64 // clock ticks
	load1      float64
}

// ReadMachineCPU reads the machine's CPU counters now.
func ReadMachineCPU(tb testing.TB) MachineCPU {
	tb.Helper()
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		tb.Fatalf("machine CPU: %v", err)
	}
	line, _, _ := strings.Cut(string(stat), "\n")
	fields := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(fields) < 9 {
		tb.Fatalf("machine CPU: /proc/stat begins %q", line)
	}
	var c MachineCPU
	for i, f := range fields[1:9] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			tb.Fatalf("machine CPU: %v", err)
		}
		if i == 3 || i == 4 { // idle, iowait
			c.idle += n
		} else {
			c.busy += n
		}
	}
	load, err := os.ReadFile("/proc/loadavg")
	if err == nil {
		c.load1, err = strconv.ParseFloat(strings.Fields(string(load))[0], 64)
	}
	if err != nil {
		tb.Fatalf("machine CPU: load average: %v", err)
	}
	c.at = time.Now()
	return c
}

// ReportMachine reports the load average when the timed part started and how many
// cores the whole machine kept busy during it: near GOMAXPROCS, the run was bound by
// CPU (its own, PostgreSQL's, or another program's: compare with the load).
func ReportMachine(b *testing.B, from, to MachineCPU) {
	b.Helper()
	const ticks = 100 // USER_HZ
	b.ReportMetric(float64(to.busy-from.busy)/ticks/to.at.Sub(from.at).Seconds(), "busy-cores")
	b.ReportMetric(from.load1, "load-1m")
}

// StartBenchProfile starts a CPU profile of this process into the file that
// PASSERELLE_BENCH_CPUPROFILE names, when it names one, and returns what stops it: the
// benchmarks run the hub in their own process, and -test.cpuprofile would also profile
// the preparation of their data, which takes longer than the timed window.
func StartBenchProfile(b *testing.B) (stop func()) {
	b.Helper()
	path := os.Getenv("PASSERELLE_BENCH_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path) //nolint:gosec // the file the person running the benchmark named.
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		b.Fatalf("CPU profile: %v", err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			b.Errorf("CPU profile: %v", err)
		}
	}
}
