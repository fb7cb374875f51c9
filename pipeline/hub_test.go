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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"passerelle/canonical"
	"passerelle/config"
	"passerelle/connectors"
	"passerelle/connectors/builtin"
	"passerelle/internal/pgtest"
	"passerelle/pipeline"
	"passerelle/pipeline/bus"
	"passerelle/pipeline/pipelinetest"
	"passerelle/pipeline/store"
)

// hubConfig is a hub reading a JSON-lines file of measures and delivering them to an
// HTTP destination.
func hubConfig(t *testing.T, dbURL, file, dest, extra string) *config.Config {
	t.Helper()
	yaml := fmt.Sprintf(`
log: {format: console, level: warn}
database: {url: %q}
kafka: {partitions: 4, sessionTimeout: 2s, heartbeatInterval: 500ms}
http: {listen: "127.0.0.1:0"}
delivery: {backoffMin: 20ms, backoffMax: 200ms, timeout: 500ms%s}
connectors:
  appi-export: {kind: jsonl, path: %q}
  archive: {kind: webhook, url: %q, recipient: other, timeout: 1s}
routes:
  - name: measures-to-archive
    types: [measure]
    destination: archive
    legalBasis: {reference: "Test", purpose: "end-to-end test of the spine"}
    allow:
      measure:
        - version
        - measureNumber
        - status
        - person.lastName
        - person.identifiers.appiFileNumber
`, dbURL, extra, file, dest)
	cfg, err := config.Read(strings.NewReader(yaml), func(string) string { return "" })
	require.NoError(t, err)
	return cfg
}

type hubRig struct {
	t      *testing.T
	run    *pipeline.Running
	cfg    *config.Config
	inst   map[string]*connectors.Instance
	dest   *pipelinetest.Destination
	newest map[string]int64
	size   int64 // of the source file
	stop   func()
}

// startHub runs a hub in this process over facts from the generator, on a database of
// its own.
func startHub(t *testing.T, facts, persons int, faults pipelinetest.Faults, deliveryExtra string) *hubRig {
	t.Helper()
	return startHubOn(t, pgtest.NewDatabase(t), facts, persons, faults, deliveryExtra)
}

// startHubOn is startHub on an existing database, so that a test can record operator
// controls before the hub starts.
func startHubOn(t *testing.T, dbURL string, facts, persons int, faults pipelinetest.Faults, deliveryExtra string) *hubRig {
	t.Helper()
	lines, newest := pipelinetest.Facts(facts, persons, 1)
	return startHubLines(t, dbURL, lines, newest, faults, deliveryExtra, nil)
}

// startHubLines is startHubOn over given lines of measures, with tweak (when not nil)
// changing the configuration before the hub starts.
func startHubLines(t *testing.T, dbURL string, lines [][]byte, newest map[string]int64, faults pipelinetest.Faults,
	deliveryExtra string, tweak func(*config.Config)) *hubRig {
	t.Helper()
	file := filepath.Join(t.TempDir(), "measures.jsonl")
	require.NoError(t, os.WriteFile(file, pipelinetest.JoinLines(lines), 0o600))
	dest := pipelinetest.NewDestination(1)
	t.Cleanup(dest.Close)
	dest.SetFaults(faults)

	cfg := hubConfig(t, dbURL, file, dest.URL(), deliveryExtra)
	if tweak != nil {
		tweak(cfg)
	}
	instances, ps := builtin.Default().Instantiate(cfg, zap.NewNop())
	require.Empty(t, ps)
	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan *pipeline.Running, 1)
	hub := &pipeline.Hub{Config: cfg, Instances: instances, Log: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)),
		OnReady: func(r *pipeline.Running) { ready <- r }}
	done := make(chan error, 1)
	go func() { done <- hub.Run(ctx) }()
	r := &hubRig{t: t, cfg: cfg, inst: instances, dest: dest, newest: newest, size: int64(len(pipelinetest.JoinLines(lines)))}
	r.stop = func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Error("the hub did not stop within 30 s")
		}
	}
	t.Cleanup(func() { cancel() })
	select {
	case r.run = <-ready:
	case err := <-done:
		t.Fatalf("hub stopped: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("hub did not start")
	}
	return r
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *hubRig) settled() bool {
	return r.quiet() && len(pipelinetest.Check(r.dest.Applied(), r.newest)) == 0
}

// quiet reports whether the whole file was ingested and every delivery has an outcome.
func (r *hubRig) quiet() bool {
	pos, _, err := r.run.Store.Checkpoint(r.t.Context(), "appi-export")
	if err != nil || pos != fmt.Sprint(r.size) {
		return false
	}
	b, err := r.run.Store.Backlog(r.t.Context())
	return err == nil && b.Unsettled == 0 && b.Unpublished == 0
}

func TestHubDeliversEveryFactOnceToAFaultyDestination(t *testing.T) {
	// The destination: 5xx on 30 % of calls, hangs past the timeout on 10 %,
	// applies then drops the reply on 5 %.
	r := startHub(t, 2000, 300, pipelinetest.Faults{Fail5xx: 0.3, Hang: 0.1, HangFor: 2 * time.Second, DropAfterApply: 0.05}, "")
	waitFor(t, 2*time.Minute, "every newest version delivered and nothing pending", r.settled)
	defer r.stop()

	assert.Empty(t, pipelinetest.Check(r.dest.Applied(), r.newest))
	req, replays, faulted := r.dest.Stats()
	t.Logf("destination: %d requests, %d replays, %d faults, %d effects", req, replays, faulted, len(r.dest.Applied()))
	assert.Positive(t, replays, "answers lost after the effect were retried with the same key")

	t.Run("the destination received only the fields the policy allows", func(t *testing.T) {
		allowed := map[string]bool{"version": true, "measureNumber": true, "status": true, "person": true}
		for _, e := range r.dest.Applied() {
			var data map[string]any
			require.NoError(t, json.Unmarshal(e.Data, &data))
			for k := range data {
				assert.True(t, allowed[k], "field %q reached the destination", k)
			}
			person, _ := data["person"].(map[string]any)
			assert.NotContains(t, person, "firstNames")
			assert.NotContains(t, person, "birthDate")
		}
	})
	t.Run("the topics the hub created keep a record no longer than the hub keeps its payload", func(t *testing.T) {
		kept, err := bus.TopicRetentions(t.Context(), r.run.Brokers, bus.Topics(r.cfg.Kafka.TopicPrefix))
		require.NoError(t, err)
		require.Len(t, kept, len(canonical.Types()))
		for _, k := range kept {
			assert.Equal(t, bus.TopicRetention{Topic: k.Topic, Retention: r.cfg.Retention.Payloads}, k)
		}
		assert.Equal(t, 720*time.Hour, r.cfg.Retention.Payloads, "the default payload retention")
	})
	t.Run("stale and duplicate facts were recognised at ingest, and the audit holds", func(t *testing.T) {
		st := r.run.Store
		var stale, dup, deliver int
		require.NoError(t, st.Pool().QueryRow(t.Context(), `SELECT count(*) FILTER (WHERE outcome='stale'),
			count(*) FILTER (WHERE outcome='duplicate'), count(*) FILTER (WHERE action='deliver') FROM audit`).Scan(&stale, &dup, &deliver))
		assert.Positive(t, stale)
		assert.Positive(t, dup)
		assert.Positive(t, deliver)
		v, err := st.VerifyAudit(t.Context())
		require.NoError(t, err)
		assert.Nil(t, v.Problem)
	})
}

func TestADestinationThatRefusesEverythingStopsInsteadOfFillingTheQuarantineThenResumes(t *testing.T) {
	r := startHub(t, 500, 500, pipelinetest.Faults{Refuse422: 1}, ", failureWindow: 20, failureRatio: 0.8")
	waitFor(t, time.Minute, "the destination to stop", func() bool { return len(r.run.Stopped()) > 0 })
	why := r.run.Stopped()["archive"]
	assert.Contains(t, why, "deliveries were refused")
	assert.Contains(t, why, "HTTP 422")

	items, err := r.run.Store.ListQuarantine(t.Context(), store.QuarantineFilter{Stage: "deliver", Limit: 1000})
	require.NoError(t, err)
	assert.Less(t, len(items), 20, "an outage is not quarantined message by message")
	var pending int
	require.NoError(t, r.run.Store.Pool().QueryRow(t.Context(), `SELECT count(*) FROM deliveries WHERE status = 'pending'`).Scan(&pending))
	assert.Positive(t, pending, "what was not delivered waits, pending")

	resp, err := http.Get("http://" + r.run.HTTPAddr + "/readyz")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Contains(t, string(body), "destination archive stopped")

	// The stop is a pause of the destination's routes, with its reason, that every hub
	// process honours and an operator lifts once the cause is mended: no restart.
	var routes []string
	for _, rt := range r.run.Routing.Routes() {
		if rt.Destination == "archive" {
			routes = append(routes, rt.Name)
		}
	}
	require.NotEmpty(t, routes)
	for _, route := range routes {
		c, paused := r.run.Controls.Paused(pipeline.ControlRoute, route)
		require.True(t, paused, "route %s paused by the stop", route)
		assert.Contains(t, c.Reason, "deliveries were refused")
	}
	r.dest.SetFaults(pipelinetest.Faults{})
	for _, route := range routes {
		_, err := r.run.Controls.Set(t.Context(), pipeline.ControlRoute, route, false, "the destination's contract is mended", "alice")
		require.NoError(t, err)
	}
	waitFor(t, 2*time.Minute, "every delivery to have an outcome after the resume", r.quiet)
	assert.Empty(t, r.run.Stopped(), "running again")
	// What the destination refused before the stop is in quarantine: replayed, it goes.
	items, err = r.run.Store.ListQuarantine(t.Context(), store.QuarantineFilter{Stage: "deliver", Limit: 1000})
	require.NoError(t, err)
	for _, q := range items {
		_, err := r.run.Replayer.Replay(t.Context(), q, "operator:alice")
		require.NoError(t, err)
	}
	waitFor(t, 2*time.Minute, "everything delivered", r.settled)
	assert.Empty(t, pipelinetest.Check(r.dest.Applied(), r.newest))
	r.stop()
}

func TestAQuarantinedDeliveryIsReplayedOnce(t *testing.T) {
	r := startHub(t, 400, 100, pipelinetest.Faults{Refuse422: 0.1}, "")
	waitFor(t, time.Minute, "every delivery to have an outcome", r.quiet)
	items, err := r.run.Store.ListQuarantine(t.Context(), store.QuarantineFilter{Stage: "deliver", Limit: 1000})
	require.NoError(t, err)
	require.NotEmpty(t, items, "the destination refused some")
	for _, q := range items {
		assert.Equal(t, "webhook: refused with HTTP 422: refused by the test destination", q.Reason)
		assert.NotEmpty(t, q.Raw)
	}

	r.dest.SetFaults(pipelinetest.Faults{})
	rp := &pipeline.Replayer{Store: r.run.Store, Ingester: r.run.Ingester}
	for _, q := range items {
		res, err := rp.Replay(t.Context(), q, "operator:test")
		require.NoError(t, err)
		assert.Equal(t, "redelivering", res.Outcome)
		_, err = rp.Replay(t.Context(), q, "operator:test")
		require.Error(t, err, "an item is replayed once")
	}
	waitFor(t, time.Minute, "the replayed deliveries", r.settled)
	defer r.stop()
	assert.Empty(t, pipelinetest.Check(r.dest.Applied(), r.newest))
	var replays int
	require.NoError(t, r.run.Store.Pool().QueryRow(t.Context(), `SELECT count(*) FROM audit WHERE action = 'replay' AND actor = 'operator:test'`).Scan(&replays))
	assert.Equal(t, len(items), replays, "every replay is audited")
}
