package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/canonical"
	"passerelle/internal/pgtest"
)

func newStore(t *testing.T, opts Options) *Store {
	t.Helper()
	s, err := Open(t.Context(), pgtest.NewDatabase(t), opts)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

func msg(ref string, version int64, data string) *canonical.Message {
	return &canonical.Message{
		SpecVersion: "1.0", ID: uuid.NewString(), Source: "/connectors/test", Type: "fr.justice.measure.v1",
		Time: time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC), Subject: "person-1", DataSchema: "urn:passerelle:schema:measure:v1",
		DataContentType: "application/json", FactSystem: "APPI", FactRef: ref, FactVersion: version, Data: json.RawMessage(data),
	}
}

func targets(string) []Target {
	return []Target{{Route: "appi-to-prisme", Destination: "prisme", LegalBasis: "CPP R57-4"}, {Route: "appi-to-archive", Destination: "archive", LegalBasis: "x"}}
}

func ptr(s string) *string { return &s }

func count(t *testing.T, s *Store, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, s.pool.QueryRow(t.Context(), sql, args...).Scan(&n))
	return n
}

func TestIngest(t *testing.T) {
	s := newStore(t, Options{})
	ctx := t.Context()

	first := msg("mesure/1", 5, `{"v":5}`)
	res, err := s.Ingest(ctx, s.pool, IngestBatch{Connector: "appi", Messages: []*canonical.Message{first}, Checkpoint: ptr("5"), Targets: targets})
	require.NoError(t, err)
	assert.Equal(t, Accepted, res.Outcomes[0].Outcome)

	t.Run("the same version again is a duplicate pointing at the original", func(t *testing.T) {
		res, err := s.Ingest(ctx, s.pool, IngestBatch{Connector: "appi", Messages: []*canonical.Message{msg("mesure/1", 5, `{"v":5}`)}, Targets: targets})
		require.NoError(t, err)
		assert.Equal(t, Duplicate, res.Outcomes[0].Outcome)
		assert.Equal(t, first.ID, res.Outcomes[0].Current.String())
	})
	t.Run("an older version is stale and goes no further", func(t *testing.T) {
		res, err := s.Ingest(ctx, s.pool, IngestBatch{Connector: "appi", Messages: []*canonical.Message{msg("mesure/1", 3, `{"v":3}`)}, Targets: targets})
		require.NoError(t, err)
		assert.Equal(t, Stale, res.Outcomes[0].Outcome)
		assert.Equal(t, 1, count(t, s, `SELECT count(*) FROM outbox WHERE fact_ref = 'mesure/1'`))
	})
	t.Run("the same version with another content is a conflict, quarantined", func(t *testing.T) {
		res, err := s.Ingest(ctx, s.pool, IngestBatch{Connector: "appi", Messages: []*canonical.Message{msg("mesure/1", 5, `{"v":"other"}`)}, Targets: targets})
		require.NoError(t, err)
		assert.Equal(t, Conflict, res.Outcomes[0].Outcome)
		require.Len(t, res.Quarantined, 1)
		q, err := s.QuarantineByID(ctx, res.Quarantined[0])
		require.NoError(t, err)
		assert.Equal(t, "ingest", q.Stage)
		assert.Contains(t, q.Reason, "version 5 again with a different content")
	})
	t.Run("a newer version is accepted, with a pending delivery per destination", func(t *testing.T) {
		m := msg("mesure/1", 9, `{"v":9}`)
		res, err := s.Ingest(ctx, s.pool, IngestBatch{Connector: "appi", Messages: []*canonical.Message{m}, Checkpoint: ptr("9"), Targets: targets})
		require.NoError(t, err)
		assert.Equal(t, Accepted, res.Outcomes[0].Outcome)
		assert.Equal(t, 2, count(t, s, `SELECT count(*) FROM deliveries WHERE message_id = $1 AND status = 'pending'`, m.ID))
		var key string
		require.NoError(t, s.pool.QueryRow(ctx, `SELECT idempotency_key FROM deliveries WHERE message_id = $1 LIMIT 1`, m.ID).Scan(&key))
		assert.Equal(t, m.IdempotencyKey(), key)
		pos, ok, err := s.Checkpoint(ctx, "appi")
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, "9", pos)
	})
	t.Run("within one batch, duplicates and older versions are decided in order", func(t *testing.T) {
		batch := []*canonical.Message{msg("mesure/2", 1, `{"a":1}`), msg("mesure/2", 2, `{"a":2}`), msg("mesure/2", 2, `{"a":2}`), msg("mesure/2", 1, `{"a":1}`)}
		res, err := s.Ingest(ctx, s.pool, IngestBatch{Connector: "appi", Messages: batch, Targets: targets})
		require.NoError(t, err)
		got := []Outcome{res.Outcomes[0].Outcome, res.Outcomes[1].Outcome, res.Outcomes[2].Outcome, res.Outcomes[3].Outcome}
		assert.Equal(t, []Outcome{Accepted, Accepted, Duplicate, Stale}, got)
		var v int64
		require.NoError(t, s.pool.QueryRow(ctx, `SELECT version FROM dedup WHERE fact_ref = 'mesure/2'`).Scan(&v))
		assert.EqualValues(t, 2, v)
	})
	t.Run("rejections are quarantined with their bytes and violations, not their values", func(t *testing.T) {
		raw := []byte(`{"nom":"CANARY-DUPONT"}`)
		res, err := s.Ingest(ctx, s.pool, IngestBatch{Connector: "appi", Rejections: []Rejection{{
			Stage: "validate", Reason: "/data/person/birthDate: format", Raw: raw, ContentType: "application/json",
			Violations: []Violation{{Pointer: "/data/person/birthDate", Keyword: "format"}},
		}}})
		require.NoError(t, err)
		q, err := s.QuarantineByID(ctx, res.Quarantined[0])
		require.NoError(t, err)
		assert.Equal(t, raw, q.Raw)
		assert.Equal(t, []Violation{{Pointer: "/data/person/birthDate", Keyword: "format"}}, q.Violations)
		assert.Equal(t, "open", q.Status)
	})
	t.Run("a message that no route carries is settled at once", func(t *testing.T) {
		m := msg("mesure/3", 1, `{}`)
		_, err := s.Ingest(ctx, s.pool, IngestBatch{Connector: "appi", Messages: []*canonical.Message{m}})
		require.NoError(t, err)
		assert.Equal(t, 1, count(t, s, `SELECT count(*) FROM outbox WHERE id = $1`, m.ID))
		assert.Equal(t, 0, count(t, s, `SELECT count(*) FROM deliveries WHERE message_id = $1`, m.ID), "no delivery waits for it")
	})
	t.Run("every act is audited and the chain verifies", func(t *testing.T) {
		assert.Positive(t, count(t, s, `SELECT count(*) FROM audit WHERE action = 'ingest' AND outcome = 'stale'`))
		v, err := s.VerifyAudit(ctx)
		require.NoError(t, err)
		assert.Nil(t, v.Problem)
		assert.EqualValues(t, count(t, s, `SELECT count(*) FROM audit`), v.Rows)
	})
}

func TestLease(t *testing.T) {
	s := newStore(t, Options{})
	ctx := t.Context()

	t.Run("a second process waits while the first holds the source", func(t *testing.T) {
		l1, err := s.AcquireLease(ctx, "genesis", 20*time.Millisecond)
		require.NoError(t, err)
		short, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
		_, err = s.AcquireLease(short, "genesis", 20*time.Millisecond)
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded)
		l1.Release()
		l2, err := s.AcquireLease(ctx, "genesis", 20*time.Millisecond)
		require.NoError(t, err)
		require.NoError(t, l2.Check(ctx))
		l2.Release()
	})
	t.Run("a source whose session died cannot commit, and another process takes over", func(t *testing.T) {
		l1, err := s.AcquireLease(ctx, "appi", 20*time.Millisecond)
		require.NoError(t, err)
		var pid int
		require.NoError(t, l1.conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid))
		_, err = s.pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid)
		require.NoError(t, err)

		_, err = s.Ingest(ctx, l1, IngestBatch{Connector: "appi", Messages: []*canonical.Message{msg("mesure/9", 1, `{}`)}, Checkpoint: ptr("1")})
		require.Error(t, err)
		require.ErrorIs(t, err, ErrLeaseLost)
		_, ok, err := s.Checkpoint(ctx, "appi")
		require.NoError(t, err)
		assert.False(t, ok, "nothing was committed")
		require.Error(t, l1.Check(ctx))
		l1.Release()

		l2, err := s.AcquireLease(ctx, "appi", 20*time.Millisecond)
		require.NoError(t, err)
		defer l2.Release()
		_, err = s.Ingest(ctx, l2, IngestBatch{Connector: "appi", Messages: []*canonical.Message{msg("mesure/9", 1, `{}`)}, Checkpoint: ptr("1")})
		require.NoError(t, err)
	})
}

func TestDeliveries(t *testing.T) {
	s := newStore(t, Options{})
	ctx := t.Context()
	v1, v2 := msg("mesure/1", 1, `{"v":1}`), msg("mesure/1", 2, `{"v":2}`)
	_, err := s.Ingest(ctx, s.pool, IngestBatch{Connector: "appi", Messages: []*canonical.Message{v1, v2}, Targets: targets})
	require.NoError(t, err)
	id1, id2 := uuid.MustParse(v1.ID), uuid.MustParse(v2.ID)

	t.Run("the relay sees both, in acceptance order, until published", func(t *testing.T) {
		un, err := s.Unpublished(ctx, 0, 10)
		require.NoError(t, err)
		require.Len(t, un, 2)
		assert.Equal(t, v1.ID, un[0].Message.ID)
		assert.JSONEq(t, `{"v":1}`, string(un[0].Message.Data))
		assert.Equal(t, v1.IdempotencyKey(), un[0].Message.IdempotencyKey())
		require.NoError(t, s.MarkPublished(ctx, []int64{un[0].Seq, un[1].Seq}))
		un, err = s.Unpublished(ctx, 0, 10)
		require.NoError(t, err)
		assert.Empty(t, un)
	})
	t.Run("an older version knows a newer one waits", func(t *testing.T) {
		st, err := s.DeliveryStates(ctx, "prisme", []uuid.UUID{id1, id2}, true)
		require.NoError(t, err)
		assert.True(t, st[id1].NewerPending, "v2 waits for prisme")
		assert.False(t, st[id1].NewerDelivered)
		assert.False(t, st[id2].NewerPending, "nothing newer than v2")
		st, err = s.DeliveryStates(ctx, "prisme", []uuid.UUID{id1}, false)
		require.NoError(t, err)
		assert.False(t, st[id1].NewerPending, "not asked: not answered")
		assert.Equal(t, StatusPending, st[id1].Status)
	})
	t.Run("an older version is recognised once a newer one was delivered", func(t *testing.T) {
		record(t, s, []DeliveryOutcome{{MessageID: id2, Destination: "prisme", Route: "appi-to-prisme",
			Status: StatusDelivered, Attempts: 1, Receipt: json.RawMessage(`{"id":"A-1"}`), ReceiptRef: "A-1"}})
		st, err := s.DeliveryStates(ctx, "prisme", []uuid.UUID{id1, id2}, true)
		require.NoError(t, err)
		assert.True(t, st[id1].NewerDelivered)
		assert.False(t, st[id1].NewerPending, "v2 no longer waits")
		assert.Equal(t, StatusPending, st[id1].Status)
		assert.Equal(t, StatusDelivered, st[id2].Status)
		st, err = s.DeliveryStates(ctx, "nowhere", []uuid.UUID{id1}, true)
		require.NoError(t, err)
		assert.Empty(t, st, "a destination that no route names has no delivery rows")
	})
	t.Run("an outcome recorded twice keeps the first", func(t *testing.T) {
		audited := count(t, s, `SELECT count(*) FROM audit`)
		assert.Equal(t, []bool{false}, record(t, s, []DeliveryOutcome{{MessageID: id2, Destination: "prisme", Status: StatusQuarantined, Error: "x"}}),
			"the second outcome changed nothing, and says so")
		assert.Equal(t, audited, count(t, s, `SELECT count(*) FROM audit`), "nor is it audited")
		st, err := s.DeliveryStates(ctx, "prisme", []uuid.UUID{id2}, true)
		require.NoError(t, err)
		assert.Equal(t, StatusDelivered, st[id2].Status)
		assert.Equal(t, 0, count(t, s, `SELECT count(*) FROM quarantine WHERE stage = 'deliver'`))
	})
	t.Run("a message is settled when every destination has an outcome", func(t *testing.T) {
		b, err := s.Backlog(ctx)
		require.NoError(t, err)
		assert.Equal(t, int64(2), b.Unsettled, "v1 waits at both destinations, v2 at archive")
		// The same message fetched twice before its first outcome was written: two
		// outcomes in one batch, and one of them takes effect.
		audited := count(t, s, `SELECT count(*) FROM audit`)
		recorded := record(t, s, []DeliveryOutcome{{MessageID: id2, Destination: "archive", Status: StatusDelivered},
			{MessageID: id2, Destination: "archive", Status: StatusDelivered}})
		assert.ElementsMatch(t, []bool{true, false}, recorded, "one of the two changed the delivery")
		assert.Equal(t, audited+1, count(t, s, `SELECT count(*) FROM audit`), "and only it is audited")
		b, err = s.Backlog(ctx)
		require.NoError(t, err)
		assert.Equal(t, int64(1), b.Unsettled, "only v1 still waits")
		assert.Equal(t, map[string]int64{"prisme": 1, "archive": 1}, b.Pending)
	})
	t.Run("the sweeper finds published messages still unsettled after a while", func(t *testing.T) {
		un, err := s.Unsettled(ctx, time.Minute, 10)
		require.NoError(t, err)
		assert.Empty(t, un, "published a moment ago: the deliverers may still be at it")
		_, err = s.pool.Exec(ctx, `UPDATE outbox_state SET published_at = now() - interval '10 minutes'`)
		require.NoError(t, err)
		_, err = s.pool.Exec(ctx, `UPDATE deliveries SET created_at = now() - interval '10 minutes'`)
		require.NoError(t, err)
		un, err = s.Unsettled(ctx, time.Minute, 10)
		require.NoError(t, err)
		require.Len(t, un, 1, "the message every destination recorded goes no more")
		assert.Equal(t, v1.ID, un[0].Message.ID)
	})
	t.Run("a permanent failure is quarantined, and replay sends it back to the relay", func(t *testing.T) {
		raw, _ := json.Marshal(v1)
		record(t, s, []DeliveryOutcome{{MessageID: id1, Destination: "prisme", Route: "appi-to-prisme",
			Status: StatusQuarantined, Attempts: 1, Error: "prisme: 422 /personne/dateNaissance: format", Raw: raw}})
		items, err := s.ListQuarantine(ctx, QuarantineFilter{Stage: "deliver"})
		require.NoError(t, err)
		require.Len(t, items, 1)
		q := items[0]
		assert.Equal(t, "prisme", q.Destination)
		assert.Equal(t, "mesure/1", q.FactRef)
		require.NoError(t, s.ReplayDelivery(ctx, q, "operator:alice"))
		st, err := s.DeliveryStates(ctx, "prisme", []uuid.UUID{id1}, true)
		require.NoError(t, err)
		assert.Equal(t, StatusPending, st[id1].Status)
		un, err := s.Unpublished(ctx, 0, 10)
		require.NoError(t, err)
		require.Len(t, un, 1)
		assert.Equal(t, v1.ID, un[0].Message.ID)
		q, err = s.QuarantineByID(ctx, q.ID)
		require.NoError(t, err)
		assert.Equal(t, "replayed", q.Status)
		require.Error(t, s.ReplayDelivery(ctx, q, "operator:alice"), "a replayed item cannot be replayed twice")
		assert.Equal(t, 1, count(t, s, `SELECT count(*) FROM audit WHERE action = 'replay' AND actor = 'operator:alice'`))
	})
	t.Run("superseded is an outcome", func(t *testing.T) {
		record(t, s, []DeliveryOutcome{{MessageID: id1, Destination: "prisme", Status: StatusSuperseded}})
		st, err := s.DeliveryStates(ctx, "prisme", []uuid.UUID{id1}, true)
		require.NoError(t, err)
		assert.Equal(t, StatusSuperseded, st[id1].Status)
	})
}

func TestAuditTampering(t *testing.T) {
	cases := []struct {
		name    string
		tamper  string
		wantSeq int64
		reason  string
	}{
		{"an altered row is named", `UPDATE audit SET outcome = 'delivered' WHERE seq = 4`, 4, "altered"},
		{"a deleted row is named", `DELETE FROM audit WHERE seq = 5`, 5, "deleted"},
		// Rows 6.. move up by one (through negative numbers, the key being unique) and a
		// forged row takes seq 6, linked to row 5.
		{"an inserted row is named", `UPDATE audit SET seq = -seq WHERE seq >= 6; UPDATE audit SET seq = -seq + 1 WHERE seq < 0;
			INSERT INTO audit (seq, at, actor, action, outcome, prev_hash, hash)
			SELECT 6, now(), 'x', 'deliver', 'delivered', hash, hash FROM audit WHERE seq = 5`, 6, "forged"},
	}
	for _, keyed := range []bool{false, true} {
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s (keyed %v)", c.name, keyed), func(t *testing.T) {
				opts := Options{}
				if keyed {
					opts.AuditKey = []byte("k")
				}
				s := newStore(t, opts)
				for i := range 10 {
					require.NoError(t, s.Audit(t.Context(), AuditEntry{Actor: "test", Action: "deliver", Outcome: "ok", Reference: fmt.Sprint(i)}))
				}
				v, err := s.VerifyAudit(t.Context())
				require.NoError(t, err)
				require.Nil(t, v.Problem)
				assert.EqualValues(t, 10, v.Rows)
				_, err = s.pool.Exec(t.Context(), c.tamper)
				require.NoError(t, err)
				v, err = s.VerifyAudit(t.Context())
				require.NoError(t, err)
				require.NotNil(t, v.Problem, "tampering must be detected")
				assert.Equal(t, c.wantSeq, v.Problem.Seq)
				assert.Contains(t, v.Problem.Reason, c.reason)
			})
		}
	}
}

func TestResolvePersons(t *testing.T) {
	s := newStore(t, Options{})
	ctx := t.Context()
	ecrou := Identifier{System: "ECROU", Value: "24-0412@FR0690"}
	appi := Identifier{System: "APPI", Value: "202312345678"}
	ids, err := s.ResolvePersons(ctx, [][]Identifier{{ecrou}, {appi}})
	require.NoError(t, err)
	assert.NotEqual(t, ids[0], ids[1], "two unrelated identifiers are two people")

	again, err := s.ResolvePersons(ctx, [][]Identifier{{Identifier{System: "APPI", Value: "2024"}, ecrou}})
	require.NoError(t, err)
	assert.Equal(t, ids[0], again[0], "a known identifier finds its person and links the new one")
	third, err := s.ResolvePersons(ctx, [][]Identifier{{Identifier{System: "APPI", Value: "2024"}}})
	require.NoError(t, err)
	assert.Equal(t, ids[0], third[0])

	both, err := s.ResolvePersons(ctx, [][]Identifier{{{System: "PRISME", Value: "D-1"}}, {{System: "PRISME", Value: "D-1"}}})
	require.NoError(t, err)
	assert.Equal(t, both[0], both[1], "the same new identifier twice in a batch is one person")
}

func TestQuarantineUnpublishable(t *testing.T) {
	s := newStore(t, Options{})
	ctx := t.Context()
	m := msg("mesure/big", 1, `{"huge":true}`)
	_, err := s.Ingest(ctx, s.pool, IngestBatch{Connector: "appi", Messages: []*canonical.Message{m}, Targets: targets})
	require.NoError(t, err)
	require.NoError(t, s.QuarantineUnpublishable(ctx, []*canonical.Message{m}, "the broker refused the message: too large"))

	un, err := s.Unpublished(ctx, 0, 10)
	require.NoError(t, err)
	assert.Empty(t, un, "the relay is not blocked by it any more")
	assert.Equal(t, 2, count(t, s, `SELECT count(*) FROM deliveries WHERE message_id = $1 AND status = 'quarantined'`, m.ID))
	items, err := s.ListQuarantine(ctx, QuarantineFilter{Stage: "publish"})
	require.NoError(t, err)
	require.Len(t, items, 1)
	assert.Equal(t, "mesure/big", items[0].FactRef)

	require.NoError(t, s.ReplayDelivery(ctx, items[0], "operator:bob"))
	assert.Equal(t, 2, count(t, s, `SELECT count(*) FROM deliveries WHERE message_id = $1 AND status = 'pending'`, m.ID),
		"a replay sends it back to every destination it was pending for")
	un, err = s.Unpublished(ctx, 0, 10)
	require.NoError(t, err)
	assert.Len(t, un, 1)
}

// record records outcomes and returns which of them changed a delivery.
func record(t *testing.T, s *Store, outs []DeliveryOutcome) []bool {
	t.Helper()
	recorded, err := s.RecordDeliveries(t.Context(), outs)
	require.NoError(t, err)
	require.Len(t, recorded, len(outs))
	return recorded
}

// TestTheHubsSessionsArePlannedForBatches: every connection of the pool gets the
// planner settings the hub's statements are written for, unless its URL says otherwise.
func TestTheHubsSessionsArePlannedForBatches(t *testing.T) {
	url := pgtest.NewDatabase(t)
	show := func(s *Store, name string) string {
		var v string
		require.NoError(t, s.pool.QueryRow(t.Context(), "SHOW "+name).Scan(&v))
		return v
	}
	s, err := Open(t.Context(), url, Options{})
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, "force_custom_plan", show(s, "plan_cache_mode"))
	assert.Equal(t, "1.1", show(s, "random_page_cost"))
	assert.Equal(t, "0", show(s, "max_parallel_workers_per_gather"))

	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	s2, err := Open(t.Context(), url+sep+"max_parallel_workers_per_gather=2", Options{})
	require.NoError(t, err)
	defer s2.Close()
	assert.Equal(t, "2", show(s2, "max_parallel_workers_per_gather"), "the URL's own setting wins")
}
