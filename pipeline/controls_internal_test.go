package pipeline

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/connectors"
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
