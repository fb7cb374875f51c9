package pipeline

import (
	"math/rand/v2"
	"time"
)

// backoff is exponential with jitter: the n-th wait is base/2 plus a random duration
// in [0, min(max, base·2^n)), so that many retrying lanes do not hammer a recovering
// destination in step.
type backoff struct {
	base, max time.Duration
	n         int
}

func newBackoff(base, maxWait time.Duration) *backoff { return &backoff{base: base, max: maxWait} }

// next returns the next wait; a positive retryAfter (the destination's own
// Retry-After) wins over the computed one.
func (b *backoff) next(retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		b.n++
		return retryAfter
	}
	ceiling := b.base << min(b.n, 20)
	if ceiling <= 0 || ceiling > b.max {
		ceiling = b.max
	}
	b.n++
	return b.base/2 + rand.N(ceiling) //nolint:gosec // jitter, not a secret.
}

func (b *backoff) reset() { b.n = 0 }
