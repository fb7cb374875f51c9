package appi

import (
	"fmt"
	"strconv"
	"strings"
)

// A position says which seqs of appi.mesures_export the source has dealt with, in a
// form that survives restarts and needs no state besides itself:
//
//   - high, the highest seq the source has seen (every seq above it is still to come);
//   - the open gaps below high: runs of seqs not seen yet, each with the instant (the
//     database's clock, in Unix microseconds) at which a higher seq was first seen —
//     from then on the contract gives the missing seqs up to visibilityDelay to become
//     visible.
//
// Every other seq at or below high has been emitted exactly once, or given up after
// its gap expired. Written: "" (nothing seen), "<high>" (no open gap: the common
// case, a plain seq), or "<high>;<gap>;<gap>..." where a gap is "<lo>-<hi>@<since>"
// or "<lo>@<since>" for one seq, in increasing order, e.g.
// "1042;1037@1733050000123456;1040-1041@1733050000123456". Its size grows with the
// number of gaps open at once (seqs taken by transactions still running, or lost to
// rollbacks in the last visibilityDelay), not with the table.
type position struct {
	high int64
	gaps []gap
}

// gap is the run of missing seqs lo..hi (inclusive), missing since since (µs).
type gap struct {
	lo, hi, since int64
}

// parsePosition reads a position written by String.
func parsePosition(s string) (position, error) {
	if s == "" {
		return position{}, nil
	}
	bad := func(why string) (position, error) {
		return position{}, fmt.Errorf("%w: %s", ErrInvalidPosition, why)
	}
	parts := strings.Split(s, ";")
	high, ok := parseSeq(parts[0])
	if !ok {
		return bad("the highest seq is not a number")
	}
	p := position{high: high}
	prev := int64(0)
	for _, g := range parts[1:] {
		run, since, found := strings.Cut(g, "@")
		if !found {
			return bad("a gap has no instant")
		}
		lo, hi := run, run
		if a, b, isRange := strings.Cut(run, "-"); isRange {
			lo, hi = a, b
		}
		var x gap
		var ok1, ok2, ok3 bool
		x.lo, ok1 = parseSeq(lo)
		x.hi, ok2 = parseSeq(hi)
		x.since, ok3 = parseSeq(since)
		switch {
		case !ok1 || !ok2 || !ok3:
			return bad("a gap is not numbers")
		case x.lo < 1 || x.lo > x.hi || x.hi >= high:
			return bad("a gap is not a run of seqs below the highest")
		case x.lo <= prev+1 && prev > 0:
			return bad("gaps are not in increasing order")
		}
		prev = x.hi
		p.gaps = append(p.gaps, x)
	}
	return p, nil
}

// parseSeq reads a non-negative decimal without sign or leading zeros (so that a
// position has one written form).
func parseSeq(s string) (int64, bool) {
	if s == "" || (len(s) > 1 && s[0] == '0') || s[0] == '+' || s[0] == '-' {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n >= 0
}

// String writes the position (see position).
func (p position) String() string {
	if p.high == 0 && len(p.gaps) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(strconv.FormatInt(p.high, 10))
	for _, g := range p.gaps {
		b.WriteByte(';')
		b.WriteString(strconv.FormatInt(g.lo, 10))
		if g.hi != g.lo {
			b.WriteByte('-')
			b.WriteString(strconv.FormatInt(g.hi, 10))
		}
		b.WriteByte('@')
		b.WriteString(strconv.FormatInt(g.since, 10))
	}
	return b.String()
}

// inGap reports whether seq is in an open gap.
func (p *position) inGap(seq int64) bool {
	for _, g := range p.gaps {
		if seq >= g.lo && seq <= g.hi {
			return true
		}
	}
	return false
}

// fill removes seq, now seen, from its gap (splitting it when seq is inside).
func (p *position) fill(seq int64) {
	for i, g := range p.gaps {
		if seq < g.lo || seq > g.hi {
			continue
		}
		var repl []gap
		if g.lo < seq {
			repl = append(repl, gap{g.lo, seq - 1, g.since})
		}
		if seq < g.hi {
			repl = append(repl, gap{seq + 1, g.hi, g.since})
		}
		p.gaps = append(p.gaps[:i], append(repl, p.gaps[i+1:]...)...)
		return
	}
}

// advance records seq, seen above high at instant now: the seqs between are a new
// gap, missing since now.
func (p *position) advance(seq, now int64) {
	if seq <= p.high {
		return
	}
	if seq > p.high+1 {
		p.gaps = append(p.gaps, gap{p.high + 1, seq - 1, now})
	}
	p.high = seq
}

// expire gives up the seqs of the gaps missing since before deadline, up to limit
// (the seqs above it were not looked for), and returns the runs given up.
func (p *position) expire(deadline, limit int64) []gap {
	var gone, kept []gap
	for _, g := range p.gaps {
		switch {
		case g.since > deadline || g.lo > limit:
			kept = append(kept, g)
		case g.hi <= limit:
			gone = append(gone, g)
		default:
			gone = append(gone, gap{g.lo, limit, g.since})
			kept = append(kept, gap{limit + 1, g.hi, g.since})
		}
	}
	p.gaps = kept
	return gone
}
