package connectortest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/connectors"
	"passerelle/connectors/connectortest"
)

func TestTheKeyCheckCatchesAVersionTakenFromTheClock(t *testing.T) {
	first := measureFacts(t, 3)
	require.NoError(t, connectortest.CheckStableKeys(first, measureFacts(t, 3)), "the same fixture, the same keys")
	again := measureFacts(t, 3)
	m := *again[1].Messages[0]
	m.FactVersion = time.Now().UnixNano() // a version from the clock: another key on every read
	again[1].Messages[0] = &m
	err := connectortest.CheckStableKeys(first, again)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "other idempotency keys")
}

func TestTheQuarantineCheckCatchesBrokenInputThatVanishes(t *testing.T) {
	facts := measureFacts(t, 3)
	require.Error(t, connectortest.CheckQuarantined(facts, 1), "no failed fact where the fixture holds one")
	facts = append(facts, connectors.Fact{Raw: []byte("x"), Stage: "decode", Err: errors.New("broken")})
	require.NoError(t, connectortest.CheckQuarantined(facts, 1))
}

func TestTheTransientReadCheckCatchesAnOutageCalledPermanent(t *testing.T) {
	facts := measureFacts(t, 2)
	var fault connectortest.Fault
	fail := func(f connectortest.Fault) { fault = f }
	source := func(permanent bool) connectors.Source {
		return replayingOrFailing{facts: facts, fault: &fault, permanent: permanent}
	}
	require.NoError(t, connectortest.CheckTransientRead(t.Context(), source(false), fail, facts, 100))
	err := connectortest.CheckTransientRead(t.Context(), source(true), fail, facts, 100)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "came back as permanent")
}

// replayingOrFailing reads facts one by one, and fails while its fault is set.
type replayingOrFailing struct {
	facts     []connectors.Fact
	fault     *connectortest.Fault
	permanent bool
}

func (s replayingOrFailing) Read(ctx context.Context, position string) (connectors.Batch, error) {
	if *s.fault != connectortest.NoFault {
		err := errors.New("system down")
		if s.permanent {
			return connectors.Batch{}, connectors.Permanent(err)
		}
		return connectors.Batch{}, connectors.Transient(err, 0)
	}
	return replayingSource{facts: s.facts}.Read(ctx, position)
}

func TestTheTransientDeliveryCheckCatchesASinkThatCallsEveryErrorPermanent(t *testing.T) {
	m := measureFacts(t, 1)[0].Messages[0]
	var fault connectortest.Fault
	fail := func(f connectortest.Fault) { fault = f }
	sink := func(classify func(error) error) connectors.Sink {
		return sinkFunc(func(context.Context, connectors.Delivery) (connectors.Receipt, error) {
			if fault != connectortest.NoFault {
				return connectors.Receipt{}, classify(errors.New("HTTP 503"))
			}
			return connectors.Receipt{ID: "1"}, nil
		})
	}
	require.NoError(t, connectortest.CheckTransientDelivery(t.Context(), sink(func(err error) error { return connectors.Transient(err, 0) }), fail, m))
	err := connectortest.CheckTransientDelivery(t.Context(), sink(connectors.Permanent), fail, m)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "came back as permanent")

	t.Run("and the permanent check, a refusal not marked permanent", func(t *testing.T) {
		require.NoError(t, connectortest.CheckPermanentDelivery(t.Context(), sink(connectors.Permanent), fail, nil, m, time.Second))
		err := connectortest.CheckPermanentDelivery(t.Context(), sink(func(err error) error { return err }), fail, nil, m, time.Second)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "without connectors.Permanent")
	})
}
