package pipeline_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/canonical"
	"passerelle/config"
	"passerelle/internal/pgtest"
	"passerelle/pipeline"
	"passerelle/pipeline/pipelinetest"
	"passerelle/pipeline/store"
)

// heldMeasure is version v of measure ref about a person named name, born 1975-06-30,
// with APPI file appi.
func heldMeasure(t *testing.T, ref, name, appi string, v int64) []byte {
	t.Helper()
	data := canonical.Measure{Version: v, MeasureNumber: ref, Kind: "SP", Court: "TJ LYON", SPIPOffice: "SPIP 69",
		DecisionDate: "2024-03-14", StartDate: "2024-04-01", Obligations: []canonical.Obligation{"SOINS"}, Status: "EN_COURS",
		Person: canonical.Person{LastName: name, FirstNames: []string{"Camille"}, BirthDate: "1975-06-30",
			Identifiers: canonical.Identifiers{AppiFileNumber: appi}}}
	fact := canonical.FactID{System: canonical.SystemAPPI, Ref: canonical.APPIMeasureRef(ref), Version: v}
	m, err := canonical.NewMessage(canonical.TypeMeasure, "/connectors/appi", "", fact, time.Date(2024, 4, 1, 9, 0, 0, 0, time.UTC), data)
	require.NoError(t, err)
	m.ID = uuid.NewString()
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

// TestWithWaitTheFactsOfADoubtfulPersonWaitForTheReviewThenGoOnOnce runs a hub with
// identities.doubtful: wait over the facts of a known person and of two doubtful ones
// (her name and birth date, other APPI files), some in several versions: nothing of
// the doubtful ones is delivered before the decisions, everything once after them, at
// its newest version, under the known person's id after "link" and under the new id
// after "apart".
func TestWithWaitTheFactsOfADoubtfulPersonWaitForTheReviewThenGoOnOnce(t *testing.T) {
	const name = "LAMBERTINI"
	lines := [][]byte{
		heldMeasure(t, "K-1", name, "202400000001", 1),
		heldMeasure(t, "K-2", name, "202400000001", 1),
		heldMeasure(t, "L-1", name, "202400000002", 1), // doubtful: to be linked
		heldMeasure(t, "L-1", name, "202400000002", 2),
		heldMeasure(t, "L-2", name, "202400000002", 1),
		heldMeasure(t, "A-1", name, "202400000003", 1), // doubtful: to be kept apart
		heldMeasure(t, "A-1", name, "202400000003", 3),
		heldMeasure(t, "K-1", name, "202400000001", 2),
	}
	newest := map[string]int64{}
	for _, ref := range []string{"K-1", "L-1", "A-1"} {
		newest[canonical.APPIMeasureRef(ref)] = map[string]int64{"K-1": 2, "L-1": 2, "A-1": 3}[ref]
	}
	newest[canonical.APPIMeasureRef("K-2")], newest[canonical.APPIMeasureRef("L-2")] = 1, 1
	r := startHubLines(t, pgtest.NewDatabase(t), lines, newest, pipelinetest.Faults{}, "",
		func(c *config.Config) { c.Identities.Doubtful = config.DoubtfulWait })
	defer r.stop()
	ctx := t.Context()
	st := r.run.Store

	held := func() []store.QuarantineItem {
		items, err := st.ListQuarantine(ctx, store.QuarantineFilter{Stage: store.StageIdentity})
		require.NoError(t, err)
		return items
	}
	// subset is newest restricted to the measures refs.
	subset := func(refs ...string) map[string]int64 {
		out := map[string]int64{}
		for _, ref := range refs {
			out[canonical.APPIMeasureRef(ref)] = newest[canonical.APPIMeasureRef(ref)]
		}
		return out
	}
	// of returns the destination's effects of the measures refs.
	of := func(refs ...string) []pipelinetest.Effect {
		want := subset(refs...)
		var out []pipelinetest.Effect
		for _, e := range r.dest.Applied() {
			if _, ok := want[e.FactRef]; ok {
				out = append(out, e)
			}
		}
		return out
	}
	waitFor(t, time.Minute, "the file to be read and the known person's facts delivered", func() bool {
		return r.quiet() && len(pipelinetest.Check(of("K-1", "K-2"), subset("K-1", "K-2"))) == 0
	})
	items := held()
	require.Len(t, items, 5, "every message of the doubtful persons is held, each version")
	for _, q := range items {
		assert.Regexp(t, `^held for identity review [0-9]+: same name and birth date, different APPI identifiers`, q.Reason)
		assert.NotContains(t, q.Reason, name)
	}
	assert.Empty(t, of("L-1", "L-2", "A-1"), "nothing of the doubtful persons is delivered before the decisions")
	known := of("K-1")[0].Subject
	reviews, err := st.ListIdentityReviews(ctx, store.ReviewOpen)
	require.NoError(t, err)
	require.Len(t, reviews, 2)
	var link, apart store.IdentityReview
	for _, rv := range reviews {
		assert.Equal(t, known, rv.PersonA)
		assert.Zero(t, rv.MessagesB, "nothing went on under the new id")
		switch idents(rv.IdentsB) {
		case "APPI:202400000002":
			link = rv
		case "APPI:202400000003":
			apart = rv
		}
	}
	require.NotZero(t, link.ID)
	require.NotZero(t, apart.ID)
	assert.EqualValues(t, 3, link.Held)
	assert.EqualValues(t, 2, apart.Held)

	// An operator's replay does not let a held message go before the decision.
	_, err = r.run.Replayer.Replay(ctx, items[0], "operator:test")
	require.ErrorContains(t, err, "waits for identity review")

	// Link: L's facts go on under the known person. The hub's own sweep may release
	// some at the same time: each goes on once.
	released, err := r.run.Replayer.DecideIdentity(ctx, link.ID, store.ReviewLinked, "operator:alice")
	require.NoError(t, err)
	assert.LessOrEqual(t, released, 3, "what the sweep did not release first")
	_, err = r.run.Replayer.DecideIdentity(ctx, link.ID, store.ReviewApart, "operator:alice")
	require.ErrorIs(t, err, store.ErrAlreadyDecided)
	require.NotErrorIs(t, err, pipeline.ErrRelease, "refused before anything was done")
	waitFor(t, time.Minute, "the linked person's facts to be delivered", func() bool {
		return r.quiet() && len(pipelinetest.Check(of("L-1", "L-2"), subset("L-1", "L-2"))) == 0
	})
	assert.Len(t, held(), 2, "the other review's facts still wait")
	assert.Empty(t, of("A-1"))
	for _, e := range of("L-1", "L-2") {
		assert.Equal(t, known, e.Subject, "linked: under the known person's id")
	}

	// Apart: A's facts go on under the new id, without an explicit release: the
	// running hub's sweep finds the decided review.
	require.NoError(t, st.DecideIdentityReview(ctx, apart.ID, store.ReviewApart, "operator:alice"))
	waitFor(t, time.Minute, "the facts of the person kept apart to be delivered", func() bool {
		return r.quiet() && len(pipelinetest.Check(of("A-1"), subset("A-1"))) == 0
	})
	assert.Empty(t, held())
	for _, e := range of("A-1") {
		assert.Equal(t, apart.PersonB, e.Subject, "apart: under the new id")
	}
	assert.Empty(t, pipelinetest.Check(r.dest.Applied(), newest))

	// Exactly once: one outbox row per held message, each release audited once.
	var rows, decisions, releases int
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT count(*) FROM outbox WHERE fact_ref = ANY($1)`,
		[]string{canonical.APPIMeasureRef("L-1"), canonical.APPIMeasureRef("L-2"), canonical.APPIMeasureRef("A-1")}).Scan(&rows))
	assert.Equal(t, 5, rows)
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT count(*) FILTER (WHERE action IN ('identity-linked', 'identity-apart') AND actor = 'operator:alice'),
		count(*) FILTER (WHERE action = 'identity-release') FROM audit`).Scan(&decisions, &releases))
	assert.Equal(t, 2, decisions)
	assert.Equal(t, 5, releases, "each held message released once, audited")
	var hubReleases int
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT count(*) FROM audit WHERE action = 'identity-release' AND actor = $1`,
		pipeline.ReleaseActor).Scan(&hubReleases))
	assert.GreaterOrEqual(t, hubReleases, 2, "the sweep released the facts of the person kept apart")
}

func idents(ids []store.Identifier) string {
	s := ""
	for i, id := range ids {
		if i > 0 {
			s += ","
		}
		s += id.System + ":" + id.Value
	}
	return s
}
