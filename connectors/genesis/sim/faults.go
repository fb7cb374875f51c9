package sim

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// Fault is what goes wrong, as the WSDL warns it can. The zero value is a healthy
// service. The ...Next counters count down as calls consume them; the fractions apply
// to every call (once the counter of the same fault is spent).
type Fault struct {
	// Latency delays every call by this fixed time before it is processed.
	Latency time.Duration `json:"latency,omitempty"`
	// LatencyRandom adds a uniform random delay in [0, LatencyRandom) to every call.
	LatencyRandom time.Duration `json:"latencyRandom,omitempty"`

	// UnavailableNext answers the next UnavailableNext calls with HTTP 503 and a
	// soap:Server ServiceIndisponible fault, as GENESIS's front proxy does under load.
	UnavailableNext int `json:"unavailableNext,omitempty"`
	// UnavailableFraction does the same for this fraction (0 to 1) of calls.
	UnavailableFraction float64 `json:"unavailableFraction,omitempty"`
	// RetryAfter, when positive, is sent with each 503 as `Retry-After` in whole seconds
	// (rounded up).
	RetryAfter time.Duration `json:"retryAfter,omitempty"`

	// RepeatNext makes the next RepeatNext non-empty ListerMouvements pages carry a
	// repeated movement: either one of the page's movements twice, or the movement at
	// depuisSequence served again at the head of the page (as after a replication
	// failover). The page still holds at most nombreMax movements.
	RepeatNext int `json:"repeatNext,omitempty"`
	// RepeatFraction does the same for this fraction of non-empty pages.
	RepeatFraction float64 `json:"repeatFraction,omitempty"`

	// VersionBumpNext gives the fiche of the next VersionBumpNext ConsulterFichePenale
	// calls a new version, without a movement, before it is read.
	VersionBumpNext int `json:"versionBumpNext,omitempty"`
	// VersionBumpFraction does the same for this fraction of calls.
	VersionBumpFraction float64 `json:"versionBumpFraction,omitempty"`

	// UnknownFicheFraction makes this fraction of fiches answer FicheInconnue, although
	// their movements are in the feed. Which fiches is decided by a hash of the fiche's
	// key and the seed, so a fiche is consistently unknown, call after call.
	UnknownFicheFraction float64 `json:"unknownFicheFraction,omitempty"`
}

// validate checks f's counts, durations and fractions.
func (f Fault) validate() error {
	if f.UnavailableNext < 0 || f.RepeatNext < 0 || f.VersionBumpNext < 0 {
		return fmt.Errorf("%w: negative count", ErrInvalidFault)
	}
	if f.Latency < 0 || f.LatencyRandom < 0 || f.RetryAfter < 0 {
		return fmt.Errorf("%w: negative duration", ErrInvalidFault)
	}
	for _, x := range []float64{f.UnavailableFraction, f.RepeatFraction, f.VersionBumpFraction, f.UnknownFicheFraction} {
		if math.IsNaN(x) || x < 0 || x > 1 {
			return fmt.Errorf("%w: fraction outside [0, 1]", ErrInvalidFault)
		}
	}
	return nil
}

// Faults holds the current Fault of a Server. Its methods are safe for concurrent use
// and take effect on the next call.
type Faults struct {
	mu   sync.Mutex
	seed uint64
	rng  *rand.Rand
	f    Fault
}

// newFaults returns healthy faults whose random decisions draw from seed.
func newFaults(seed uint64) *Faults {
	return &Faults{seed: seed, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Set replaces the whole fault configuration.
func (p *Faults) Set(f Fault) error {
	if err := f.validate(); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.f = f
	return nil
}

// Get returns the configuration as it stands (counters already consumed are gone).
func (p *Faults) Get() Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.f
}

// Clear makes the service healthy again.
func (p *Faults) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.f = Fault{}
}

// update applies change to a copy of the configuration and keeps it if it validates.
func (p *Faults) update(change func(*Fault)) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.f
	change(&f)
	if err := f.validate(); err != nil {
		return err
	}
	p.f = f
	return nil
}

// SetLatency delays every call by fixed plus a uniform random part below random
// (both 0: no delay).
func (p *Faults) SetLatency(fixed, random time.Duration) error {
	return p.update(func(f *Fault) { f.Latency, f.LatencyRandom = fixed, random })
}

// UnavailableNext answers the next n calls with 503 ServiceIndisponible, with
// Retry-After when retryAfter > 0.
func (p *Faults) UnavailableNext(n int, retryAfter time.Duration) error {
	return p.update(func(f *Fault) { f.UnavailableNext, f.RetryAfter = n, retryAfter })
}

// UnavailableFraction answers this fraction of calls with 503 ServiceIndisponible,
// with Retry-After when retryAfter > 0.
func (p *Faults) UnavailableFraction(fraction float64, retryAfter time.Duration) error {
	return p.update(func(f *Fault) { f.UnavailableFraction, f.RetryAfter = fraction, retryAfter })
}

// RepeatNext makes the next n non-empty pages carry a repeated movement.
func (p *Faults) RepeatNext(n int) error {
	return p.update(func(f *Fault) { f.RepeatNext = n })
}

// RepeatFraction makes this fraction of non-empty pages carry a repeated movement.
func (p *Faults) RepeatFraction(fraction float64) error {
	return p.update(func(f *Fault) { f.RepeatFraction = fraction })
}

// VersionBumpNext bumps the version of the fiche read by the next n calls.
func (p *Faults) VersionBumpNext(n int) error {
	return p.update(func(f *Fault) { f.VersionBumpNext = n })
}

// VersionBumpFraction bumps the version of the fiche read by this fraction of calls.
func (p *Faults) VersionBumpFraction(fraction float64) error {
	return p.update(func(f *Fault) { f.VersionBumpFraction = fraction })
}

// UnknownFicheFraction makes this fraction of fiches answer FicheInconnue.
func (p *Faults) UnknownFicheFraction(fraction float64) error {
	return p.update(func(f *Fault) { f.UnknownFicheFraction = fraction })
}

// latency draws the delay of one call.
func (p *Faults) latency() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.f.Latency
	if p.f.LatencyRandom > 0 {
		d += time.Duration(p.rng.Int64N(int64(p.f.LatencyRandom)))
	}
	return d
}

// draw consumes one unit of *next if any, else draws against fraction (p.mu held).
func (p *Faults) draw(next *int, fraction float64) bool {
	if *next > 0 {
		*next--
		return true
	}
	return fraction > 0 && p.rng.Float64() < fraction
}

// unavailable decides whether this call gets a 503, and its Retry-After.
func (p *Faults) unavailable() (bool, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.draw(&p.f.UnavailableNext, p.f.UnavailableFraction), p.f.RetryAfter
}

// repeat decides whether this non-empty page carries a repeat, and whether the repeat
// is the previous page's last movement (true) or one of this page's (false).
func (p *Faults) repeat() (repeat, fromEarlierPage bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.draw(&p.f.RepeatNext, p.f.RepeatFraction) {
		return false, false
	}
	return true, p.rng.IntN(2) == 0
}

// pick returns a random index below n (n > 0).
func (p *Faults) pick(n int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rng.IntN(n)
}

// versionBump decides whether this ConsulterFichePenale call first bumps the version.
func (p *Faults) versionBump() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.draw(&p.f.VersionBumpNext, p.f.VersionBumpFraction)
}

// unknownFiche reports whether the fiche k is one of the "unknown" fraction: a hash of
// the seed and the key, read as a number in [0, 1), below the fraction.
func (p *Faults) unknownFiche(k ficheKey) bool {
	p.mu.Lock()
	fraction, seed := p.f.UnknownFicheFraction, p.seed
	p.mu.Unlock()
	if fraction <= 0 {
		return false
	}
	h := fnv.New64a()
	var b [8]byte
	for i := range b {
		b[i] = byte(seed >> (8 * i))
	}
	_, _ = h.Write(b[:])
	_, _ = h.Write([]byte(k.numeroEcrou))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(k.codeEtablissement))
	return float64(h.Sum64()>>11)/float64(1<<53) < fraction
}
