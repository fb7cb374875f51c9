package pipeline_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/pipeline"
	"passerelle/pipeline/pipelinetest"
	"passerelle/pipeline/store"
)

// TestAnOperatorsRectificationReachesEveryPriorRecipientOnce records, on a running hub,
// an operator's rectification of a delivered fact with corrected data: invalid data is
// refused naming the field and the rule, nothing recorded; valid data becomes the
// fact's next version, listed as pending for the destination that received the old
// one until that destination acknowledged it, delivered there once, with the operator
// in the audit.
func TestAnOperatorsRectificationReachesEveryPriorRecipientOnce(t *testing.T) {
	r := startHub(t, 40, 10, pipelinetest.Faults{Fail5xx: 0.1}, "")
	defer r.stop()
	waitFor(t, time.Minute, "every fact to be delivered", r.settled)
	ctx := t.Context()
	st := r.run.Store
	applied := r.dest.Applied()
	old := applied[len(applied)-1]
	cur, err := st.CurrentOf(ctx, "APPI", old.FactRef)
	require.NoError(t, err)
	require.Equal(t, old.Version, cur.FactVersion)
	var data map[string]any
	require.NoError(t, json.Unmarshal(cur.Data, &data))

	t.Run("invalid data is refused with its field and rule, nothing recorded", func(t *testing.T) {
		bad := map[string]any{}
		for k, v := range data {
			bad[k] = v
		}
		bad["status"] = "PERDUE"
		delete(bad, "measureNumber")
		raw, _ := json.Marshal(bad)
		_, err := r.run.Ingester.Rectify(ctx, pipeline.RectifyRequest{Message: cur.ID, Data: raw, Reason: "courrier 2025-17", Actor: "operator:alice"})
		var re *pipeline.RectificationError
		require.ErrorAs(t, err, &re)
		assert.Contains(t, err.Error(), "/data/status")
		assert.Contains(t, err.Error(), "rule enum")
		assert.Contains(t, err.Error(), "measureNumber")
		assert.Contains(t, err.Error(), "rule required")
		now, err := st.CurrentOf(ctx, "APPI", old.FactRef)
		require.NoError(t, err)
		assert.Equal(t, cur.ID, now.ID, "nothing recorded")
	})
	t.Run("an older version, a missing reason or the same data are refused", func(t *testing.T) {
		raw, _ := json.Marshal(data)
		_, err := r.run.Ingester.Rectify(ctx, pipeline.RectifyRequest{Message: cur.ID, Data: raw, Reason: "x", Actor: "operator:alice"})
		assert.ErrorContains(t, err, "nothing to rectify")
		_, err = r.run.Ingester.Rectify(ctx, pipeline.RectifyRequest{Message: cur.ID, Data: raw, Actor: "operator:alice"})
		assert.ErrorContains(t, err, "reason: required")
		_, err = r.run.Ingester.Rectify(ctx, pipeline.RectifyRequest{FactSystem: "APPI", FactRef: "nothing", Data: raw, Reason: "x", Actor: "operator:alice"})
		assert.ErrorContains(t, err, "no accepted message")
		var older uuid.UUID
		err = st.Pool().QueryRow(ctx, `SELECT id FROM outbox WHERE fact_version < (SELECT version FROM dedup d WHERE d.fact_ref = outbox.fact_ref) LIMIT 1`).Scan(&older)
		require.NoError(t, err, "the generator sends several versions of some facts")
		_, err = r.run.Ingester.Rectify(ctx, pipeline.RectifyRequest{Message: older, Data: raw, Reason: "x", Actor: "operator:alice"})
		assert.ErrorContains(t, err, "rectify the newest")
	})

	// The destination's route is paused, so that the correction is seen pending.
	_, err = r.run.Controls.Set(ctx, pipeline.ControlRoute, "measures-to-archive", true, "test", "operator:test")
	require.NoError(t, err)
	data["status"] = "SUSPENDUE"
	data["person"].(map[string]any)["lastName"] = "RECTIFIEE"
	raw, _ := json.Marshal(data)
	res, err := r.run.Ingester.Rectify(ctx, pipeline.RectifyRequest{FactSystem: "APPI", FactRef: old.FactRef, Data: raw,
		Reason: "courrier 2025-17", Actor: "operator:alice"})
	require.NoError(t, err)
	assert.Equal(t, store.Accepted, res.Outcome)
	assert.Equal(t, cur.FactVersion+1, res.Message.FactVersion)
	assert.Equal(t, map[string]int64{"archive": old.Version}, res.Recipients)
	assert.Equal(t, []string{"archive"}, res.Targets)

	pending, err := st.PendingRectifications(ctx, cur.Subject, 0)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	assert.Equal(t, "archive", pending[0].Destination)
	assert.Equal(t, "pending", pending[0].Status)
	assert.Equal(t, res.Message.ID, pending[0].MessageID.String())
	assert.Equal(t, []string{store.ChangedIdentity}, pending[0].Changes)

	_, err = r.run.Controls.Set(ctx, pipeline.ControlRoute, "measures-to-archive", false, "", "operator:test")
	require.NoError(t, err)
	r.newest[old.FactRef] = res.Message.FactVersion
	waitFor(t, time.Minute, "the rectification to be delivered", r.settled)
	pending, err = st.PendingRectifications(ctx, "", 0)
	require.NoError(t, err)
	assert.Empty(t, pending, "acknowledged by the destination")
	after := r.dest.Applied()
	require.Len(t, after, len(applied)+1, "the correction took effect once")
	last := after[len(after)-1]
	assert.Equal(t, old.FactRef, last.FactRef)
	assert.Equal(t, res.Message.FactVersion, last.Version)
	assert.Equal(t, cur.Subject, last.Subject, "about the same person")
	assert.Contains(t, string(last.Data), `"lastName":"RECTIFIEE"`)

	var ingests, rects int
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT count(*) FILTER (WHERE action = 'ingest' AND message_id = $1 AND outcome = 'accepted'),
		count(*) FILTER (WHERE action = 'rectification' AND message_id = $1 AND reference LIKE '%courrier 2025-17')
		FROM audit WHERE actor = 'operator:alice'`, res.Message.ID).Scan(&ingests, &rects))
	assert.Equal(t, 1, ingests, "the operator is the ingest's actor")
	assert.Equal(t, 1, rects)
	var n int
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT count(*) FROM audit WHERE reference LIKE '%RECTIFIEE%'`).Scan(&n))
	assert.Zero(t, n, "never the data in the audit")
}
