package sim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Feed is a JSON endpoint of records polled with a cursor, as a partner's simple API
// is: GET /records?cursor=N answers {"items": [...], "next": "M"}, at most PageSize
// items after the N-th. The cursor is the endpoint's own: a new reader resumes from it.
type Feed struct {
	// PageSize bounds a page. Default 10.
	PageSize int

	mu      sync.Mutex
	items   []map[string]any
	latency time.Duration
	fail    int // HTTP status to answer every request with; 0: answer normally
	calls   atomic.Int64
}

// NewFeed returns a feed serving items.
func NewFeed(items []map[string]any) *Feed { return &Feed{items: items} }

// Calls counts the requests received.
func (f *Feed) Calls() int64 { return f.calls.Load() }

// SetLatency makes every answer wait d (or until the caller gives up).
func (f *Feed) SetLatency(d time.Duration) { f.mu.Lock(); f.latency = d; f.mu.Unlock() }

// Fail makes every answer the status code (503 for an outage); 0 answers normally.
func (f *Feed) Fail(status int) { f.mu.Lock(); f.fail = status; f.mu.Unlock() }

// ServeHTTP serves the pages.
func (f *Feed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	f.mu.Lock()
	latency, fail, items, size := f.latency, f.fail, f.items, f.PageSize
	f.mu.Unlock()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	if fail != 0 {
		w.Header().Set("Retry-After", "0")
		http.Error(w, http.StatusText(fail), fail)
		return
	}
	if size <= 0 {
		size = 10
	}
	from := 0
	if c := r.URL.Query().Get("cursor"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 0 || n > len(items) {
			http.Error(w, "bad cursor", http.StatusBadRequest)
			return
		}
		from = n
	}
	to := min(len(items), from+size)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"items": items[from:to], "next": strconv.Itoa(to)})
}
