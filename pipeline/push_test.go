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

// holdPersons blocks the resolution of persons (and so the preparation of pushes) until
// the returned release is called, once the first push waits on it.
func holdPersons(t *testing.T, h *PushHost) (waiting func(), release func()) {
	t.Helper()
	ctx := t.Context()
	tx, err := h.Store.Pool().Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `LOCK TABLE identities IN ACCESS EXCLUSIVE MODE`)
	require.NoError(t, err)
	waiting = func() {
		for {
			var n int
			require.NoError(t, h.Store.Pool().QueryRow(ctx,
				`SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'identities'::regclass`).Scan(&n))
			if n > 0 {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	return waiting, func() { require.NoError(t, tx.Rollback(ctx)) }
}

// queued waits until n pushes wait for a group.
func queued(h *PushHost, n int) {
	for {
		h.mu.Lock()
		q := 0
		for _, r := range h.queue {
			if !r.dropped {
				q++
			}
		}
		h.mu.Unlock()
		if q >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func TestConcurrentPushesAreCommittedInGroups(t *testing.T) {
	h := newPushHost(t, 0)
	ctx := t.Context()
	callers := []string{"690123", "750010", "130055"}
	type sent struct {
		push  connectors.Push
		kind  string // single, pair, mapfail, invalid
		facts []string
		got   connectors.Pushed
		err   error
	}
	var pushes []*sent
	for i := range 240 {
		c := callers[i%len(callers)]
		switch {
		case i%11 == 5: // a fact the connector could not map, beside a valid one
			ref := fmt.Sprintf("F%d", i%30)
			pushes = append(pushes, &sent{kind: "mapfail", facts: []string{ref}, push: connectors.Push{Caller: c, Reference: fmt.Sprint(i),
				Facts: []connectors.Fact{{Raw: []byte("raw"), Err: errors.New("test: /x: unmappable"), Stage: "map"}, measureFact(t, ref, 1, "EN_COURS")}}})
		case i%13 == 7: // invalid against its schema: quarantined at validation
			pushes = append(pushes, &sent{kind: "invalid", push: connectors.Push{Caller: c, Reference: fmt.Sprint(i),
				Facts: []connectors.Fact{measureFact(t, fmt.Sprintf("BAD%d", i), 1, "INCONNU")}}})
		case i%7 == 3: // two facts
			a, b := fmt.Sprintf("F%d", i%30), fmt.Sprintf("F%d", (i+1)%30)
			pushes = append(pushes, &sent{kind: "pair", facts: []string{a, b}, push: connectors.Push{Caller: c, Reference: fmt.Sprint(i),
				Facts: []connectors.Fact{measureFact(t, a, 1, "EN_COURS"), measureFact(t, b, 1, "EN_COURS")}}})
		default: // the same thirty facts, pushed again and again by every caller
			ref := fmt.Sprintf("F%d", i%30)
			pushes = append(pushes, &sent{kind: "single", facts: []string{ref}, push: connectors.Push{Caller: c, Reference: fmt.Sprint(i),
				Facts: []connectors.Fact{measureFact(t, ref, 1, "EN_COURS")}}})
		}
	}

	// The first push holds the preparation while all the others arrive: they are then
	// committed in groups of the largest size.
	waiting, release := holdPersons(t, h)
	var wg sync.WaitGroup
	accept := func(s *sent) {
		wg.Go(func() { s.got, s.err = h.Accept(context.Background(), s.push) })
	}
	accept(pushes[0])
	waiting()
	for _, s := range pushes[1:] {
		accept(s)
	}
	queued(h, len(pushes)-1)
	release()
	wg.Wait()

	recorded := map[string]string{} // fact ref: its outbox message id
	rows, err := h.Store.Pool().Query(ctx, `SELECT fact_ref, id::text FROM outbox`)
	require.NoError(t, err)
	for rows.Next() {
		var ref, id string
		require.NoError(t, rows.Scan(&ref, &id))
		_, twice := recorded[ref]
		assert.False(t, twice, "%s is in the outbox once", ref)
		recorded[ref] = id
	}
	require.NoError(t, rows.Err())
	assert.Len(t, recorded, 30, "every valid fact, once")

	type key struct{ caller, facts string }
	receipts := map[key][]*sent{}
	ids := map[string]bool{}
	for _, s := range pushes {
		require.NoError(t, s.err)
		assert.Equal(t, s.push.Caller, s.got.Receipt.Caller)
		assert.Equal(t, s.got.ReceiptID, s.got.Receipt.ID)
		msgs := s.got.Receipt.Messages
		switch s.kind {
		case "single", "pair":
			require.Len(t, msgs, len(s.facts))
			for j, m := range msgs {
				assert.Equal(t, connectors.StateAccepted, m.State)
				assert.Equal(t, recorded[canonical.APPIMeasureRef(s.facts[j])], m.MessageID, "a duplicate names the recorded message")
			}
			k := key{s.push.Caller, fmt.Sprint(s.facts)}
			receipts[k] = append(receipts[k], s)
		case "mapfail":
			require.Len(t, msgs, 2)
			assert.False(t, s.got.Replay)
			assert.Equal(t, connectors.StateQuarantined, msgs[0].State)
			assert.Equal(t, "test: /x: unmappable", msgs[0].Reason)
			assert.Equal(t, recorded[canonical.APPIMeasureRef(s.facts[0])], msgs[1].MessageID)
		case "invalid":
			require.Len(t, msgs, 1)
			assert.False(t, s.got.Replay)
			assert.Equal(t, connectors.StateQuarantined, msgs[0].State)
			assert.Contains(t, msgs[0].Reason, "invalid canonical message")
		}
		if !s.got.Replay {
			assert.False(t, ids[s.got.ReceiptID], "a receipt of its own")
			ids[s.got.ReceiptID] = true
		}
		again, err := h.Receipt(ctx, s.push.Caller, s.got.ReceiptID)
		require.NoError(t, err)
		assert.Equal(t, s.got.Receipt.Messages, again.Messages)
		for _, other := range callers {
			if other != s.push.Caller {
				_, err := h.Receipt(ctx, other, s.got.ReceiptID)
				assert.ErrorIs(t, err, connectors.ErrNoReceipt, "read by its caller only")
			}
		}
	}
	for k, ss := range receipts {
		// The same facts from the same caller: one receipt, the first push's; the
		// others are its replays.
		fresh := 0
		for _, s := range ss {
			assert.Equal(t, ss[0].got.ReceiptID, s.got.ReceiptID, "%v", k)
			if !s.got.Replay {
				fresh++
			}
		}
		assert.Equal(t, 1, fresh, "%v", k)
	}

	// Each fact was accepted once, by the push whose receipt says so, and the audit
	// names that push's caller; every caller's messages and quarantined inputs are
	// audited under its name.
	acceptedBy := map[string]string{} // fact ref: caller
	rows, err = h.Store.Pool().Query(ctx, `SELECT m.fact_ref, r.caller FROM receipt_messages m JOIN receipts r ON r.id = m.receipt_id
		WHERE m.outcome = 'accepted'`)
	require.NoError(t, err)
	for rows.Next() {
		var ref, caller string
		require.NoError(t, rows.Scan(&ref, &caller))
		_, twice := acceptedBy[ref]
		assert.False(t, twice, "%s accepted once", ref)
		acceptedBy[ref] = caller
	}
	require.NoError(t, rows.Err())
	assert.Len(t, acceptedBy, 30)
	rows, err = h.Store.Pool().Query(ctx, `SELECT split_part(reference, ':', 2), actor FROM audit WHERE action = 'ingest' AND outcome = 'accepted'`)
	require.NoError(t, err)
	n := 0
	for rows.Next() {
		var ref, actor string
		require.NoError(t, rows.Scan(&ref, &actor))
		assert.Equal(t, "push-test:"+acceptedBy[ref], actor, ref)
		n++
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, 30, n)
	wantIngest, wantQuarantine := map[string]int{}, map[string]int{}
	for _, s := range pushes {
		actor := "push-test:" + s.push.Caller
		switch s.kind {
		case "single", "pair":
			wantIngest[actor] += len(s.facts)
		case "mapfail":
			wantIngest[actor]++
			wantQuarantine[actor]++
		case "invalid":
			wantQuarantine[actor]++
		}
	}
	for action, want := range map[string]map[string]int{"ingest": wantIngest, "quarantine": wantQuarantine} {
		rows, err := h.Store.Pool().Query(ctx, `SELECT actor, count(*) FROM audit WHERE action = $1 GROUP BY actor`, action)
		require.NoError(t, err)
		got := map[string]int{}
		for rows.Next() {
			var actor string
			var c int
			require.NoError(t, rows.Scan(&actor, &c))
			got[actor] = c
		}
		require.NoError(t, rows.Err())
		assert.Equal(t, want, got, action)
	}
	v, err := h.Store.VerifyAudit(ctx)
	require.NoError(t, err)
	assert.Nil(t, v.Problem)
}

func TestAGroupOfPushes(t *testing.T) {
	t.Run("a push whose caller gave up while it waited is not committed", func(t *testing.T) {
		h := newPushHost(t, 0)
		waiting, release := holdPersons(t, h)
		var wg sync.WaitGroup
		wg.Go(func() {
			_, err := h.Accept(context.Background(), connectors.Push{Caller: "690123", Facts: []connectors.Fact{measureFact(t, "G1", 1, "EN_COURS")}})
			assert.NoError(t, err)
		})
		waiting()
		ctx, cancel := context.WithCancel(context.Background())
		gaveUp := make(chan error, 1)
		go func() {
			_, err := h.Accept(ctx, connectors.Push{Caller: "690123", Facts: []connectors.Fact{measureFact(t, "G2", 1, "EN_COURS")}})
			gaveUp <- err
		}()
		queued(h, 1)
		cancel()
		assert.ErrorIs(t, <-gaveUp, context.Canceled)
		release()
		wg.Wait()
		var refs []string
		rows, err := h.Store.Pool().Query(t.Context(), `SELECT fact_ref FROM outbox`)
		require.NoError(t, err)
		refs, err = pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		assert.Equal(t, []string{canonical.APPIMeasureRef("G1")}, refs)
	})
	t.Run("a push that PostgreSQL refuses fails alone", func(t *testing.T) {
		h := newPushHost(t, 0)
		waiting, release := holdPersons(t, h)
		var wg sync.WaitGroup
		wg.Go(func() {
			_, err := h.Accept(context.Background(), connectors.Push{Caller: "690123", Facts: []connectors.Fact{measureFact(t, "H0", 1, "EN_COURS")}})
			assert.NoError(t, err)
		})
		waiting()
		// A reference PostgreSQL cannot store (a NUL character) in the second group.
		bad := measureFact(t, "H1", 1, "EN_COURS")
		bad.Messages[0].FactRef += "\x00"
		errs := make([]error, 3)
		for i, f := range []connectors.Fact{measureFact(t, "H2", 1, "EN_COURS"), bad, measureFact(t, "H3", 1, "EN_COURS")} {
			wg.Go(func() {
				_, errs[i] = h.Accept(context.Background(), connectors.Push{Caller: "750010", Facts: []connectors.Fact{f}})
			})
		}
		queued(h, 3)
		release()
		wg.Wait()
		assert.NoError(t, errs[0])
		assert.Error(t, errs[1])
		assert.NoError(t, errs[2])
		var n int
		require.NoError(t, h.Store.Pool().QueryRow(t.Context(), `SELECT count(*) FROM outbox`).Scan(&n))
		assert.Equal(t, 3, n)
	})
	t.Run("a push that makes its preparation panic fails alone", func(t *testing.T) {
		h := newPushHost(t, 0)
		waiting, release := holdPersons(t, h)
		var wg sync.WaitGroup
		wg.Go(func() {
			_, err := h.Accept(context.Background(), connectors.Push{Caller: "690123", Facts: []connectors.Fact{measureFact(t, "P0", 1, "EN_COURS")}})
			assert.NoError(t, err)
		})
		waiting()
		errs := make([]error, 3)
		for i, f := range []connectors.Fact{measureFact(t, "P1", 1, "EN_COURS"), {Messages: []*canonical.Message{nil}}, measureFact(t, "P2", 1, "EN_COURS")} {
			wg.Go(func() {
				_, errs[i] = h.Accept(context.Background(), connectors.Push{Caller: "750010", Facts: []connectors.Fact{f}})
			})
		}
		queued(h, 3)
		release()
		wg.Wait()
		assert.NoError(t, errs[0])
		assert.ErrorIs(t, errs[1], errGroupPanic)
		assert.NoError(t, errs[2])
	})
}
