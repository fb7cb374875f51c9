package connectortest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap"

	"passerelle/canonical"
	"passerelle/config"
	"passerelle/connectors"
	"passerelle/internal/pgtest"
	"passerelle/pipeline"
	"passerelle/pipeline/store"
)

// PushHarness is a push source under test (a connector whose instance has Serve:
// its system calls the hub, the hub polls nothing).
type PushHarness struct {
	// Spec is the connector's registry entry.
	Spec connectors.Spec
	// Start prepares what the instance needs to serve (certificates, a free address)
	// and the system's side that pushes; each check that serves calls it anew.
	Start func(t *testing.T) PushSystem
	// BadSettings are broken settings the connector must refuse. At least one.
	BadSettings []BadSettings
	// Canaries are the personal data of the fixture: none may appear in a log entry,
	// an error text or a quarantine reason.
	Canaries []string
	// Golden is the file of the golden canonical messages of the fixture (GoldenOf);
	// "" skips the comparison. Update rewrites it.
	Golden string
	Update bool
}

// PushSystem is the system's side of a push source: it pushes the fixture through the
// instance's real protocol.
type PushSystem struct {
	// Settings configure the instance (connectors.<name> without kind).
	Settings map[string]any
	// Push sends the whole fixture to the instance, which serves at the address its
	// settings name, as the system does, and returns once every call was answered; an
	// error means a call was not accepted (for a fixture the instance must accept).
	Push func(ctx context.Context) error
}

// RunPush checks a push source:
//
//   - a usable Spec; broken settings refused with problems at their paths; valid
//     settings build an instance with Serve, without serving yet;
//   - serving, the fixture pushed by the system reaches the hub as facts whose
//     messages are valid against the canonical schemas (mapped to the golden ones),
//     whose failed facts keep their raw input, stage and an error without personal
//     data, and which the hub's real push host (pipeline.PushHost, on PostgreSQL)
//     commits;
//   - the same fixture pushed again gives the same fact identities and idempotency
//     keys, and nothing new is accepted;
//   - the instance's Decoder, if any, decodes the raw input of every fact again;
//   - Serve returns promptly once its context ends; the logs carry no personal data;
//     no goroutine is left behind.
func RunPush(t *testing.T, h PushHarness) {
	t.Helper()
	require.NotNil(t, h.Start, "the harness needs Start")
	require.NotEmpty(t, h.BadSettings, "the harness needs broken settings to prove they are refused")
	before := goleak.IgnoreCurrent()

	runSpecChecks(t, h.Spec, h.BadSettings)
	t.Run("serving", func(t *testing.T) {
		sys := h.Start(t)
		e, logs := env(t)
		inst := build(t, h.Spec, e, sys.Settings)
		require.NotNil(t, inst.Serve, "a push source's instance has Serve")
		host := newRecordingHost(t)
		ctx, cancel := context.WithCancel(t.Context())
		served := make(chan error, 1)
		go func() { served <- inst.Serve(ctx, host) }()
		stopped := false
		stop := func() error {
			if stopped {
				return nil
			}
			stopped = true
			cancel()
			select {
			case err := <-served:
				return err
			case <-time.After(Liveness):
				return fmt.Errorf("the instance's Serve has not returned %s after its context ended", Liveness)
			}
		}
		t.Cleanup(func() { _ = stop() })

		require.NoError(t, pushWithin(t, sys.Push), "the system's push of the fixture")
		first := host.take()
		require.NotEmpty(t, first, "the fixture gives no fact: the checks would prove nothing")
		require.NoError(t, ruleErr(RuleSchemas, someMessage(first)))
		accepted := host.accepted()
		require.Positive(t, accepted, "the hub accepted none of the fixture's messages")

		t.Run("every message is valid against the canonical schemas", func(t *testing.T) {
			require.NoError(t, ruleErr(RuleSchemas, CheckFacts(registry(t), first, h.Canaries)))
		})
		if h.Golden != "" {
			t.Run("the fixture maps to the golden canonical messages", func(t *testing.T) {
				got, err := GoldenOf(first)
				require.NoError(t, err)
				if h.Update {
					require.NoError(t, os.MkdirAll(filepath.Dir(h.Golden), 0o750))
					require.NoError(t, os.WriteFile(h.Golden, got, 0o600))
				}
				want, err := os.ReadFile(h.Golden)
				require.NoError(t, err, "run the test with -update to create it")
				assert.JSONEq(t, string(want), string(got), "%s: the fixture no longer maps to %s (run with -update after checking the change)", RuleSchemas, h.Golden)
			})
		}
		t.Run("idempotency keys are stable: the same push again accepts nothing new", func(t *testing.T) {
			require.NoError(t, pushWithin(t, sys.Push), "the system's second push of the fixture")
			again := host.take()
			require.NoError(t, ruleErr(RuleStableKeys, CheckStableKeys(first, again)))
			assert.Equal(t, accepted, host.accepted(), "%s: pushed again, the fixture was accepted as new facts", RuleStableKeys)
		})
		if inst.Decoder != nil {
			t.Run("the raw input of every fact decodes again for replay", func(t *testing.T) {
				require.NoError(t, ruleErr(RuleQuarantine, CheckDecoder(t.Context(), inst.Decoder, first, h.Canaries)))
			})
		}
		t.Run("Serve returns promptly once its context ends", func(t *testing.T) {
			require.NoError(t, ruleErr(RuleCancellation, stop()))
		})
		t.Run("logs carry no personal data", func(t *testing.T) {
			require.NoError(t, ruleErr(RuleNoPersonalDataLog, checkLogs(logs, h.Canaries)))
			reasons, err := host.reasons()
			require.NoError(t, err)
			for _, r := range reasons {
				if c, ok := containsCanary(r, h.Canaries); ok {
					t.Errorf("%s: a quarantine reason carries %q", RuleNoPersonalDataLog, c)
				}
			}
		})
	})
	t.Run("no goroutine is left behind", func(t *testing.T) {
		require.NoError(t, ruleErr(RuleNoGoroutineLeak, goleak.Find(before)))
	})
}

// pushWithin runs push, failing after Liveness.
func pushWithin(t *testing.T, push func(context.Context) error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), Liveness)
	defer cancel()
	return push(ctx)
}

// recordingHost is the hub's real push host on a fresh database, which also keeps the
// facts it was given, for the checks.
type recordingHost struct {
	*pipeline.PushHost
	st *store.Store

	mu    sync.Mutex
	facts []connectors.Fact
}

func newRecordingHost(t *testing.T) *recordingHost {
	t.Helper()
	st, err := store.Open(t.Context(), pgtest.NewDatabase(t), store.Options{MaxConns: 8})
	require.NoError(t, err)
	t.Cleanup(st.Close)
	reg := registry(t)
	routing, ps := pipeline.NewRouting(&config.Config{}, pipeline.Catalog{Reg: reg}, nil)
	require.Empty(t, ps)
	return &recordingHost{st: st, PushHost: &pipeline.PushHost{Name: InstanceName, Store: st, Log: zap.NewNop(),
		Ingester: &pipeline.Ingester{Store: st, Schemas: reg, Routing: routing, Log: zap.NewNop()}}}
}

// Accept keeps a copy of the facts as the connector made them (the host resolves
// subjects in place), then commits them through the real host.
func (h *recordingHost) Accept(ctx context.Context, p connectors.Push) (connectors.Pushed, error) {
	h.mu.Lock()
	for _, f := range p.Facts {
		c := f
		c.Messages = make([]*canonical.Message, len(f.Messages))
		for i, m := range f.Messages {
			mc := *m
			c.Messages[i] = &mc
		}
		h.facts = append(h.facts, c)
	}
	h.mu.Unlock()
	return h.PushHost.Accept(ctx, p)
}

// take returns the facts received since the last take.
func (h *recordingHost) take() []connectors.Fact {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.facts
	h.facts = nil
	return out
}

// accepted counts the messages the hub committed.
func (h *recordingHost) accepted() int {
	var n int
	if err := h.st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM outbox`).Scan(&n); err != nil {
		return -1
	}
	return n
}

// reasons returns the quarantine reasons of what the hub refused.
func (h *recordingHost) reasons() ([]string, error) {
	items, err := h.st.ListQuarantine(context.Background(), store.QuarantineFilter{Status: "all", Limit: 10000})
	if err != nil {
		return nil, errors.Join(errors.New("list quarantine"), err)
	}
	out := make([]string, len(items))
	for i, q := range items {
		out[i] = q.Reason
	}
	return out, nil
}
