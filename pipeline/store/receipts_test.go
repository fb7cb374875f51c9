package store

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/canonical"
)

func TestReceipts(t *testing.T) {
	s := newStore(t, Options{})
	ctx := t.Context()
	a, b := msg("mesure/1", 1, `{"v":1}`), msg("mesure/2", 3, `{"v":3}`)
	res, err := s.Ingest(ctx, s.pool, IngestBatch{Connector: "push", Messages: []*canonical.Message{a, b}, Targets: targets})
	require.NoError(t, err)
	fa := &canonical.FactID{System: "APPI", Ref: "mesure/1", Version: 1}
	fb := &canonical.FactID{System: "APPI", Ref: "mesure/2", Version: 3}
	id := uuid.New()
	require.NoError(t, pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		_, err := s.InsertReceipt(ctx, tx, NewReceipt{ID: id, Connector: "push", Caller: "690123", Reference: "test",
			Messages: []ReceiptMessage{
				{FactIndex: 0, MessageIndex: 0, MessageID: res.Outcomes[0].ID, Outcome: ReceiptAccepted, Fact: fa},
				{FactIndex: 0, MessageIndex: 1, MessageID: res.Outcomes[1].ID, Outcome: ReceiptAccepted, Fact: fb},
			}})
		return err
	}))

	t.Run("a receipt shows each message with its deliveries", func(t *testing.T) {
		v, err := s.Receipt(ctx, "push", "690123", id)
		require.NoError(t, err)
		assert.Equal(t, "test", v.Reference)
		require.Len(t, v.Messages, 2)
		assert.True(t, v.Messages[0].InOutbox)
		assert.False(t, v.Messages[0].Published)
		require.Len(t, v.Messages[0].Deliveries, 2, "one per destination of the route")
		assert.Equal(t, StatusPending, v.Messages[0].Deliveries[0].Status)
		assert.Equal(t, *fa, *v.Messages[0].Fact)
	})
	t.Run("a delivered message shows the destination's receipt, a refused one its quarantine", func(t *testing.T) {
		record(t, s, []DeliveryOutcome{
			{MessageID: res.Outcomes[0].ID, Destination: "prisme", Route: "r", Status: StatusDelivered, Attempts: 2,
				Receipt: json.RawMessage(`{"id":"DEC-1","dossierId":"D-9"}`), ReceiptRef: "DEC-1"},
			{MessageID: res.Outcomes[1].ID, Destination: "archive", Route: "r", Status: StatusQuarantined, Attempts: 1,
				Error: "archive: refused with HTTP 422", Raw: []byte(`{}`)},
		})
		v, err := s.Receipt(ctx, "push", "690123", id)
		require.NoError(t, err)
		d := v.Messages[0].Deliveries[1]
		assert.Equal(t, "prisme", d.Destination)
		assert.Equal(t, StatusDelivered, d.Status)
		assert.JSONEq(t, `{"id":"DEC-1","dossierId":"D-9"}`, string(d.Receipt))
		q := v.Messages[1].Deliveries[0]
		assert.Equal(t, StatusQuarantined, q.Status)
		assert.Equal(t, "archive: refused with HTTP 422", q.LastError)
		assert.Positive(t, q.QuarantineID)
	})
	t.Run("another caller, or an unknown id, finds nothing", func(t *testing.T) {
		_, err := s.Receipt(ctx, "push", "750010", id)
		assert.True(t, errors.Is(err, ErrNotFound))
		_, err = s.Receipt(ctx, "push", "690123", uuid.New())
		assert.True(t, errors.Is(err, ErrNotFound))
	})
	t.Run("the same facts at the same versions find the receipt again", func(t *testing.T) {
		find := func(caller string, facts ...canonical.FactID) (uuid.UUID, bool) {
			var got uuid.UUID
			var ok bool
			require.NoError(t, pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
				var err error
				got, ok, err = s.FindReceipt(ctx, tx, "push", caller, facts)
				return err
			}))
			return got, ok
		}
		got, ok := find("690123", *fb, *fa)
		assert.True(t, ok)
		assert.Equal(t, id, got)
		_, ok = find("690123", *fa)
		assert.False(t, ok, "a subset is another push")
		_, ok = find("690123", *fa, canonical.FactID{System: "APPI", Ref: "mesure/2", Version: 4})
		assert.False(t, ok, "another version is another push")
		_, ok = find("750010", *fa, *fb)
		assert.False(t, ok, "another caller's push")
	})
}
