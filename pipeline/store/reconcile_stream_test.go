package store

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/canonical"
)

// FactRecords gives every record of every fact of the connector, fact after fact in
// byte order (the order Go compares strings in, whatever the database's collation),
// and each fact's records by kind: what reconcile merges one fact at a time. The
// source's and the destination's lists cross page boundaries, and the session's
// temporary tables are gone afterwards.
func TestFactRecordsAreOrderedByFactAcrossPages(t *testing.T) {
	s := newStore(t, Options{MaxConns: 1}) // one session: a second run finds no table left behind
	ctx := t.Context()
	ingest := func(connector string, msgs ...*canonical.Message) IngestResult {
		res, err := s.Ingest(ctx, s.pool, IngestBatch{Connector: connector, Messages: msgs, Targets: targets})
		require.NoError(t, err)
		return res
	}
	b1 := msg("mesure/b", 1, `{"v":1}`)
	res := ingest("appi", b1, msg("mesure/B", 1, `{"v":1}`), msg("mesure/é", 3, `{"v":3}`), msg("mesure/a", 1, `{"v":1}`))
	require.Equal(t, 4, res.Count(Accepted))
	ingest("appi", msg("mesure/b", 2, `{"v":2}`))
	ingest("other", msg("mesure/other", 1, `{"v":1}`))
	s1 := ingest("appi", msg("mesure/s", 1, `{"v":1}`))
	ingest("appi", msg("mesure/s", 2, `{"v":2}`))
	_, err := s.Ingest(ctx, s.pool, IngestBatch{Connector: "appi", Targets: targets, Rejections: []Rejection{
		{Stage: "validate", Reason: "/x: required", Raw: []byte(`{}`), ContentType: "application/json",
			Fact: &canonical.FactID{System: "APPI", Ref: "mesure/q", Version: 4}},
		{Stage: "decode", Reason: "not JSON", Raw: []byte(`{`), ContentType: "application/json"},
	}})
	require.NoError(t, err)
	record(t, s, []DeliveryOutcome{{MessageID: res.Outcomes[0].ID, Destination: "prisme",
		Route: "appi-to-prisme", LegalBasis: "CPP R57-4", Status: StatusDelivered, Attempts: 1},
		{MessageID: s1.Outcomes[0].ID, Destination: "prisme", Route: "appi-to-prisme", LegalBasis: "CPP R57-4",
			Status: StatusSuperseded, Attempts: 0}})

	in := ReconcileInput{Connector: "appi", Destination: "prisme", PageSize: 2,
		Source: func(add func(string, string, int64) error) error {
			for _, f := range []struct {
				ref string
				v   int64
			}{{"mesure/z", 1}, {"mesure/a", 2}, {"mesure/b", 2}, {"mesure/B", 1}, {"mesure/é", 3}} {
				if err := add("APPI", f.ref, f.v); err != nil {
					return err
				}
			}
			return nil
		},
		Held: func(add func(string) error) error {
			for _, k := range []string{"APPI:mesure/z:9", "APPI:mesure/b:1", "APPI:mesure/a:7"} {
				if err := add(k); err != nil {
					return err
				}
			}
			return nil
		},
	}
	for run := range 2 {
		var got []FactRecord
		require.NoError(t, s.FactRecords(ctx, in, func(r FactRecord) error {
			got = append(got, r)
			return nil
		}), "run %d", run)
		var refs []string
		for i, r := range got {
			refs = append(refs, r.Ref)
			if i > 0 && got[i-1].Ref == r.Ref {
				assert.LessOrEqual(t, got[i-1].Kind, r.Kind, "a fact's records by kind")
			}
		}
		assert.True(t, slices.IsSorted(refs), "by fact, in byte order: %v", refs)
		assert.Equal(t, []string{"mesure/B", "mesure/a", "mesure/b", "mesure/q", "mesure/s", "mesure/z", "mesure/é"}, slices.Compact(refs))

		of := func(ref string) []FactRecord {
			return slices.DeleteFunc(slices.Clone(got), func(r FactRecord) bool { return r.Ref != ref })
		}
		b := of("mesure/b")
		require.Len(t, b, 4, "its deliveries to prisme only, not to archive: %+v", b)
		assert.Equal(t, FactRecord{Kind: RecordAccepted, System: "APPI", Ref: "mesure/b", Version: 2}, b[0])
		assert.Equal(t, FactRecord{Kind: RecordSource, System: "APPI", Ref: "mesure/b", Version: 2}, b[1])
		assert.Equal(t, FactRecord{Kind: RecordDelivery, System: "APPI", Ref: "mesure/b", Version: 1, Status: StatusDelivered,
			IdempotencyKey: "APPI:mesure/b:1", Held: true}, b[2], "delivered, and held under its key")
		assert.Equal(t, RecordDelivery, b[3].Kind)
		assert.Equal(t, StatusPending, b[3].Status)
		assert.False(t, b[3].Held)

		sup := of("mesure/s")
		require.Len(t, sup, 2, "a superseded delivery was never sent: it is left out: %+v", sup)
		assert.Equal(t, RecordAccepted, sup[0].Kind)
		assert.Equal(t, FactRecord{Kind: RecordDelivery, System: "APPI", Ref: "mesure/s", Version: 2, Status: StatusPending,
			IdempotencyKey: "APPI:mesure/s:2"}, sup[1])

		q := of("mesure/q")
		require.Len(t, q, 1)
		assert.Equal(t, RecordQuarantine, q[0].Kind)
		assert.Equal(t, int64(4), q[0].Version)
		assert.Equal(t, "validate", q[0].Stage)
		assert.Positive(t, q[0].QuarantineID)

		assert.Equal(t, []FactRecord{{Kind: RecordSource, System: "APPI", Ref: "mesure/z", Version: 1}}, of("mesure/z"),
			"held under another version's key: a key, not a fact, is held")
		assert.NotContains(t, refs, "mesure/other", "another connector's facts are not listed")
	}
}
