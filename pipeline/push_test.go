package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"passerelle/canonical"
	"passerelle/config"
	"passerelle/connectors"
	"passerelle/internal/pgtest"
	"passerelle/pipeline/store"
	"passerelle/schemas"
)

// newPushHost is a push host on a fresh database, without routes.
func newPushHost(t *testing.T, maxConns int32) *PushHost {
	t.Helper()
	st, err := store.Open(t.Context(), pgtest.NewDatabase(t), store.Options{MaxConns: maxConns})
	require.NoError(t, err)
	t.Cleanup(st.Close)
	reg, err := schemas.Load()
	require.NoError(t, err)
	routing, ps := NewRouting(&config.Config{}, Catalog{reg}, nil)
	require.Empty(t, ps)
	return &PushHost{Name: "push-test", Store: st, Log: zap.NewNop(),
		Ingester: &Ingester{Store: st, Schemas: reg, Routing: routing, Log: zap.NewNop()}}
}

// measureFact is a valid fact: measure ref at version v (content depends on status).
func measureFact(t *testing.T, ref string, v int64, status canonical.MeasureStatus) connectors.Fact {
	t.Helper()
	data := canonical.Measure{Version: v, MeasureNumber: ref, Kind: "SP", Court: "TJ LYON", DecisionDate: "2024-03-14", Status: status,
		Person: canonical.Person{LastName: "PERSONNE", FirstNames: []string{"Test"}, BirthDate: "1990-01-01",
			Identifiers: canonical.Identifiers{AppiFileNumber: "202000000001"}}}
	m, err := canonical.NewMessage(canonical.TypeMeasure, "/connectors/test", "",
		canonical.FactID{System: canonical.SystemAPPI, Ref: canonical.APPIMeasureRef(ref), Version: v}, time.Now(), data)
	require.NoError(t, err)
	return connectors.Fact{Raw: []byte(`{}`), ContentType: "application/json", Messages: []*canonical.Message{m}}
}

func TestPushHost(t *testing.T) {
	h := newPushHost(t, 0)
	ctx := t.Context()
	first, err := h.Accept(ctx, connectors.Push{Caller: "690123", Reference: "r1",
		Facts: []connectors.Fact{measureFact(t, "M1", 2, "EN_COURS"), measureFact(t, "M2", 1, "EN_COURS")}})
	require.NoError(t, err)
	require.False(t, first.Replay)
	require.Len(t, first.Receipt.Messages, 2)
	for i, m := range first.Receipt.Messages {
		assert.Equal(t, i, m.Fact)
		assert.Equal(t, connectors.StateAccepted, m.State, "committed, not yet relayed")
	}

	t.Run("the same facts pushed again give the same receipt", func(t *testing.T) {
		again, err := h.Accept(ctx, connectors.Push{Caller: "690123",
			Facts: []connectors.Fact{measureFact(t, "M2", 1, "EN_COURS"), measureFact(t, "M1", 2, "EN_COURS")}})
		require.NoError(t, err)
		assert.True(t, again.Replay)
		assert.Equal(t, first.ReceiptID, again.ReceiptID)
	})
	t.Run("another caller pushing the same facts gets a receipt of its own", func(t *testing.T) {
		other, err := h.Accept(ctx, connectors.Push{Caller: "750010", Facts: []connectors.Fact{measureFact(t, "M1", 2, "EN_COURS"), measureFact(t, "M2", 1, "EN_COURS")}})
		require.NoError(t, err)
		assert.False(t, other.Replay)
		assert.NotEqual(t, first.ReceiptID, other.ReceiptID)
		for i, m := range other.Receipt.Messages {
			assert.Equal(t, first.Receipt.Messages[i].MessageID, m.MessageID, "a duplicate names the recorded message")
		}
	})
	t.Run("an older version is stale and names the newer message", func(t *testing.T) {
		p, err := h.Accept(ctx, connectors.Push{Caller: "690123", Facts: []connectors.Fact{measureFact(t, "M1", 1, "EN_COURS")}})
		require.NoError(t, err)
		m := p.Receipt.Messages[0]
		assert.Equal(t, connectors.StateStale, m.State)
		assert.Equal(t, first.Receipt.Messages[0].MessageID, m.Current)
	})
	t.Run("the same version with another content is quarantined with the reason", func(t *testing.T) {
		p, err := h.Accept(ctx, connectors.Push{Caller: "690123", Facts: []connectors.Fact{measureFact(t, "M2", 1, "SUSPENDUE")}})
		require.NoError(t, err)
		m := p.Receipt.Messages[0]
		assert.Equal(t, connectors.StateQuarantined, m.State)
		assert.Positive(t, m.QuarantineID)
		assert.Contains(t, m.Reason, "again with a different content")
	})
	t.Run("a fact that could not be mapped is quarantined", func(t *testing.T) {
		p, err := h.Accept(ctx, connectors.Push{Caller: "690123", Facts: []connectors.Fact{
			{Raw: []byte("raw"), Err: errors.New("test: /x: unmappable"), Stage: "map"}, measureFact(t, "M3", 1, "EN_COURS")}})
		require.NoError(t, err)
		require.Len(t, p.Receipt.Messages, 2)
		assert.Equal(t, connectors.StateQuarantined, p.Receipt.Messages[0].State)
		assert.Equal(t, "test: /x: unmappable", p.Receipt.Messages[0].Reason)
		assert.Equal(t, connectors.StateAccepted, p.Receipt.Messages[1].State)
	})
	t.Run("a receipt is read by its caller only", func(t *testing.T) {
		_, err := h.Receipt(ctx, "750010", first.ReceiptID)
		assert.ErrorIs(t, err, connectors.ErrNoReceipt)
		_, err = h.Receipt(ctx, "690123", "nope")
		assert.ErrorIs(t, err, connectors.ErrNoReceipt)
		_, err = h.Accept(ctx, connectors.Push{Facts: []connectors.Fact{measureFact(t, "M9", 1, "EN_COURS")}})
		assert.ErrorIs(t, err, ErrNoCaller)
	})
	t.Run("a refusal is audited under the instance's name", func(t *testing.T) {
		require.NoError(t, h.Audit(ctx, connectors.AuditEntry{Action: "refuse", Outcome: "refused", Reference: "tls:expired"}))
		var actor string
		require.NoError(t, h.Store.Pool().QueryRow(ctx, `SELECT actor FROM audit WHERE action = 'refuse'`).Scan(&actor))
		assert.Equal(t, "push-test", actor)
	})
	t.Run("what a caller pushed is audited as the instance and that caller", func(t *testing.T) {
		rows, err := h.Store.Pool().Query(ctx, `SELECT DISTINCT actor FROM audit WHERE action = 'ingest' ORDER BY 1`)
		require.NoError(t, err)
		actors, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		assert.Equal(t, []string{"push-test:690123", "push-test:750010"}, actors)
	})
}

func TestConcurrentPushesDoNotStarveThePool(t *testing.T) {
	// Two connections, eight pushes at once: a push that held its transaction while
	// resolving the persons on a second connection would wait for ever.
	h := newPushHost(t, 2)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			_, err := h.Accept(context.Background(), connectors.Push{Caller: "690123",
				Facts: []connectors.Fact{measureFact(t, fmt.Sprintf("C%d", i), 1, "EN_COURS")}})
			assert.NoError(t, err)
		})
	}
	wg.Wait()
}

func TestAReceiptMessageState(t *testing.T) {
	d := func(status string) store.ReceiptDelivery {
		return store.ReceiptDelivery{Destination: "d" + status, Status: status}
	}
	accepted := func(published bool, ds ...store.ReceiptDelivery) store.ReceiptMessageState {
		return store.ReceiptMessageState{ReceiptMessage: store.ReceiptMessage{MessageID: uuid.New(), Outcome: store.ReceiptAccepted},
			InOutbox: true, Published: published, Deliveries: ds}
	}
	for _, c := range []struct {
		name string
		m    store.ReceiptMessageState
		want string
	}{
		{"committed and not yet published: accepted", accepted(false, d(store.StatusPending)), connectors.StateAccepted},
		{"published and pending: relayed", accepted(true, d(store.StatusPending)), connectors.StateRelayed},
		{"delivered everywhere: delivered", accepted(true, d(store.StatusDelivered), d(store.StatusSuperseded)), connectors.StateDelivered},
		{"delivered to one of two: relayed", accepted(true, d(store.StatusDelivered), d(store.StatusPending)), connectors.StateRelayed},
		{"a newer version went first everywhere: superseded", accepted(true, d(store.StatusSuperseded)), connectors.StateSuperseded},
		{"refused by one destination: quarantined", accepted(true, d(store.StatusDelivered), d(store.StatusQuarantined)), connectors.StateQuarantined},
		{"stale at intake: stale", store.ReceiptMessageState{ReceiptMessage: store.ReceiptMessage{Outcome: store.ReceiptStale}}, connectors.StateStale},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, pushMessage(c.m).State, fmt.Sprint(c.m.Deliveries))
		})
	}
}
