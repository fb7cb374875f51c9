package pipeline

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"passerelle/connectors"
	"passerelle/internal/pgtest"
	"passerelle/pipeline/store"
)

type countingHost struct {
	connectors.Host
	accepted int
}

func (h *countingHost) Accept(context.Context, connectors.Push) (connectors.Pushed, error) {
	h.accepted++
	return connectors.Pushed{ReceiptID: "r"}, nil
}

func TestAPausedPushSourceRefusesPushesAsTransient(t *testing.T) {
	c := &Controls{state: map[[2]string]store.Control{{ControlSource, "intake"}: {Kind: ControlSource, Name: "intake", Paused: true}}}
	inner := &countingHost{}
	_, err := pausable(inner, "intake", c).Accept(t.Context(), connectors.Push{Caller: "TJ"})
	require.ErrorIs(t, err, ErrSourcePaused)
	assert.True(t, errors.Is(err, connectors.ErrTransient), "the caller is told to send again")
	assert.Zero(t, inner.accepted)

	got, err := pausable(inner, "other", c).Accept(t.Context(), connectors.Push{Caller: "TJ"})
	require.NoError(t, err)
	assert.Equal(t, "r", got.ReceiptID)
	_, err = pausable(inner, "intake", nil).Accept(t.Context(), connectors.Push{Caller: "TJ"})
	require.NoError(t, err, "no controls, no pause")
}

// A read of the pauses that began before an operator's pause must not store its older
// state after the pause's own read stored the new one: the route would run again in
// this process until the next refresh (seen in CI before Load was serialised).
func TestAnOlderReadOfThePausesNeverStoresLast(t *testing.T) {
	ctx := t.Context()
	st, err := store.Open(ctx, pgtest.NewDatabase(t), store.Options{})
	require.NoError(t, err)
	t.Cleanup(st.Close)
	c := &Controls{Store: st, Log: zap.NewNop()}
	require.NoError(t, c.Load(ctx))
	require.False(t, c.RoutePaused("to-prisme"))

	// The periodic read reads "running", then stalls before storing it.
	read, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	c.afterRead = func() {
		if calls.Add(1) == 1 {
			close(read)
			<-release
		}
	}
	periodic := make(chan error, 1)
	go func() { periodic <- c.Load(ctx) }()
	<-read

	// The operator pauses the route meanwhile: Set writes, then reads and stores.
	set := make(chan error, 1)
	go func() {
		_, err := c.Set(ctx, ControlRoute, "to-prisme", true, "maintenance", "ops")
		set <- err
	}()
	// Let the pause land first if it can (it cannot while Load is serialised, hence
	// the wait's bound), then the stalled read goes on.
	select {
	case err := <-set:
		require.NoError(t, err)
		set <- nil
	case <-time.After(time.Second):
	}
	close(release)
	require.NoError(t, <-periodic)
	require.NoError(t, <-set)

	assert.True(t, c.RoutePaused("to-prisme"), "the pause holds in this process")
	assert.EqualValues(t, 2, calls.Load(), "the pause read after the older read stored")
}
