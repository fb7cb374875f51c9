package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"passerelle/connectors/builtin"
	"passerelle/internal/pgtest"
	"passerelle/pipeline"
	"passerelle/pipeline/pipelinetest"
	"passerelle/pipeline/store"
)

// TestASubjectExportListsExactlyWhatTheDestinationRecordedForThePerson runs a flow
// through a faulty destination, then asks, for a few people, what the hub moved about
// them: the deliveries the export lists are exactly the records the destination holds
// for that person.
func TestASubjectExportListsExactlyWhatTheDestinationRecordedForThePerson(t *testing.T) {
	r := startHub(t, 600, 150, pipelinetest.Faults{Fail5xx: 0.15, DropAfterApply: 0.05}, "")
	defer r.stop()
	waitFor(t, 2*time.Minute, "every fact to be delivered", r.settled)

	type fact struct {
		ref     string
		version int64
	}
	recorded := map[string]map[fact]bool{} // APPI file → what the destination holds
	for _, e := range r.dest.Applied() {
		var d struct {
			Person struct {
				Identifiers struct {
					AppiFileNumber string `json:"appiFileNumber"`
				} `json:"identifiers"`
			} `json:"person"`
		}
		require.NoError(t, json.Unmarshal(e.Data, &d))
		appi := d.Person.Identifiers.AppiFileNumber
		if recorded[appi] == nil {
			recorded[appi] = map[fact]bool{}
		}
		recorded[appi][fact{e.FactRef, e.Version}] = true
	}
	for _, p := range []int{0, 7, 42, 149} {
		appi := fmt.Sprintf("2020%08d", p)
		exp, err := r.run.Store.ExportSubject(t.Context(), store.SubjectQuery{System: pipeline.IDAppi, Value: appi}, "operator:test")
		require.NoError(t, err)
		require.Len(t, exp.Persons, 1, "person %d", p)
		listed := map[fact]bool{}
		for _, f := range exp.Facts {
			for _, d := range f.Deliveries {
				if d.Status == store.StatusDelivered {
					assert.Equal(t, "archive", d.Destination)
					assert.Equal(t, "Test — end-to-end test of the spine", d.LegalBasis)
					assert.NotEmpty(t, d.ReceiptRef, "the destination's receipt")
					listed[fact{f.FactRef, f.FactVersion}] = true
				}
			}
		}
		require.NotEmpty(t, recorded[appi], "person %d has records at the destination", p)
		assert.Equal(t, recorded[appi], listed, "person %d: the export lists exactly what the destination recorded", p)
	}
}

// TestNoPersonalDataInLogsMetricsOrQuarantineReasons runs a flow whose facts carry
// names and birth dates through a destination that fails, hangs up and refuses, with
// every log level on: no name or birth date appears in any log entry, in the metrics,
// or in a quarantine reason.
func TestNoPersonalDataInLogsMetricsOrQuarantineReasons(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	lines, _ := pipelinetest.Facts(400, 100, 3)
	file := filepath.Join(t.TempDir(), "measures.jsonl")
	require.NoError(t, os.WriteFile(file, pipelinetest.JoinLines(append(lines, []byte(`{"nom":"CANARYNAME","dateNaissance":"1901-02-03"}`))), 0o600))
	dest := pipelinetest.NewDestination(3)
	t.Cleanup(dest.Close)
	dest.SetFaults(pipelinetest.Faults{Fail5xx: 0.2, DropAfterApply: 0.05, Refuse422: 0.05})
	cfg := hubConfig(t, dbURL, file, dest.URL(), "")
	instances, ps := builtin.Default().Instantiate(cfg, zap.NewNop())
	require.Empty(t, ps)
	core, logs := observer.New(zapcore.DebugLevel)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ready := make(chan *pipeline.Running, 1)
	done := make(chan error, 1)
	hub := &pipeline.Hub{Config: cfg, Instances: instances, Log: zap.New(core), OnReady: func(r *pipeline.Running) { ready <- r }}
	go func() { done <- hub.Run(ctx) }()
	var run *pipeline.Running
	select {
	case run = <-ready:
	case err := <-done:
		t.Fatalf("hub stopped: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("hub did not start")
	}
	waitFor(t, 2*time.Minute, "every delivery to have an outcome", func() bool {
		b, err := run.Store.Backlog(t.Context())
		var q int
		qerr := run.Store.Pool().QueryRow(t.Context(), `SELECT count(*) FROM quarantine WHERE stage <> 'deliver'`).Scan(&q)
		return err == nil && qerr == nil && q > 0 && b.Unsettled == 0 && b.Unpublished == 0 && logs.Len() > 0
	})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+run.HTTPAddr+"/metrics", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	metrics, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.NoError(t, err)
	rows, err := run.Store.Pool().Query(t.Context(), `SELECT reason FROM quarantine`)
	require.NoError(t, err)
	var reasons []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		reasons = append(reasons, s)
	}
	rows.Close()
	require.NotEmpty(t, reasons, "some inputs and deliveries were quarantined")
	cancel()
	require.NoError(t, <-done)

	canaries := []string{"PERSONNE0", "1990-01-01", "CANARYNAME", "1901-02-03"}
	check := func(where, text string) {
		t.Helper()
		for _, c := range canaries {
			assert.NotContains(t, text, c, "%s carries personal data", where)
		}
	}
	for _, e := range logs.All() {
		var fields []string
		for k, v := range e.ContextMap() {
			fields = append(fields, fmt.Sprintf("%s=%v", k, v))
		}
		check("log entry "+e.Message, e.Message+" "+strings.Join(fields, " "))
	}
	check("the metrics", string(metrics))
	for _, reason := range reasons {
		check("quarantine reason "+reason, reason)
	}
	t.Logf("%d log entries, %d quarantine reasons checked", logs.Len(), len(reasons))
}

// TestACorrectionAtTheSourceReachesEveryPriorRecipientOnce delivers 1,000 facts, then
// has the source correct each one (a new version with another name): every
// destination that received the old version receives the correction, once, and no
// correction is left pending.
func TestACorrectionAtTheSourceReachesEveryPriorRecipientOnce(t *testing.T) {
	r := startHub(t, 1000, 1000, pipelinetest.Faults{Fail5xx: 0.1, DropAfterApply: 0.05}, "")
	defer r.stop()
	waitFor(t, 2*time.Minute, "the first versions to be delivered", r.settled)
	before := len(r.dest.Applied())

	path, _ := r.cfg.Connectors["appi-export"].Settings["path"].(string)
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	newest := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m))
		ref := m["factref"].(string)
		if cur, ok := newest[ref]; !ok || m["factversion"].(float64) > cur["factversion"].(float64) {
			newest[ref] = m
		}
	}
	var corrections []byte
	for ref, m := range newest {
		v := m["factversion"].(float64) + 1
		m["id"], m["factversion"] = uuid.NewString(), v
		data := m["data"].(map[string]any)
		data["version"] = v
		data["person"].(map[string]any)["lastName"] = "CORRIGE"
		line, err := json.Marshal(m)
		require.NoError(t, err)
		corrections = append(append(corrections, line...), '\n')
		r.newest[ref] = int64(v)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.Write(corrections)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	r.size += int64(len(corrections))
	waitFor(t, 2*time.Minute, "the corrections to be delivered", r.settled)

	pending, err := r.run.Store.PendingRectifications(t.Context(), "", 0)
	require.NoError(t, err)
	assert.Empty(t, pending, "no correction is owed any more")
	applied := r.dest.Applied()
	assert.Len(t, applied, before+len(newest), "each correction took effect once")
	seen := map[string]int{}
	for _, e := range applied[before:] {
		assert.Equal(t, r.newest[e.FactRef], e.Version)
		assert.Contains(t, string(e.Data), `"lastName":"CORRIGE"`)
		seen[e.FactRef]++
	}
	assert.Len(t, seen, len(newest), "every corrected fact reached its prior recipient")
	assert.Empty(t, pipelinetest.Check(applied, r.newest))
}
