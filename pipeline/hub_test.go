package pipeline_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"passerelle/config"
	"passerelle/connectors/builtin"
	"passerelle/internal/pgtest"
	"passerelle/pipeline"
	"passerelle/pipeline/pipelinetest"
	"passerelle/pipeline/store"
)

// hubConfig is a hub reading a JSON-lines file of measures and delivering them to an
// HTTP destination.
func hubConfig(t *testing.T, dbURL, brokers, file, dest string) *config.Config {
	t.Helper()
	yaml := fmt.Sprintf(`
log: {format: console, level: warn}
database: {url: %q}
kafka: {brokers: [%s], partitions: 4, sessionTimeout: 2s, heartbeatInterval: 500ms}
http: {listen: "127.0.0.1:0"}
delivery: {backoffMin: 20ms, backoffMax: 200ms, timeout: 1s}
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
        - kind
        - status
        - person.lastName
        - person.identifiers.appiFileNumber
`, dbURL, brokers, file, dest)
	cfg, err := config.Read(strings.NewReader(yaml), func(string) string { return "" })
	require.NoError(t, err)
	return cfg
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

func TestHubDeliversEveryFactOnce(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	lines, newest := pipelinetest.Facts(2000, 300, 1)
	file := filepath.Join(t.TempDir(), "measures.jsonl")
	require.NoError(t, os.WriteFile(file, pipelinetest.JoinLines(lines), 0o600))
	dest := pipelinetest.NewDestination(1)
	defer dest.Close()
	dest.SetFaults(pipelinetest.Faults{Fail5xx: 0.2, DropAfterApply: 0.05})

	cfg := hubConfig(t, dbURL, "", file, dest.URL())
	instances, ps := builtin.Default().Instantiate(cfg, zap.NewNop())
	require.Empty(t, ps)
	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan *pipeline.Running, 1)
	hub := &pipeline.Hub{Config: cfg, Instances: instances, Log: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), OnReady: func(r *pipeline.Running) { ready <- r }}
	done := make(chan error, 1)
	go func() { done <- hub.Run(ctx) }()
	var run *pipeline.Running
	select {
	case run = <-ready:
	case err := <-done:
		t.Fatalf("hub stopped: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("hub did not start")
	}

	waitFor(t, 90*time.Second, "every newest version delivered and nothing pending", func() bool {
		b, err := run.Store.Backlog(ctx)
		return err == nil && len(pipelinetest.Check(dest.Applied(), newest)) == 0 && b.Unsettled == 0 && b.Unpublished == 0
	})
	cancel()
	require.NoError(t, <-done)

	problems := pipelinetest.Check(dest.Applied(), newest)
	assert.Empty(t, problems)
	req, replays, faulted := dest.Stats()
	t.Logf("destination: %d requests, %d replays, %d faults, %d effects", req, replays, faulted, len(dest.Applied()))
	assert.Positive(t, faulted, "the faults were exercised")

	st, err := store.Open(t.Context(), dbURL, store.Options{})
	require.NoError(t, err)
	defer st.Close()
	v, err := st.VerifyAudit(t.Context())
	require.NoError(t, err)
	assert.Nil(t, v.Problem)
	var stale, dup int
	require.NoError(t, st.Pool().QueryRow(t.Context(), `SELECT count(*) FILTER (WHERE outcome='stale'), count(*) FILTER (WHERE outcome='duplicate') FROM audit WHERE action='ingest'`).Scan(&stale, &dup))
	assert.Positive(t, stale, "older versions were recognised")
	assert.Positive(t, dup, "repeats were recognised")
}
