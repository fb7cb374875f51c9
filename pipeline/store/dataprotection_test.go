package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/canonical"
	"passerelle/internal/pgtest"
)

func TestIdentityReview(t *testing.T) {
	s := newStore(t, Options{})
	ctx := t.Context()
	key := Identifier{System: NameKeySystem, Value: "k-dupont-1990"}
	resolve := func(ids ...Identifier) string {
		t.Helper()
		out, err := s.ResolvePersons(ctx, [][]Identifier{ids})
		require.NoError(t, err)
		return out[0]
	}
	p1 := resolve(Identifier{System: "APPI", Value: "202300000001"}, key)

	t.Run("same name and birth date with another APPI file is a new person, listed for review", func(t *testing.T) {
		p2 := resolve(Identifier{System: "APPI", Value: "202300000002"}, key)
		assert.NotEqual(t, p1, p2, "never merged silently")
		assert.Equal(t, p2, resolve(Identifier{System: "APPI", Value: "202300000002"}), "its own identifier finds the new person")
		reviews, err := s.ListIdentityReviews(ctx, ReviewOpen)
		require.NoError(t, err)
		require.Len(t, reviews, 1)
		r := reviews[0]
		assert.Equal(t, p1, r.PersonA)
		assert.Equal(t, p2, r.PersonB)
		assert.Equal(t, "same name and birth date, different APPI identifiers", r.Reason, "the reason names systems, never values")
		assert.Equal(t, []Identifier{{System: "APPI", Value: "202300000001"}}, r.IdentsA)
		assert.Equal(t, []Identifier{{System: "APPI", Value: "202300000002"}}, r.IdentsB)
		assert.Equal(t, 1, count(t, s, `SELECT count(*) FROM audit WHERE action = 'identity-doubt' AND reference = $1`, fmt.Sprintf("identity-review:%d", r.ID)))
	})
	t.Run("a new écrou number with the same name and birth date is the same person (a new committal)", func(t *testing.T) {
		assert.Equal(t, p1, resolve(Identifier{System: "ECROU", Value: "24-1@FR0690"}, key))
		assert.Equal(t, p1, resolve(Identifier{System: "ECROU", Value: "25-9@FR0131"}, key))
		assert.Equal(t, p1, resolve(key), "the name and birth date alone find the person")
	})
	t.Run("a doubtful match within one batch is caught too", func(t *testing.T) {
		k := Identifier{System: NameKeySystem, Value: "k-martin-1985"}
		out, err := s.ResolvePersons(ctx, [][]Identifier{{{System: "PRISME", Value: "D-1"}, k}, {{System: "PRISME", Value: "D-2"}, k}})
		require.NoError(t, err)
		assert.NotEqual(t, out[0], out[1])
	})
	t.Run("an operator links the two: the second's identifiers lead to the first, audited", func(t *testing.T) {
		reviews, err := s.ListIdentityReviews(ctx, ReviewOpen)
		require.NoError(t, err)
		require.Len(t, reviews, 2)
		r := reviews[0]
		require.NoError(t, s.DecideIdentityReview(ctx, r.ID, ReviewLinked, "operator:alice"))
		assert.Equal(t, p1, resolve(Identifier{System: "APPI", Value: "202300000002"}))
		linked, err := s.LinkedPersons(ctx, r.PersonB)
		require.NoError(t, err)
		assert.ElementsMatch(t, []string{r.PersonA, r.PersonB}, linked)
		err = s.DecideIdentityReview(ctx, r.ID, ReviewApart, "operator:bob")
		require.ErrorIs(t, err, ErrAlreadyDecided)
		assert.Equal(t, 1, count(t, s, `SELECT count(*) FROM audit WHERE action = 'identity-linked' AND actor = 'operator:alice'`))
		require.ErrorIs(t, s.DecideIdentityReview(ctx, 999, ReviewApart, "operator:bob"), ErrNotFound)
	})
	t.Run("or keeps them apart", func(t *testing.T) {
		reviews, err := s.ListIdentityReviews(ctx, ReviewOpen)
		require.NoError(t, err)
		require.Len(t, reviews, 1)
		require.NoError(t, s.DecideIdentityReview(ctx, reviews[0].ID, ReviewApart, "operator:bob"))
		linked, err := s.LinkedPersons(ctx, reviews[0].PersonB)
		require.NoError(t, err)
		assert.Equal(t, []string{reviews[0].PersonB}, linked)
		all, err := s.ListIdentityReviews(ctx, "all")
		require.NoError(t, err)
		assert.Len(t, all, 2)
		v, err := s.VerifyAudit(ctx)
		require.NoError(t, err)
		assert.Nil(t, v.Problem)
	})
}

// personMsg is a message about person.
func personMsg(ref, person string) *canonical.Message {
	m := msg(ref, 1, `{"person":{"lastName":"CANARY-NAME"}}`)
	m.Subject = person
	return m
}

func TestSubjectExport(t *testing.T) {
	s := newStore(t, Options{})
	ctx := t.Context()
	person, other := uuid.NewString(), uuid.NewString()
	_, err := s.pool.Exec(ctx, `INSERT INTO identities (system, identifier, person_id) VALUES
		('APPI', '202300000001', $1), ('PERSON_KEY', 'k', $1), ('APPI', '202300000009', $2)`, person, other)
	require.NoError(t, err)
	m1, m2, m3 := personMsg("mesure/1", person), personMsg("mesure/2", person), personMsg("mesure/3", other)
	_, err = s.Ingest(ctx, s.pool, IngestBatch{Connector: "appi", Messages: []*canonical.Message{m1, m2, m3}, Targets: targets})
	require.NoError(t, err)
	id1, id2 := uuid.MustParse(m1.ID), uuid.MustParse(m2.ID)
	record(t, s, []DeliveryOutcome{
		{MessageID: id1, Destination: "prisme", Route: "appi-to-prisme", LegalBasis: "CPP R57-4 — suivi", Status: StatusDelivered,
			Attempts: 1, Receipt: json.RawMessage(`{"dossierId":"D-1"}`), ReceiptRef: "R-1"},
		{MessageID: id1, Destination: "archive", Route: "appi-to-archive", LegalBasis: "x", Status: StatusDelivered, Attempts: 2, ReceiptRef: "R-2"},
		{MessageID: id2, Destination: "prisme", Route: "appi-to-prisme", LegalBasis: "CPP R57-4 — suivi", Status: StatusQuarantined,
			Attempts: 1, Error: "prisme: 422 /personne/dateNaissance: format", Raw: []byte(`{}`)},
	})

	exp, err := s.ExportSubject(ctx, SubjectQuery{System: "APPI", Value: "202300000001"}, "operator:alice")
	require.NoError(t, err)
	assert.Equal(t, []string{person}, exp.Persons)
	assert.Equal(t, []SubjectIdentifier{{System: "APPI", Value: "202300000001"}}, exp.Identifiers, "the name key is not an identifier to show")
	require.Len(t, exp.Facts, 2, "the other person's fact is not listed")
	f := exp.Facts[0]
	assert.Equal(t, id1, f.MessageID)
	assert.Equal(t, "appi", f.Connector)
	assert.Equal(t, "mesure/1", f.FactRef)
	assert.Empty(t, f.Data, "data only when asked for")
	require.Len(t, f.Deliveries, 2)
	d := f.Deliveries[1] // by destination: archive, prisme
	assert.Equal(t, "prisme", d.Destination)
	assert.Equal(t, StatusDelivered, d.Status)
	assert.Equal(t, "CPP R57-4 — suivi", d.LegalBasis)
	assert.Equal(t, "R-1", d.ReceiptRef)
	assert.JSONEq(t, `{"dossierId":"D-1"}`, string(d.Receipt))
	g := exp.Facts[1]
	require.Len(t, g.Deliveries, 2)
	assert.Equal(t, "pending", g.Deliveries[0].Status, "archive has not answered yet")
	assert.Equal(t, StatusQuarantined, g.Deliveries[1].Status)
	require.Len(t, g.Quarantined, 1)
	assert.Contains(t, g.Quarantined[0].Reason, "422")

	t.Run("every export is audited, with references only", func(t *testing.T) {
		var actor, outcome, ref, basis string
		require.NoError(t, s.pool.QueryRow(ctx, `SELECT actor, outcome, reference, legal_basis FROM audit WHERE action = 'subject-export'`).
			Scan(&actor, &outcome, &ref, &basis))
		assert.Equal(t, "operator:alice", actor)
		assert.Equal(t, "exported", outcome)
		assert.Equal(t, "persons:"+person, ref)
		assert.Contains(t, basis, "2016/680")
	})
	t.Run("with data, the canonical data still held", func(t *testing.T) {
		exp, err := s.ExportSubject(ctx, SubjectQuery{Person: person, WithData: true}, "operator:alice")
		require.NoError(t, err)
		assert.JSONEq(t, `{"person":{"lastName":"CANARY-NAME"}}`, string(exp.Facts[0].Data))
	})
	t.Run("a person not found gives an empty export, audited", func(t *testing.T) {
		exp, err := s.ExportSubject(ctx, SubjectQuery{System: "APPI", Value: "nobody"}, "operator:bob")
		require.NoError(t, err)
		assert.Empty(t, exp.Facts)
		assert.Equal(t, 1, count(t, s, `SELECT count(*) FROM audit WHERE action = 'subject-export' AND actor = 'operator:bob'
			AND outcome = 'not-found' AND reference = 'query:APPI'`))
		exp, err = s.ExportSubject(ctx, SubjectQuery{Person: uuid.NewString()}, "operator:bob")
		require.NoError(t, err)
		assert.Empty(t, exp.Persons, "a person id the hub never knew")
	})
	t.Run("no audit row carries the data or the query's value", func(t *testing.T) {
		assert.Equal(t, 0, count(t, s, `SELECT count(*) FROM audit WHERE concat_ws('|', actor, action, route, destination,
			legal_basis, outcome, reference) ~ '(CANARY|202300000001|nobody)'`))
	})
}

func TestRetention(t *testing.T) {
	s := newStore(t, Options{})
	ctx := t.Context()
	real := s.now
	p := Retention{Payloads: 30 * 24 * time.Hour, Quarantine: 180 * 24 * time.Hour, Audit: 3 * 365 * 24 * time.Hour}

	// Four years ago: a fact delivered to both destinations (its audit rows are then
	// four years old too, as the chain recorded them).
	s.now = func() time.Time { return real().Add(-4 * 365 * 24 * time.Hour) }
	old := msg("mesure/old", 1, `{"v":"old"}`)
	_, err := s.Ingest(ctx, s.pool, IngestBatch{Connector: "appi", Messages: []*canonical.Message{old}, Targets: targets})
	require.NoError(t, err)
	oldID := uuid.MustParse(old.ID)
	record(t, s, []DeliveryOutcome{
		{MessageID: oldID, Destination: "prisme", Status: StatusDelivered, Receipt: json.RawMessage(`{"r":1}`), ReceiptRef: "R-old"},
		{MessageID: oldID, Destination: "archive", Status: StatusDelivered}})
	s.now = real

	ms := map[string]*canonical.Message{}
	for _, ref := range []string{"delivered-40d", "delivered-10d", "quarantined-40d", "quarantined-200d", "pending-400d"} {
		ms[ref] = msg(ref, 1, `{"v":"`+ref+`"}`)
	}
	_, err = s.Ingest(ctx, s.pool, IngestBatch{Connector: "appi", Messages: []*canonical.Message{ms["delivered-40d"], ms["delivered-10d"],
		ms["quarantined-40d"], ms["quarantined-200d"], ms["pending-400d"]}, Targets: targets,
		Rejections: []Rejection{{Stage: "decode", Reason: "old garbage", Raw: []byte("x")}, {Stage: "decode", Reason: "new garbage", Raw: []byte("y")}}})
	require.NoError(t, err)
	var outs []DeliveryOutcome
	for ref, m := range ms {
		if strings.HasPrefix(ref, "pending") {
			continue
		}
		prisme := DeliveryOutcome{MessageID: uuid.MustParse(m.ID), Destination: "prisme", Status: StatusDelivered, Receipt: json.RawMessage(`{"r":2}`)}
		if strings.HasPrefix(ref, "quarantined") {
			prisme.Status, prisme.Error, prisme.Raw, prisme.Receipt = StatusQuarantined, "refused", []byte(`{"raw":1}`), nil
		}
		outs = append(outs, prisme, DeliveryOutcome{MessageID: uuid.MustParse(m.ID), Destination: "archive", Status: StatusDelivered})
	}
	record(t, s, outs)
	age := func(ref, interval string) {
		t.Helper()
		_, err := s.pool.Exec(ctx, `UPDATE outbox SET accepted_at = now() - $2::interval WHERE fact_ref = $1`, ref, interval)
		require.NoError(t, err)
		_, err = s.pool.Exec(ctx, `UPDATE deliveries SET updated_at = now() - $2::interval WHERE fact_ref = $1`, ref, interval)
		require.NoError(t, err)
		_, err = s.pool.Exec(ctx, `UPDATE quarantine SET last_failed_at = now() - $2::interval WHERE fact_ref = $1`, ref, interval)
		require.NoError(t, err)
	}
	age("mesure/old", "4 years")
	age("delivered-40d", "40 days")
	age("delivered-10d", "10 days")
	age("quarantined-40d", "40 days")
	age("quarantined-200d", "200 days")
	_, err = s.pool.Exec(ctx, `UPDATE outbox SET accepted_at = now() - interval '400 days' WHERE fact_ref = 'pending-400d'`)
	require.NoError(t, err)
	_, err = s.pool.Exec(ctx, `UPDATE quarantine SET last_failed_at = now() - interval '200 days' WHERE reason = 'old garbage'`)
	require.NoError(t, err)
	auditBefore := count(t, s, `SELECT count(*) FROM audit`)
	oldAudit := count(t, s, `SELECT count(*) FROM audit WHERE at < now() - interval '3 years'`)
	require.Positive(t, oldAudit)

	has := func(ref string) bool {
		t.Helper()
		return count(t, s, `SELECT count(*) FROM outbox WHERE fact_ref = $1 AND data IS NOT NULL`, ref) == 1
	}
	want := RetentionReport{OutboxPayloads: 2, QuarantinedPayloads: 1, Receipts: 2, QuarantineBytes: 2, AuditRows: int64(oldAudit),
		Messages: 1, Deliveries: 2, QuarantineRows: 0}

	t.Run("a dry run counts what a run would purge, and purges nothing", func(t *testing.T) {
		rep, err := s.ApplyRetention(ctx, p, "operator:alice", true)
		require.NoError(t, err)
		w := want
		w.DryRun = true
		assert.Equal(t, w, rep)
		assert.True(t, has("delivered-40d"))
		assert.Equal(t, auditBefore+1, count(t, s, `SELECT count(*) FROM audit`), "only the dry run's own audit row")
		assert.Equal(t, 1, count(t, s, `SELECT count(*) FROM audit WHERE action = 'retention' AND outcome = 'dry-run' AND actor = 'operator:alice'`))
	})
	t.Run("a run purges payloads once delivered, quarantined ones later, and audit rows after the legal period", func(t *testing.T) {
		rep, err := s.ApplyRetention(ctx, p, "hub:retention", false)
		require.NoError(t, err)
		assert.Equal(t, want, rep)
		assert.False(t, has("delivered-40d"), "delivered 40 days ago: bytes purged")
		assert.True(t, has("delivered-10d"), "delivered 10 days ago: kept")
		assert.True(t, has("quarantined-40d"), "a quarantined delivery keeps its bytes for replay")
		assert.False(t, has("quarantined-200d"))
		assert.True(t, has("pending-400d"), "a fact not delivered yet is never purged")
		assert.Equal(t, 0, count(t, s, `SELECT count(*) FROM outbox WHERE fact_ref = 'mesure/old'`), "after the legal period, the row goes too")
		assert.Equal(t, 1, count(t, s, `SELECT count(*) FROM quarantine WHERE reason = 'new garbage' AND raw IS NOT NULL`))
		assert.Equal(t, 1, count(t, s, `SELECT count(*) FROM quarantine WHERE reason = 'old garbage' AND raw IS NULL`))
		assert.Equal(t, 1, count(t, s, `SELECT count(*) FROM quarantine WHERE fact_ref = 'quarantined-40d' AND raw IS NOT NULL`))
		assert.Equal(t, 0, count(t, s, `SELECT count(*) FROM audit WHERE at < now() - interval '3 years'`))
		assert.Equal(t, 1, count(t, s, `SELECT count(*) FROM audit_heads`))
		assert.Equal(t, 1, count(t, s, `SELECT count(*) FROM audit WHERE action = 'retention' AND outcome = 'purged' AND actor = 'hub:retention'`))
	})
	t.Run("the chain still verifies from its anchor, and keeps growing from it", func(t *testing.T) {
		v, err := s.VerifyAudit(ctx)
		require.NoError(t, err)
		require.Nil(t, v.Problem)
		assert.Equal(t, int64(oldAudit+1), v.First, "the first row kept follows the anchor")
		require.NoError(t, s.Audit(ctx, AuditEntry{Actor: "operator:alice", Action: "note", Outcome: "ok"}))
		v, err = s.VerifyAudit(ctx)
		require.NoError(t, err)
		require.Nil(t, v.Problem)
	})
	t.Run("a second run has nothing left to cut", func(t *testing.T) {
		rep, err := s.ApplyRetention(ctx, p, "hub:retention", false)
		require.NoError(t, err)
		assert.Zero(t, rep.AuditRows)
		v, err := s.VerifyAudit(ctx)
		require.NoError(t, err)
		require.Nil(t, v.Problem)
	})
	t.Run("the database refuses to cut recent audit rows, whoever asks", func(t *testing.T) {
		_, err := s.pool.Exec(ctx, `SELECT passerelle_cut_audit(now() - interval '10 days')`)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "younger than 180 days")
		_, err = s.ApplyRetention(ctx, Retention{Payloads: time.Hour, Quarantine: time.Hour, Audit: time.Hour}, "operator:mallory", false)
		require.Error(t, err)
	})
	t.Run("tampering after a purge is still detected", func(t *testing.T) {
		v, err := s.VerifyAudit(ctx)
		require.NoError(t, err)
		_, err = s.pool.Exec(ctx, `UPDATE audit SET outcome = 'forged' WHERE seq = $1`, v.First+1)
		require.NoError(t, err)
		v2, err := s.VerifyAudit(ctx)
		require.NoError(t, err)
		require.NotNil(t, v2.Problem)
		assert.Equal(t, v.First+1, v2.Problem.Seq)
		_, err = s.pool.Exec(ctx, `DELETE FROM audit WHERE seq = $1`, v.First)
		require.NoError(t, err)
		v3, err := s.VerifyAudit(ctx)
		require.NoError(t, err)
		require.NotNil(t, v3.Problem)
		assert.Equal(t, v.First, v3.Problem.Seq, "the first row after the anchor is missing")
	})
}

// TestHubRoleGrants connects as a login role of passerelle_hub, as `serve` runs in
// production, and shows that the audit log is append-only for it.
func TestHubRoleGrants(t *testing.T) {
	ctx := t.Context()
	dbURL := pgtest.NewDatabase(t)
	admin, err := Open(ctx, dbURL, Options{}) // the owner migrates
	require.NoError(t, err)
	defer admin.Close()
	login := fmt.Sprintf("passerelle_t%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
	_, err = admin.pool.Exec(ctx, `CREATE ROLE `+login+` LOGIN PASSWORD 'test-only' IN ROLE passerelle_hub`)
	require.NoError(t, err)
	t.Cleanup(func() {
		c, err := pgx.Connect(t.Context(), dbURL)
		if err == nil {
			_, _ = c.Exec(t.Context(), `DROP ROLE IF EXISTS `+login)
			_ = c.Close(t.Context())
		}
	})
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	u.User = url.UserPassword(login, "test-only")
	hub, err := Open(ctx, u.String(), Options{})
	require.NoError(t, err, "the hub's role starts on a migrated database")
	defer hub.Close()

	m := msg("mesure/1", 1, `{"v":1}`)
	_, err = hub.Ingest(ctx, hub.pool, IngestBatch{Connector: "appi", Messages: []*canonical.Message{m}, Targets: targets,
		Rejections: []Rejection{{Stage: "decode", Reason: "x", Raw: []byte("x")}}})
	require.NoError(t, err, "it ingests (outbox, deliveries, quarantine, audit appends)")
	record(t, hub, []DeliveryOutcome{{MessageID: uuid.MustParse(m.ID), Destination: "prisme", Status: StatusDelivered}})
	_, err = hub.ResolvePersons(ctx, [][]Identifier{{{System: "APPI", Value: "1"}}})
	require.NoError(t, err)
	_, err = hub.ApplyRetention(ctx, Retention{Payloads: time.Hour, Quarantine: time.Hour, Audit: 3 * 365 * 24 * time.Hour}, "hub:retention", false)
	require.NoError(t, err, "retention cuts the audit through the database function only")
	_, err = hub.ExportSubject(ctx, SubjectQuery{System: "APPI", Value: "1"}, "operator:alice")
	require.NoError(t, err)

	for _, stmt := range []string{
		`UPDATE audit SET outcome = 'forged' WHERE seq = 1`,
		`DELETE FROM audit WHERE seq = 1`,
		`TRUNCATE audit`,
		`INSERT INTO audit_heads (seq, hash) VALUES (1000, '\x00')`,
		`DELETE FROM audit_heads`,
		`DELETE FROM schema_migrations`,
	} {
		t.Run("the hub's role may not: "+stmt, func(t *testing.T) {
			_, err := hub.pool.Exec(ctx, stmt)
			var pgErr *pgconn.PgError
			require.True(t, errors.As(err, &pgErr), "refused: %v", err)
			assert.Equal(t, "42501", pgErr.Code, "insufficient_privilege")
		})
	}
	v, err := admin.VerifyAudit(ctx)
	require.NoError(t, err)
	assert.Nil(t, v.Problem)
	assert.Positive(t, v.Rows)
}

// TestAuditRowsSayWhoWhenWhyNeverData goes through every kind of act with canary
// personal data in the payloads, then reads the audit: each row names who acted, when,
// on which legal basis, towards whom and about which message, and none carries data.
func TestAuditRowsSayWhoWhenWhyNeverData(t *testing.T) {
	s := newStore(t, Options{})
	ctx := t.Context()
	canary := `{"person":{"lastName":"CANARYNAME","birthDate":"1901-02-03","address":"12 rue CANARYSTREET"}}`
	m1, m2 := msg("mesure/1", 1, canary), msg("mesure/2", 1, canary)
	_, err := s.Ingest(ctx, s.pool, IngestBatch{Connector: "appi", Messages: []*canonical.Message{m1, m2}, Targets: targets,
		Rejections: []Rejection{{Stage: "validate", Reason: "invalid canonical message: /data/person/birthDate: format", Raw: []byte(canary)}}})
	require.NoError(t, err)
	record(t, s, []DeliveryOutcome{
		{MessageID: uuid.MustParse(m1.ID), Destination: "prisme", Route: "appi-to-prisme", LegalBasis: "CPP R57-4", Status: StatusDelivered, ReceiptRef: "R-1"},
		{MessageID: uuid.MustParse(m1.ID), Destination: "archive", Route: "appi-to-archive", LegalBasis: "x", Status: StatusSuperseded},
		{MessageID: uuid.MustParse(m2.ID), Destination: "prisme", Route: "appi-to-prisme", LegalBasis: "CPP R57-4", Status: StatusQuarantined,
			Error: "prisme: 422 /personne/adresse: maxLength", Raw: []byte(canary)},
	})
	items, err := s.ListQuarantine(ctx, QuarantineFilter{Stage: "deliver"})
	require.NoError(t, err)
	require.NoError(t, s.ReplayDelivery(ctx, items[0], "operator:alice"))
	k := Identifier{System: NameKeySystem, Value: "k"}
	_, err = s.ResolvePersons(ctx, [][]Identifier{{{System: "APPI", Value: "1"}, k}, {{System: "APPI", Value: "2"}, k}})
	require.NoError(t, err)
	_, err = s.ExportSubject(ctx, SubjectQuery{System: "APPI", Value: "1"}, "operator:alice")
	require.NoError(t, err)
	_, err = s.ApplyRetention(ctx, Retention{Payloads: time.Hour, Quarantine: time.Hour, Audit: 3 * 365 * 24 * time.Hour}, "hub:retention", false)
	require.NoError(t, err)

	rows, err := s.pool.Query(ctx, `SELECT seq, at, actor, action, message_id, coalesce(route, ''), coalesce(destination, ''),
		coalesce(legal_basis, ''), outcome, coalesce(reference, '') FROM audit ORDER BY seq`)
	require.NoError(t, err)
	defer rows.Close()
	actions := map[string]bool{}
	for rows.Next() {
		var seq int64
		var at time.Time
		var actor, action, route, dest, basis, outcome, ref string
		var mid *uuid.UUID
		require.NoError(t, rows.Scan(&seq, &at, &actor, &action, &mid, &route, &dest, &basis, &outcome, &ref))
		actions[action] = true
		row := fmt.Sprintf("row %d (%s)", seq, action)
		assert.NotEmpty(t, actor, "%s: who acted", row)
		assert.NotEmpty(t, outcome, row)
		assert.WithinDuration(t, time.Now(), at, time.Minute, "%s: when", row)
		for _, v := range []string{actor, action, route, dest, basis, outcome, ref} {
			assert.NotContains(t, v, "CANARY", "%s carries data", row)
			assert.NotContains(t, v, "1901", "%s carries data", row)
		}
		switch {
		case action == "deliver" || action == "supersede" || (action == "quarantine" && dest != ""):
			assert.NotNil(t, mid, "%s: about which message", row)
			assert.NotEmpty(t, dest, "%s: towards whom", row)
			assert.NotEmpty(t, route, row)
			assert.NotEmpty(t, basis, "%s: on which legal basis", row)
		case action == "ingest" && outcome == string(Accepted):
			assert.NotNil(t, mid, row)
			assert.Equal(t, "CPP R57-4; x", basis, "%s: the legal bases of the routes it is collected for", row)
		case strings.HasPrefix(action, "identity-") || action == "subject-export" || action == "retention":
			assert.NotEmpty(t, basis, "%s: on which legal basis", row)
		}
	}
	require.NoError(t, rows.Err())
	for _, a := range []string{"ingest", "deliver", "supersede", "quarantine", "replay", "identity-doubt", "subject-export", "retention"} {
		assert.True(t, actions[a], "the walk covered %s", a)
	}
}

// samePerPerson checks that each person's corrections, asked for her alone, are the
// ones the whole list gives her.
func samePerPerson(t *testing.T, s *Store, persons ...string) {
	t.Helper()
	all, err := s.PendingRectifications(t.Context(), "", 1_000_000)
	require.NoError(t, err)
	n, err := s.CountPendingRectifications(t.Context(), "")
	require.NoError(t, err)
	assert.Equal(t, len(all), n, "every correction, counted")
	for _, p := range persons {
		want := []Rectification{}
		for _, r := range all {
			if r.Subject == p {
				want = append(want, r)
			}
		}
		got, err := s.PendingRectifications(t.Context(), p, 0)
		require.NoError(t, err)
		assert.Equal(t, want, got, "%s's corrections, alone and in the whole list", p)
		n, err := s.CountPendingRectifications(t.Context(), p)
		require.NoError(t, err)
		assert.Equal(t, len(want), n, "%s's corrections, counted", p)
	}
}

func TestPendingRectifications(t *testing.T) {
	s := newStore(t, Options{})
	ctx := t.Context()
	const n = 1000
	version := func(v int64, name, sentence string) []*canonical.Message {
		out := make([]*canonical.Message, n)
		for i := range out {
			out[i] = msg(fmt.Sprintf("mesure/%d", i), v, fmt.Sprintf(`{"person":{"lastName":%q},"kind":%q}`, name, sentence))
			out[i].Subject = fmt.Sprintf("person-%d", i)
		}
		return out
	}
	deliver := func(ms []*canonical.Message, dests ...string) {
		t.Helper()
		var outs []DeliveryOutcome
		for _, m := range ms {
			for _, d := range dests {
				outs = append(outs, DeliveryOutcome{MessageID: uuid.MustParse(m.ID), Destination: d, Status: StatusDelivered})
			}
		}
		record(t, s, outs)
	}
	v1 := version(1, "DUPONT", "SURSIS_PROBATOIRE")
	_, err := s.Ingest(ctx, s.pool, IngestBatch{Connector: "appi", Messages: v1, Targets: targets})
	require.NoError(t, err)
	deliver(v1, "prisme", "archive")
	pending, err := s.PendingRectifications(ctx, "", 0)
	require.NoError(t, err)
	assert.Empty(t, pending, "nothing to correct yet")

	// The source corrects every fact: the name of the first half, the sentence of the other.
	v2 := version(2, "DUPONT", "DDSE")
	for _, m := range v2[:n/2] {
		m.Data = json.RawMessage(`{"person":{"lastName":"DUPOND"},"kind":"SURSIS_PROBATOIRE"}`)
	}
	_, err = s.Ingest(ctx, s.pool, IngestBatch{Connector: "appi", Messages: v2, Targets: targets})
	require.NoError(t, err)
	pending, err = s.PendingRectifications(ctx, "", 10*n)
	require.NoError(t, err)
	require.Len(t, pending, 2*n, "every prior recipient of every fact is owed the correction")
	byChange := map[string]int{}
	for _, p := range pending {
		assert.Equal(t, int64(1), p.DeliveredVersion)
		assert.Equal(t, int64(2), p.CurrentVersion)
		assert.Equal(t, "pending", p.Status)
		byChange[strings.Join(p.Changes, ",")]++
	}
	assert.Equal(t, map[string]int{ChangedIdentity: n, ChangedSentence: n}, byChange)
	one, err := s.PendingRectifications(ctx, "person-7", 0)
	require.NoError(t, err)
	assert.Len(t, one, 2, "one person's: her fact at both destinations")
	samePerPerson(t, s, "person-7", "person-500", "person-999", "nobody")

	deliver(v2, "prisme")
	pending, err = s.PendingRectifications(ctx, "", 10*n)
	require.NoError(t, err)
	require.Len(t, pending, n, "each acknowledgement is recorded: the archive's remain")
	deliver(v2, "archive")
	pending, err = s.PendingRectifications(ctx, "", 10*n)
	require.NoError(t, err)
	assert.Empty(t, pending, "every prior recipient acknowledged the correction, once each")
	assert.Equal(t, 2*n, count(t, s, `SELECT count(*) FROM deliveries WHERE fact_version = 2 AND status = 'delivered'`))

	t.Run("a destination no route names any more is listed for an operator", func(t *testing.T) {
		v3 := msg("mesure/1", 3, `{"person":{"lastName":"DUPOND"},"kind":"TIG"}`)
		_, err := s.Ingest(ctx, s.pool, IngestBatch{Connector: "appi", Messages: []*canonical.Message{v3},
			Targets: func(string) []Target { return []Target{{Route: "appi-to-prisme", Destination: "prisme"}} }})
		require.NoError(t, err)
		pending, err := s.PendingRectifications(ctx, "", 0)
		require.NoError(t, err)
		require.Len(t, pending, 2)
		status := map[string]string{}
		for _, p := range pending {
			status[p.Destination] = p.Status
		}
		assert.Equal(t, map[string]string{"prisme": "pending", "archive": "not-routed"}, status)
		samePerPerson(t, s, "person-1", "person-2")

		require.NoError(t, s.AckRectification(ctx, uuid.MustParse(v3.ID), "archive", "operator:alice"), "carried by hand")
		pending, err = s.PendingRectifications(ctx, "", 0)
		require.NoError(t, err)
		require.Len(t, pending, 1)
		assert.Equal(t, "prisme", pending[0].Destination)
		require.ErrorIs(t, s.AckRectification(ctx, uuid.MustParse(v3.ID), "nowhere", "operator:alice"), ErrNotFound)
		samePerPerson(t, s, "person-1")
		assert.Equal(t, 1, count(t, s, `SELECT count(*) FROM audit WHERE action = 'rectification-ack' AND actor = 'operator:alice'
			AND destination = 'archive' AND legal_basis LIKE '%art. 16%'`))
	})

	t.Run("a fact whose older version went out under another subject is listed for the newest one's", func(t *testing.T) {
		before := msg("mesure/merged", 1, `{"person":{"lastName":"DURAND"},"kind":"TIG"}`)
		before.Subject = "person-before"
		_, err := s.Ingest(ctx, s.pool, IngestBatch{Connector: "appi", Messages: []*canonical.Message{before}, Targets: targets})
		require.NoError(t, err)
		deliver([]*canonical.Message{before}, "prisme")
		after := msg("mesure/merged", 2, `{"person":{"lastName":"DURAND"},"kind":"DDSE"}`)
		after.Subject = "person-after" // a merge moved the identifiers between the versions
		_, err = s.Ingest(ctx, s.pool, IngestBatch{Connector: "appi", Messages: []*canonical.Message{after}, Targets: targets})
		require.NoError(t, err)
		got, err := s.PendingRectifications(ctx, "person-after", 0)
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, "prisme", got[0].Destination)
		assert.Equal(t, int64(1), got[0].DeliveredVersion)
		samePerPerson(t, s, "person-after", "person-before")
	})
}
