package connectortest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"passerelle/canonical"
	"passerelle/connectors"
)

// SinkSystem is a destination system (or its simulator) started for one check.
type SinkSystem struct {
	System
	// Records returns the number of records the destination holds: what an
	// idempotency key took effect as. Required.
	Records func() int
}

// SinkHarness is what a sink connector's test gives RunSink.
type SinkHarness struct {
	// Spec is the connector's registration.
	Spec connectors.Spec
	// Start starts the destination (or its simulator), empty, and returns how to
	// reach it. It is called once per check that needs a fresh one; stop it with
	// t.Cleanup.
	Start func(t *testing.T) SinkSystem
	// BadSettings are broken settings the connector must refuse (at least one).
	BadSettings []BadSettings
	// Messages are the fixture: canonical messages, valid against the schemas and
	// already reduced to what the destination's policy allows, each of a different
	// fact, that the destination accepts.
	Messages []*canonical.Message
	// Canaries are strings of the fixture's personal data that must never appear in a
	// log entry or an error text.
	Canaries []string
}

// RunSink runs the acceptance checks of a sink connector (see the package doc).
func RunSink(t *testing.T, h SinkHarness) {
	t.Helper()
	require.NotNil(t, h.Start, "the harness needs Start")
	require.NotEmpty(t, h.BadSettings, "the harness needs broken settings to prove they are refused")
	require.NotEmpty(t, h.Messages, "the harness needs messages to deliver")
	before := goleak.IgnoreCurrent()

	runSpecChecks(t, h.Spec, h.BadSettings)
	t.Run("the fixture is valid against the canonical schemas", func(t *testing.T) {
		reg := registry(t)
		for _, m := range h.Messages {
			require.NoError(t, ruleErr(RuleSchemas, ValidateMessage(reg, m)))
		}
	})
	t.Run("valid settings build the instance without contacting the system", func(t *testing.T) {
		sys := h.Start(t)
		inst := buildWithoutContact(t, h.Spec, sys.Settings, sys.Calls)
		require.NotNil(t, inst.Sink, "a sink connector's instance has a Sink")
	})
	t.Run("delivering", func(t *testing.T) {
		sys := h.Start(t)
		require.NotNil(t, sys.Records, "the sink system needs Records")
		e, logs := env(t)
		inst := build(t, h.Spec, e, sys.Settings)
		t.Run("every message is delivered once with a receipt, even when sent again", func(t *testing.T) {
			require.NoError(t, ruleErr(RuleIdempotentDelivery, CheckDeliveries(t.Context(), inst.Sink, h.Messages, sys.Records, h.Canaries)))
		})
		t.Run("logs carry no personal data", func(t *testing.T) {
			require.NoError(t, ruleErr(RuleNoPersonalDataLog, checkLogs(logs, h.Canaries)))
		})
	})
	t.Run("errors are classified", func(t *testing.T) {
		sys := h.Start(t)
		if sys.Fail == nil {
			t.Log("TODO: the harness's system has no Fail: transient and permanent errors are not checked")
			return
		}
		e, logs := env(t)
		inst := build(t, h.Spec, e, sys.Settings)
		t.Run("a transient failure is returned as retryable", func(t *testing.T) {
			require.NoError(t, ruleErr(RuleTransientRetried, CheckTransientDelivery(t.Context(), inst.Sink, sys.Fail, h.Messages[0])))
		})
		t.Run("a permanent refusal is returned as permanent at once, not retried", func(t *testing.T) {
			m := h.Messages[len(h.Messages)-1]
			require.NoError(t, ruleErr(RulePermanentRefused, CheckPermanentDelivery(t.Context(), inst.Sink, sys.Fail, sys.Calls, m, Liveness/2)))
		})
		t.Run("logs carry no personal data", func(t *testing.T) {
			require.NoError(t, ruleErr(RuleNoPersonalDataLog, checkLogs(logs, h.Canaries)))
		})
	})
	t.Run("a cancelled context ends a delivery promptly", func(t *testing.T) {
		sys := h.Start(t)
		e, _ := env(t)
		inst := build(t, h.Spec, e, sys.Settings)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		var err error
		within(t, "Deliver with a cancelled context", func() { err = CheckDeliveryCancelled(ctx, inst.Sink, h.Messages[0]) })
		require.NoError(t, ruleErr(RuleCancellation, err))
		if sys.SetLatency == nil {
			return
		}
		t.Run("even while the system is slow", func(t *testing.T) {
			sys.SetLatency(time.Hour)
			t.Cleanup(func() { sys.SetLatency(0) })
			ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
			defer cancel()
			var err error
			within(t, "Deliver cancelled while the system is slow", func() { err = CheckDeliveryCancelled(ctx, inst.Sink, h.Messages[0]) })
			require.NoError(t, ruleErr(RuleCancellation, err))
		})
	})
	t.Run("no goroutine is left behind", func(t *testing.T) {
		require.NoError(t, ruleErr(RuleNoGoroutineLeak, goleak.Find(before)))
	})
}

// CheckDeliveries delivers every message with its idempotency key, then every one
// again with the same key (a retry after a lost answer), and reports a failed
// delivery, a second record for one key, or an error text carrying a canary.
func CheckDeliveries(ctx context.Context, sink connectors.Sink, msgs []*canonical.Message, records func() int, canaries []string) error {
	deliver := func(m *canonical.Message, attempt int) error {
		_, err := sink.Deliver(ctx, connectors.Delivery{Message: m, IdempotencyKey: m.IdempotencyKey(), Attempt: attempt})
		if err != nil {
			if c, ok := containsCanary(err.Error(), canaries); ok {
				return fmt.Errorf("%s: the delivery error carries the canary %q", RuleNoPersonalDataLog, c)
			}
			return fmt.Errorf("deliver %s %s (attempt %d): %w", m.Type, m.FactRef, attempt, err)
		}
		return nil
	}
	start := records()
	for _, m := range msgs {
		if err := deliver(m, 1); err != nil {
			return err
		}
	}
	if got := records() - start; got != len(msgs) {
		return fmt.Errorf("%d messages delivered, the destination holds %d new records", len(msgs), got)
	}
	for _, m := range msgs {
		if err := deliver(m, 2); err != nil {
			return fmt.Errorf("a retry with the same idempotency key failed: %w", err)
		}
	}
	if got := records() - start; got != len(msgs) {
		return fmt.Errorf("delivering again with the same keys made %d records for %d messages", got, len(msgs))
	}
	return nil
}

// CheckDeliveryCancelled delivers m with ctx, which is cancelled or about to be, and
// reports a delivery that claims success: a cancelled Deliver must give up with an
// error (the pipeline then retries it; the idempotency key absorbs a request that
// got through anyway).
func CheckDeliveryCancelled(ctx context.Context, sink connectors.Sink, m *canonical.Message) error {
	_, err := sink.Deliver(ctx, connectors.Delivery{Message: m, IdempotencyKey: m.IdempotencyKey(), Attempt: 1})
	if err == nil {
		return errors.New("a Deliver with a cancelled context reported success")
	}
	return nil
}
