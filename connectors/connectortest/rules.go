package connectortest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.uber.org/zap/zaptest/observer"

	"passerelle/canonical"
	"passerelle/connectors"
)

// Fault is what a system is told to do with every request while a check runs
// (System.Fail), to prove the connector classifies errors as the pipeline needs.
type Fault int

// The faults a system can be told to inject.
const (
	// NoFault: answer normally again.
	NoFault Fault = iota
	// TransientFault: fail as a system that is down or busy does (HTTP 503, a refused
	// connection, a lock timeout): the connector must return an error the pipeline
	// retries, never one that quarantines the data.
	TransientFault
	// PermanentFault: refuse the data as invalid (HTTP 422 or another 4xx): a sink must
	// return an error marked connectors.Permanent at once, without retrying it, so that
	// the pipeline quarantines the message with the reason.
	PermanentFault
)

// String names the fault.
func (f Fault) String() string {
	switch f {
	case NoFault:
		return "no fault"
	case TransientFault:
		return "a transient failure"
	case PermanentFault:
		return "a permanent refusal"
	}
	return fmt.Sprintf("fault %d", int(f))
}

// MaxAttemptsOfARefusal is the number of requests a sink may send for one delivery
// that the destination refuses permanently: one, and one more for a connection that
// net/http replays by itself (an Idempotency-Key request is replayable). More is a
// retry of a permanent error.
const MaxAttemptsOfARefusal = 2

// The rules of the suite, as its failures name them: each failure message starts with
// the rule it breaks, so that whoever reads a red test knows what the connector got
// wrong without reading the suite.
const (
	RuleConfigPaths      = "rule «broken settings are refused with problems at their paths»"
	RuleNoContactAtBuild = "rule «building the instance does not contact the system»"
	RuleResume           = "rule «a source resumes from its position with no fact lost or read twice»"
	RuleResumeAfterCrash = "rule «a new instance resumes from the checkpoint alone (crash) with no fact lost or read twice»"
	RuleStableKeys       = "rule «idempotency keys are stable across restarts»"
	// RuleIdempotentDelivery is a sink's side of idempotency.
	RuleIdempotentDelivery = "rule «a fact delivered again with its idempotency key makes no second record»"
	RuleCancellation       = "rule «a cancelled context ends a call promptly»"
	RuleTransientRetried   = "rule «a transient failure is returned as retryable, never as permanent»"
	RulePermanentRefused   = "rule «a permanent refusal is returned as permanent, at once, and not retried»"
	RuleQuarantine         = "rule «bad input is a fact with its error (quarantined), and never stops the source»"
	RuleSchemas            = "rule «golden fixtures and messages are valid against the canonical schemas»"
	RuleNoPersonalDataLog  = "rule «logs and error texts carry no personal data»"
	RuleNoGoroutineLeak    = "rule «no goroutine is left behind»"
)

// ruleErr prefixes err with the rule it breaks.
func ruleErr(rule string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", rule, err)
}

// CheckLogs reports a log entry (message, logger name or any field) that contains a
// canary: personal data of the fixture.
func CheckLogs(logs *observer.ObservedLogs, canaries []string) error {
	return checkLogs(logs, canaries)
}

// CheckRestart is the crash check: for each position the uninterrupted reads returned
// (at most maxPositions of them, spread evenly), it builds a new instance with
// newSource — as the hub does after a crash, with nothing but the committed checkpoint
// — and reads from that position to the end. A fact missing is a checkpoint that does
// not hold everything the source needs (state kept in memory); a fact read again is a
// checkpoint that lags behind the facts it was saved with. newSource returns the
// source and a function releasing it.
func CheckRestart(ctx context.Context, newSource func() (connectors.Source, func(), error), reads []Read, maxReads, maxPositions int) error {
	n := len(reads)
	step := max(1, n/max(1, maxPositions))
	for k := 0; k < n; k += step {
		src, release, err := newSource()
		if err != nil {
			return fmt.Errorf("a new instance: %w", err)
		}
		want := FactKeys(Facts(reads[k+1:]))
		again, err := ReadToEnd(ctx, src, reads[k].Batch.Next, maxReads)
		release()
		if err != nil {
			return fmt.Errorf("a new instance resuming from %q: %w", reads[k].Batch.Next, err)
		}
		if diff := multisetDiff(want, FactKeys(Facts(again))); diff != "" {
			return fmt.Errorf("a new instance resuming from %q: %s", reads[k].Batch.Next, diff)
		}
	}
	return nil
}

// CheckStableKeys compares the idempotency keys of the facts two instances read from
// the same fixture: a key that differs (a version taken from the clock, a reference
// made of a counter) would make a destination record a fact twice after a restart.
func CheckStableKeys(first, second []connectors.Fact) error {
	keys := func(facts []connectors.Fact) []string {
		var out []string
		for _, f := range facts {
			if f.Err != nil {
				if f.Fact != nil {
					out = append(out, "failed "+f.Fact.IdempotencyKey())
				}
				continue
			}
			for _, m := range f.Messages {
				out = append(out, m.Type+" "+m.IdempotencyKey())
			}
		}
		return out
	}
	if diff := multisetDiff(keys(first), keys(second)); diff != "" {
		return fmt.Errorf("the same fixture read by two instances gives other idempotency keys: %s", diff)
	}
	return nil
}

// CheckQuarantined reports a fixture that holds fewer failed facts than min: a
// connector whose broken input silently disappears (or stops the read) instead of
// coming back as a fact with its error.
func CheckQuarantined(facts []connectors.Fact, minFailed int) error {
	failed := 0
	for _, f := range facts {
		if f.Err != nil {
			failed++
		}
	}
	if failed < minFailed {
		return fmt.Errorf("the fixture's broken input gave %d failed facts, at least %d expected: broken input must come back as facts with their error, for quarantine", failed, minFailed)
	}
	return nil
}

// CheckTransientRead reads from "" with the system failing transiently (fail is
// System.Fail), and reports a Read that claims success with facts, or fails with an
// error marked permanent. Then it clears the fault and reads to the end, and reports
// facts that differ from want (the facts of an uninterrupted read): the failure must
// have left the position where it was.
func CheckTransientRead(ctx context.Context, src connectors.Source, fail func(Fault), want []connectors.Fact, maxReads int) error {
	fail(TransientFault)
	b, err := src.Read(ctx, "")
	fail(NoFault)
	switch {
	case err == nil && len(b.Facts) > 0:
		return fmt.Errorf("a Read while the system fails returned %d facts without error", len(b.Facts))
	case err != nil && connectors.IsPermanent(err):
		return fmt.Errorf("a transient failure came back as permanent: %w", err)
	}
	reads, err := ReadToEnd(ctx, src, "", maxReads)
	if err != nil {
		return fmt.Errorf("once the system answers again: %w", err)
	}
	if diff := multisetDiff(FactKeys(want), FactKeys(Facts(reads))); diff != "" {
		return fmt.Errorf("once the system answers again: %s", diff)
	}
	return nil
}

// CheckTransientDelivery delivers m while the destination fails transiently and
// reports a delivery that claims success or fails with an error marked permanent (it
// would be quarantined instead of retried); then it clears the fault and reports a
// delivery that does not succeed.
func CheckTransientDelivery(ctx context.Context, sink connectors.Sink, fail func(Fault), m *canonical.Message) error {
	fail(TransientFault)
	_, err := sink.Deliver(ctx, connectors.Delivery{Message: m, IdempotencyKey: m.IdempotencyKey(), Attempt: 1})
	fail(NoFault)
	switch {
	case err == nil:
		return errors.New("a delivery while the destination fails reported success")
	case connectors.IsPermanent(err):
		return fmt.Errorf("a transient failure came back as permanent (it would be quarantined, not retried): %w", err)
	}
	if _, err := sink.Deliver(ctx, connectors.Delivery{Message: m, IdempotencyKey: m.IdempotencyKey(), Attempt: 2}); err != nil {
		return fmt.Errorf("the retry once the destination answers again: %w", err)
	}
	return nil
}

// CheckPermanentDelivery delivers m while the destination refuses the data, and
// reports a delivery that succeeds, that fails with an error not marked permanent,
// that sends more than MaxAttemptsOfARefusal requests (calls, when not nil, counts the
// destination's requests), or that has not returned after within: a sink retrying a
// refusal forever blocks the person's other messages behind it.
func CheckPermanentDelivery(ctx context.Context, sink connectors.Sink, fail func(Fault), calls func() int64, m *canonical.Message, within time.Duration) error {
	fail(PermanentFault)
	defer fail(NoFault)
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var start int64
	if calls != nil {
		start = calls()
	}
	var (
		err  error
		done atomic.Bool
	)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		_, err = sink.Deliver(ctx, connectors.Delivery{Message: m, IdempotencyKey: m.IdempotencyKey(), Attempt: 1})
		done.Store(true)
	}()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !done.Load() {
		select {
		case <-finished:
		case <-tick.C:
			if calls != nil && calls()-start > MaxAttemptsOfARefusal {
				cancel()
				<-finished
				return fmt.Errorf("the destination refused the data and the sink sent it %d times (at most %d): a permanent refusal is retried", calls()-start, MaxAttemptsOfARefusal)
			}
			continue
		}
	}
	switch {
	case err == nil:
		return errors.New("a delivery the destination refused reported success")
	case ctx.Err() != nil && !connectors.IsPermanent(err):
		return fmt.Errorf("a delivery the destination refused had not returned after %s: a permanent refusal is retried (%w)", within, err)
	case !connectors.IsPermanent(err):
		return fmt.Errorf("a refusal of the data came back without connectors.Permanent (it would be retried forever): %w", err)
	}
	if calls != nil && calls()-start > MaxAttemptsOfARefusal {
		return fmt.Errorf("the destination refused the data and the sink sent it %d times (at most %d)", calls()-start, MaxAttemptsOfARefusal)
	}
	return nil
}

// someMessage reports a fixture none of whose facts became a canonical message: every
// fact failed (a mapper still to be written), and the checks would prove nothing. The
// first failure is quoted: it names what is left to do.
func someMessage(facts []connectors.Fact) error {
	for _, f := range facts {
		if f.Err == nil && len(f.Messages) > 0 {
			return nil
		}
	}
	for _, f := range facts {
		if f.Err != nil {
			return fmt.Errorf("none of the fixture's %d facts became a canonical message; the first failed at %s: %w", len(facts), f.Stage, f.Err)
		}
	}
	return fmt.Errorf("none of the fixture's %d facts became a canonical message", len(facts))
}
