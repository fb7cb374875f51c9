package cassiopee

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"
)

// DefaultRefusalAuditInterval is how often the intake writes the refusals it counted
// without auditing them one by one (IntakeOptions.RefusalAuditInterval).
const DefaultRefusalAuditInterval = time.Minute

// maxRefusalKeys bounds the distinct refusals tracked between two flushes; beyond it, a
// refusal is only counted under its kind (and court, when verified). The fingerprint of
// a refused certificate is the sender's choice (anyone can make certificates of another
// authority, or expired ones, by the thousand), so without this bound a flood of them
// would still be one audit row each.
const maxRefusalKeys = 64

// A refusal is one refused handshake or request, as the audit records it.
type refusal struct {
	// kind is what was refused and why: tls:no-certificate, tls:expired, ... for a
	// handshake; no-court-code, court-mismatch, rules for a request.
	kind string
	// court is the caller's verified court, "" when the caller is not verified.
	court string
	// reference is the audit row's reference: the kind with the caller (court code or
	// certificate fingerprint) and the detail (rules, the payload's court), never a
	// value of the body nor a certificate's subject.
	reference string
}

// refusalAudit writes the intake's refusals to the audit chain without letting a flood
// of them flood it. The first refusal of a reference since the last flush is audited at
// once, as it is; the next ones with that reference are counted, and flush writes them
// as one row, "<reference> count:N since:<first>", so that a reference gets at most one
// row per interval however often it is refused. Beyond maxRefusalKeys references
// between two flushes, refusals are counted under their kind alone (and verified
// court), "<kind>:various count:N since:<first>". Every refusal is thus in exactly one
// row's count (a row without count: stands for one), and a burst of refusals costs a
// few rows, not a transaction under the audit lock each. Safe for concurrent use.
type refusalAudit struct {
	// write audits one row; a failure is its own to report (the refusal stands).
	write func(ctx context.Context, reference string)
	now   func() time.Time

	mu     sync.Mutex
	counts map[string]*refusalCount // by reference, or overflowKey(kind, court)
	keys   int                      // entries of counts that are not overflows
}

// refusalCount is what one reference was refused since it was last written.
type refusalCount struct {
	reference string    // the row's reference, without count and since
	overflow  bool      // counted under its kind: never written at once
	n         int       // refusals not yet in a row
	since     time.Time // the first of them
}

func newRefusalAudit(write func(context.Context, string), now func() time.Time) *refusalAudit {
	return &refusalAudit{write: write, now: now, counts: map[string]*refusalCount{}}
}

// overflowKey is the counts key of the refusals of kind beyond maxRefusalKeys; the
// leading NUL keeps it apart from every reference.
func overflowKey(kind, court string) string { return "\x00" + kind + "\x00" + court }

// note records a refusal: it writes its row at once when its reference was not refused
// since the last flush, and counts it otherwise.
func (a *refusalAudit) note(ctx context.Context, r refusal) {
	now := a.now()
	a.mu.Lock()
	if c, ok := a.counts[r.reference]; ok {
		c.add(now)
		a.mu.Unlock()
		return
	}
	if a.keys >= maxRefusalKeys {
		k := overflowKey(r.kind, r.court)
		c, ok := a.counts[k]
		if !ok {
			ref := r.kind + ":various"
			if r.court != "" {
				ref = "court:" + r.court + " " + ref
			}
			c = &refusalCount{reference: ref, overflow: true}
			a.counts[k] = c
		}
		c.add(now)
		a.mu.Unlock()
		return
	}
	a.counts[r.reference] = &refusalCount{reference: r.reference}
	a.keys++
	a.mu.Unlock()
	a.write(ctx, r.reference)
}

func (c *refusalCount) add(now time.Time) {
	if c.n == 0 {
		c.since = now
	}
	c.n++
}

// flush writes one row for each reference counted since the last flush, and forgets
// the references that were not refused since then (their next refusal is written at
// once again).
func (a *refusalAudit) flush(ctx context.Context) {
	var rows []string
	a.mu.Lock()
	for k, c := range a.counts {
		if c.n == 0 {
			delete(a.counts, k)
			if !c.overflow {
				a.keys--
			}
			continue
		}
		rows = append(rows, c.reference+" count:"+strconv.Itoa(c.n)+" since:"+c.since.UTC().Format(time.RFC3339))
		c.n = 0
		if c.overflow {
			delete(a.counts, k) // an overflow entry is only ever written by flush
		}
	}
	a.mu.Unlock()
	slices.Sort(rows)
	for _, ref := range rows {
		a.write(ctx, ref)
	}
}

// run flushes every interval until ctx ends, then once more.
func (a *refusalAudit) run(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			a.flush(ctx)
		case <-ctx.Done():
			a.flush(context.WithoutCancel(ctx))
			return
		}
	}
}
