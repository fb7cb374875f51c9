package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Fault is what goes wrong on one endpoint. The zero value is a healthy endpoint.
// Counters (the ...Next fields) count down as calls consume them; fractions apply to
// every call once the counters are spent.
type Fault struct {
	// FailNext answers the next FailNext calls with Status.
	FailNext int `json:"failNext,omitempty"`
	// FailFraction answers this fraction of calls (0 to 1) with Status.
	FailFraction float64 `json:"failFraction,omitempty"`
	// Status is the status of a failed call: 503 or 429 (0 means 503).
	Status int `json:"status,omitempty"`
	// RetryAfter is sent as `Retry-After` (whole seconds, rounded up; 0 sends "0").
	RetryAfter time.Duration `json:"retryAfter,omitempty"`
	// Latency delays every call before it is processed. A client that gives up
	// meanwhile does not stop the processing: the item may be stored all the same.
	Latency time.Duration `json:"latency,omitempty"`
	// DropReplyNext stores the item of the next DropReplyNext successful writes (201),
	// then closes the connection without answering. Write endpoints only.
	DropReplyNext int `json:"dropReplyNext,omitempty"`
	// DropReplyFraction does the same for this fraction of successful writes.
	DropReplyFraction float64 `json:"dropReplyFraction,omitempty"`
	// RepeatPageNext answers the next RepeatPageNext events-feed calls with the page the
	// same client was served last, whatever cursor it sends. Events feed only.
	RepeatPageNext int `json:"repeatPageNext,omitempty"`
	// RepeatPageFraction does the same for this fraction of events-feed calls.
	RepeatPageFraction float64 `json:"repeatPageFraction,omitempty"`
}

// validate checks that f makes sense on ep.
func (f Fault) validate(ep Endpoint) error {
	if !ep.Valid() {
		return fmt.Errorf("%w: unknown endpoint %q", ErrInvalidFault, ep)
	}
	if f.FailNext < 0 || f.DropReplyNext < 0 || f.RepeatPageNext < 0 {
		return fmt.Errorf("%w: negative count", ErrInvalidFault)
	}
	for _, x := range []float64{f.FailFraction, f.DropReplyFraction, f.RepeatPageFraction} {
		if math.IsNaN(x) || x < 0 || x > 1 {
			return fmt.Errorf("%w: fraction outside [0, 1]", ErrInvalidFault)
		}
	}
	if f.Status != 0 && f.Status != http.StatusServiceUnavailable && f.Status != http.StatusTooManyRequests {
		return fmt.Errorf("%w: status %d (the contract names 429 and 503)", ErrInvalidFault, f.Status)
	}
	if f.RetryAfter < 0 || f.Latency < 0 {
		return fmt.Errorf("%w: negative duration", ErrInvalidFault)
	}
	if !ep.isWrite() && (f.DropReplyNext > 0 || f.DropReplyFraction > 0) {
		return fmt.Errorf("%w: dropping the reply applies to the write endpoints only", ErrInvalidFault)
	}
	if ep != EndpointEvenements && (f.RepeatPageNext > 0 || f.RepeatPageFraction > 0) {
		return fmt.Errorf("%w: repeating a page applies to the events feed only", ErrInvalidFault)
	}
	return nil
}

// FaultPlan holds the faults of every endpoint. Its methods are safe for concurrent
// use and take effect on the next call.
type FaultPlan struct {
	mu    sync.Mutex
	rng   *rand.Rand
	plans map[Endpoint]Fault
}

// newFaultPlan returns a healthy plan whose fractions draw from a seeded source.
func newFaultPlan(seed uint64) *FaultPlan {
	return &FaultPlan{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), plans: map[Endpoint]Fault{}}
}

// Set replaces the fault of ep.
func (p *FaultPlan) Set(ep Endpoint, f Fault) error {
	if err := f.validate(ep); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.plans[ep] = f
	return nil
}

// Get returns the fault of ep as it stands (counters already consumed are gone).
func (p *FaultPlan) Get(ep Endpoint) Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.plans[ep]
}

// Clear makes every endpoint healthy again.
func (p *FaultPlan) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.plans = map[Endpoint]Fault{}
}

// update applies change to a copy of ep's fault and keeps it if it validates.
func (p *FaultPlan) update(ep Endpoint, change func(*Fault)) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.plans[ep]
	change(&f)
	if err := f.validate(ep); err != nil {
		return err
	}
	p.plans[ep] = f
	return nil
}

// FailNext answers the next n calls of ep with status (429 or 503) and Retry-After.
func (p *FaultPlan) FailNext(ep Endpoint, n, status int, retryAfter time.Duration) error {
	return p.update(ep, func(f *Fault) { f.FailNext, f.Status, f.RetryAfter = n, status, retryAfter })
}

// FailFraction answers a fraction (0 to 1) of the calls of ep with status (429 or 503)
// and Retry-After.
func (p *FaultPlan) FailFraction(ep Endpoint, fraction float64, status int, retryAfter time.Duration) error {
	return p.update(ep, func(f *Fault) { f.FailFraction, f.Status, f.RetryAfter = fraction, status, retryAfter })
}

// SetLatency delays every call of ep by d (0 removes the delay).
func (p *FaultPlan) SetLatency(ep Endpoint, d time.Duration) error {
	return p.update(ep, func(f *Fault) { f.Latency = d })
}

// DropReplyNext stores the item of the next n successful writes on ep, then closes the
// connection without answering.
func (p *FaultPlan) DropReplyNext(ep Endpoint, n int) error {
	return p.update(ep, func(f *Fault) { f.DropReplyNext = n })
}

// DropReplyFraction stores the item of a fraction (0 to 1) of the successful writes on
// ep, then closes the connection without answering.
func (p *FaultPlan) DropReplyFraction(ep Endpoint, fraction float64) error {
	return p.update(ep, func(f *Fault) { f.DropReplyFraction = fraction })
}

// RepeatPageNext answers the next n events-feed calls with the page their client was
// served last.
func (p *FaultPlan) RepeatPageNext(n int) error {
	return p.update(EndpointEvenements, func(f *Fault) { f.RepeatPageNext = n })
}

// RepeatPageFraction answers a fraction (0 to 1) of the events-feed calls with the page
// their client was served last.
func (p *FaultPlan) RepeatPageFraction(fraction float64) error {
	return p.update(EndpointEvenements, func(f *Fault) { f.RepeatPageFraction = fraction })
}

// latency is the delay to apply to a call of ep.
func (p *FaultPlan) latency(ep Endpoint) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.plans[ep].Latency
}

// takeFailure decides whether this call of ep fails, consuming a counter if so.
func (p *FaultPlan) takeFailure(ep Endpoint) (status int, retryAfter time.Duration, fail bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, ok := p.plans[ep]
	if !ok {
		return 0, 0, false
	}
	switch {
	case f.FailNext > 0:
		f.FailNext--
		p.plans[ep] = f
	case f.FailFraction > 0 && p.rng.Float64() < f.FailFraction:
	default:
		return 0, 0, false
	}
	status = f.Status
	if status == 0 {
		status = http.StatusServiceUnavailable
	}
	return status, f.RetryAfter, true
}

// takeDrop decides whether the reply to this successful write on ep is dropped.
func (p *FaultPlan) takeDrop(ep Endpoint) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, ok := p.plans[ep]
	if !ok {
		return false
	}
	switch {
	case f.DropReplyNext > 0:
		f.DropReplyNext--
		p.plans[ep] = f
		return true
	case f.DropReplyFraction > 0:
		return p.rng.Float64() < f.DropReplyFraction
	}
	return false
}

// takeRepeat decides whether this events-feed call gets the previous page again.
func (p *FaultPlan) takeRepeat() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, ok := p.plans[EndpointEvenements]
	if !ok {
		return false
	}
	switch {
	case f.RepeatPageNext > 0:
		f.RepeatPageNext--
		p.plans[EndpointEvenements] = f
		return true
	case f.RepeatPageFraction > 0:
		return p.rng.Float64() < f.RepeatPageFraction
	}
	return false
}

// retryAfterSeconds renders d as a Retry-After value: whole seconds, rounded up.
func retryAfterSeconds(d time.Duration) string {
	return strconv.FormatInt(int64(math.Ceil(d.Seconds())), 10)
}
