package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"passerelle/config"
	"passerelle/connectors"
	"passerelle/connectors/builtin"
	"passerelle/pipeline"
)

// hub is a running hub of the test.
type hub struct {
	run  *pipeline.Running
	stop func()
}

// buildInstances reads the configuration yaml (DATABASE_URL and secrets from env) and
// builds its connectors as the binary does.
func buildInstances(t testing.TB, yaml string, env map[string]string) (*config.Config, map[string]*connectors.Instance) {
	t.Helper()
	return buildInstancesLogging(t, yaml, env, zap.NewNop())
}

// buildInstancesLogging is buildInstances with the connectors logging to log.
func buildInstancesLogging(t testing.TB, yaml string, env map[string]string, log *zap.Logger) (*config.Config, map[string]*connectors.Instance) {
	t.Helper()
	cfg, err := config.Read(strings.NewReader(yaml), func(k string) string { return env[k] })
	require.NoError(t, err)
	for _, k := range []string{"PRISME_CLIENT_SECRET", "APPI_DSN"} {
		if v := env[k]; v != "" {
			t.Setenv(k, v) // the registry reads secrets from the process environment
		}
	}
	instances, ps := builtin.Default().Instantiate(cfg, log)
	require.Empty(t, ps)
	return cfg, instances
}

// startHub runs a hub in this process with the configuration yaml (DATABASE_URL and
// secrets come from getenv), and stops it when the test ends.
func startHub(t testing.TB, yaml string, getenv func(string) string) *hub {
	t.Helper()
	return startHubLogging(t, yaml, getenv, nil)
}

// startHubLogging is startHub with the hub and its connectors logging to log (nil: the
// test's log, errors only).
func startHubLogging(t testing.TB, yaml string, getenv func(string) string, log *zap.Logger) *hub {
	t.Helper()
	env := map[string]string{}
	for _, k := range []string{"DATABASE_URL", "PRISME_CLIENT_SECRET", "APPI_DSN"} {
		env[k] = getenv(k)
	}
	connLog := log
	if log == nil {
		log, connLog = zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)), zap.NewNop()
	}
	cfg, instances := buildInstancesLogging(t, yaml, env, connLog)
	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan *pipeline.Running, 1)
	h := &pipeline.Hub{Config: cfg, Instances: instances, Log: log,
		OnReady: func(r *pipeline.Running) { ready <- r }}
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	out := &hub{}
	stopped := false
	out.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Error("the hub did not stop within 30 s")
		}
	}
	t.Cleanup(out.stop)
	select {
	case out.run = <-ready:
	case err := <-done:
		t.Fatalf("the hub stopped: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("the hub did not start within 60 s")
	}
	return out
}

// serve runs h on loopback until the test ends.
func serve(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

// waitFor polls ok until it holds, failing the test after d (a liveness bound, not a
// performance limit).
func waitFor(t testing.TB, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
