// Package pipelinetest holds the real parts the spine's tests and benchmarks run
// against: a destination that speaks HTTP with the faults of a real one (5xx, hangs,
// answers lost after the effect) and records every effect by idempotency key, and a
// generator of canonical facts with the repeats and disorder real sources produce.
package pipelinetest

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"passerelle/canonical"
)

// Effect is one record a destination created: the first request with a new key.
type Effect struct {
	Key     string
	FactRef string
	Version int64
	Subject string // the canonical person id the message went under
	At      time.Time
	Data    json.RawMessage // the data as received
}

// Faults are the destination's misbehaviours, as shares of requests (0..1).
type Faults struct {
	Fail5xx        float64       // answer 503 without any effect
	Hang           float64       // hold the request HangFor without any effect
	HangFor        time.Duration // default 15s
	DropAfterApply float64       // create the effect, then close the connection without answering
	Refuse422      float64       // refuse the data permanently (no effect)
}

// Destination is an HTTP endpoint recording effects by Idempotency-Key: a key seen
// again is a replay (200, same receipt, no new effect), as PRISME does.
type Destination struct {
	Server *httptest.Server

	mu       sync.Mutex
	faults   Faults
	rng      *rand.Rand
	effects  map[string]string // key → receipt id
	applied  []Effect
	requests int
	replays  int
	faulted  int
}

// NewDestination starts a destination on loopback.
func NewDestination(seed uint64) *Destination {
	d := &Destination{effects: map[string]string{}, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))} //nolint:gosec // test faults, not secrets.
	d.Server = httptest.NewServer(http.HandlerFunc(d.serve))
	return d
}

// URL is where to POST.
func (d *Destination) URL() string { return d.Server.URL + "/in" }

// Close stops the server.
func (d *Destination) Close() { d.Server.CloseClientConnections(); d.Server.Close() }

// SetFaults changes the faults from now on.
func (d *Destination) SetFaults(f Faults) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if f.HangFor == 0 {
		f.HangFor = 15 * time.Second
	}
	d.faults = f
}

func (d *Destination) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	var m canonical.Message
	if key == "" || json.Unmarshal(body, &m) != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	d.mu.Lock()
	d.requests++
	f := d.faults
	roll := d.rng.Float64()
	receipt, seen := d.effects[key]
	d.mu.Unlock()

	switch {
	case roll < f.Fail5xx:
		d.count(func() { d.faulted++ })
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	case roll < f.Fail5xx+f.Hang:
		d.count(func() { d.faulted++ })
		select {
		case <-time.After(f.HangFor):
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	case roll < f.Fail5xx+f.Hang+f.Refuse422:
		d.count(func() { d.faulted++ })
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		_, _ = w.Write([]byte(`{"title":"refused by the test destination"}`))
		return
	}
	if seen {
		d.count(func() { d.replays++ })
		w.WriteHeader(http.StatusOK)
		_, _ = fmt.Fprintf(w, `{"id":%q}`, receipt)
		return
	}
	d.mu.Lock()
	receipt, seen = d.effects[key]
	if !seen {
		receipt = fmt.Sprintf("R-%d", len(d.effects)+1)
		d.effects[key] = receipt
		d.applied = append(d.applied, Effect{Key: key, FactRef: m.FactRef, Version: m.FactVersion, Subject: m.Subject, At: time.Now(), Data: m.Data})
	}
	d.mu.Unlock()
	if roll < f.Fail5xx+f.Hang+f.Refuse422+f.DropAfterApply {
		d.count(func() { d.faulted++ })
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
	}
	w.WriteHeader(http.StatusCreated)
	_, _ = fmt.Fprintf(w, `{"id":%q}`, receipt)
}

func (d *Destination) count(f func()) {
	d.mu.Lock()
	f()
	d.mu.Unlock()
}

// AppliedCount returns how many effects happened, without copying them (a wait loop's
// poll).
func (d *Destination) AppliedCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.applied)
}

// Applied returns the effects in the order they happened.
func (d *Destination) Applied() []Effect {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Effect(nil), d.applied...)
}

// Forget removes every effect of the fact ref, as a destination restored from an older
// backup would: a request with one of its keys takes effect anew. It returns how many
// effects were removed.
func (d *Destination) Forget(ref string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	kept := d.applied[:0]
	for _, e := range d.applied {
		if e.FactRef == ref {
			delete(d.effects, e.Key)
			n++
			continue
		}
		kept = append(kept, e)
	}
	d.applied = kept
	return n
}

// Keys returns the idempotency keys of the effects the destination holds.
func (d *Destination) Keys() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	keys := make([]string, 0, len(d.effects))
	for k := range d.effects {
		keys = append(keys, k)
	}
	return keys
}

// Stats returns request, replay and fault counts.
func (d *Destination) Stats() (requests, replays, faulted int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.requests, d.replays, d.faulted
}

// Check verifies the destination's effects against what the source sent: every fact's
// newest version is there, no key took effect twice (by construction) and no fact
// went back to an older version. It returns the problems found.
func Check(applied []Effect, newest map[string]int64) []string {
	var problems []string
	last := map[string]int64{}
	for _, e := range applied {
		if v, ok := last[e.FactRef]; ok && e.Version <= v {
			problems = append(problems, fmt.Sprintf("%s: version %d applied after version %d", e.FactRef, e.Version, v))
		}
		last[e.FactRef] = e.Version
	}
	var missing []string
	for ref, v := range newest {
		if last[ref] != v {
			missing = append(missing, fmt.Sprintf("%s: newest version %d, destination holds %d", ref, v, last[ref]))
		}
	}
	sort.Strings(missing)
	if len(missing) > 10 {
		missing = append(missing[:10], fmt.Sprintf("… and %d more", len(missing)-10))
	}
	for ref := range last {
		if _, ok := newest[ref]; !ok {
			problems = append(problems, ref+": not sent by the source")
		}
	}
	return append(problems, missing...)
}

// Facts generates n canonical measure messages (JSON lines) about persons facts
// apart, with repeats of the same version (new message id, same content) and older
// versions arriving after newer ones. It returns the lines and, per fact, the newest
// version a correct hub must deliver.
func Facts(n, persons int, seed uint64) (lines [][]byte, newest map[string]int64) {
	rng := rand.New(rand.NewPCG(seed, seed+1)) //nolint:gosec // test data.
	newest = map[string]int64{}
	version := map[string]int64{}
	var sent []*canonical.Message
	for len(lines) < n {
		p := rng.IntN(persons)
		ref := fmt.Sprintf("T-%06d", p)
		var m *canonical.Message
		switch roll := rng.Float64(); {
		case roll < 0.1 && len(sent) > 0: // a repeat of something already sent
			prev := sent[rng.IntN(len(sent))]
			cp := *prev
			cp.ID = newID(rng)
			m = &cp
		case roll < 0.15 && version[ref] > 1: // an older version, late
			m = measure(rng, p, ref, rng.Int64N(version[ref]-1)+1)
		default:
			version[ref] += int64(1 + rng.IntN(3))
			m = measure(rng, p, ref, version[ref])
		}
		if m.FactVersion > newest[m.FactRef] {
			newest[m.FactRef] = m.FactVersion
		}
		sent = append(sent, m)
		b, err := json.Marshal(m)
		if err != nil {
			panic(err) // a generator bug; the types are fixed
		}
		lines = append(lines, b)
	}
	return lines, newest
}

// JoinLines makes a JSON-lines file body.
func JoinLines(lines [][]byte) []byte {
	n := len(lines)
	for _, l := range lines {
		n += len(l)
	}
	buf := make([]byte, 0, n)
	for _, l := range lines {
		buf = append(buf, l...)
		buf = append(buf, '\n')
	}
	return buf
}

func newID(rng *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

var statuses = []canonical.MeasureStatus{"A_PRENDRE_EN_CHARGE", "EN_COURS", "SUSPENDUE", "TERMINEE"}

// measure builds the version v of person p's measure. The content depends only on
// (p, v), so a repeat of a version is identical.
func measure(rng *rand.Rand, p int, ref string, v int64) *canonical.Message {
	data := canonical.Measure{
		Version:       v,
		MeasureNumber: ref,
		Kind:          "SP",
		Court:         "TJ LYON",
		SPIPOffice:    "SPIP 69 - antenne Lyon Sud",
		DecisionDate:  "2024-03-14",
		StartDate:     "2024-04-01",
		Obligations:   []canonical.Obligation{"SOINS"},
		Status:        statuses[int(v)%len(statuses)],
		Person: canonical.Person{
			LastName: fmt.Sprintf("PERSONNE%06d", p), FirstNames: []string{"Test"}, BirthDate: "1990-01-01",
			Identifiers: canonical.Identifiers{AppiFileNumber: fmt.Sprintf("2020%08d", p)},
		},
	}
	fact := canonical.FactID{System: canonical.SystemAPPI, Ref: canonical.APPIMeasureRef(ref), Version: v}
	m, err := canonical.NewMessage(canonical.TypeMeasure, "/connectors/appi", "", fact, time.Date(2024, 4, 1, 9, 0, 0, 0, time.UTC), data)
	if err != nil {
		panic(err) // a generator bug; the types are fixed
	}
	m.ID = newID(rng)
	return m
}

// FreeAddr returns a loopback address nothing listens on now, for a server a test
// configures before it starts (another process may take it in between: a test that
// gets "address in use" says so).
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := (&net.ListenConfig{}).Listen(tb.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("free address: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		tb.Fatalf("free address: %v", err)
	}
	return addr
}
