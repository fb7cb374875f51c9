package connectortest_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"passerelle/canonical"
	"passerelle/config"
	"passerelle/connectors"
	"passerelle/connectors/connectortest"
	"passerelle/connectors/jsonl"
	"passerelle/connectors/webhook"
	"passerelle/pipeline/pipelinetest"
)

// brokenEnv is set in the child process that runs the whole suite on one broken
// connector: the Broken* tests do nothing without it (they are the children of
// TestTheSuiteFailsOnEachBrokenConnector, which expects them to fail).
const brokenEnv = "CONNECTORTEST_RUN_BROKEN"

// The suite is run whole, in a child test process, on each deliberately broken
// connector: the child must fail, and its output must name the broken rule. Running
// it in a child is the only way to see the suite fail without failing this test.
func TestTheSuiteFailsOnEachBrokenConnector(t *testing.T) {
	for _, c := range []struct{ name, test, rule string }{
		{"a source that loses its checkpoint on a restart", "TestBrokenSourceLosesItsCheckpoint", connectortest.RuleResumeAfterCrash},
		{"a source that logs a name", "TestBrokenSourceLogsAName", connectortest.RuleNoPersonalDataLog},
		{"a sink that retries a permanent error forever", "TestBrokenSinkRetriesARefusalForever", connectortest.RulePermanentRefused},
	} {
		t.Run(c.name+" fails the suite, which names the rule", func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run", "^"+c.test+"$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), brokenEnv+"=1")
			out, err := cmd.CombinedOutput()
			require.Error(t, err, "the suite passed a broken connector:\n%s", out)
			assert.Contains(t, string(out), c.rule, "the failure does not name the broken rule:\n%s", out)
			assert.Contains(t, string(out), "--- FAIL: "+c.test)
		})
	}
}

// runBroken reports whether this process is the child that runs a broken connector.
func runBroken(t *testing.T) bool {
	t.Helper()
	if os.Getenv(brokenEnv) == "" {
		t.Log("run by TestTheSuiteFailsOnEachBrokenConnector in a child process, where it must fail")
		return false
	}
	return true
}

// jsonlBadSettings are the broken settings of the jsonl-based broken sources.
var jsonlBadSettings = []connectortest.BadSettings{{Name: "a missing path", Settings: map[string]any{}, Path: "path"}}

// wrapSource is a Spec whose instances are jsonl sources wrapped by wrap.
func wrapSource(kind string, wrap func(env connectors.Env, inner connectors.Source) connectors.Source) connectors.Spec {
	return connectors.Spec{
		Kind:    kind,
		Summary: "source: a deliberately broken jsonl source",
		New: func(env connectors.Env, settings map[string]any, path string) (*connectors.Instance, config.Problems) {
			inst, ps := jsonl.Spec.New(env, settings, path)
			if len(ps) > 0 {
				return nil, ps
			}
			return &connectors.Instance{Source: wrap(env, inst.Source)}, nil
		},
	}
}

// lossySource keeps its real positions in memory and hands the pipeline tokens: it
// resumes well within one process, and reads everything again after a restart.
type lossySource struct {
	inner  connectors.Source
	mu     sync.Mutex
	tokens map[string]string
}

func (s *lossySource) Read(ctx context.Context, position string) (connectors.Batch, error) {
	s.mu.Lock()
	real := s.tokens[position] // unknown after a restart: from the beginning
	s.mu.Unlock()
	b, err := s.inner.Read(ctx, real)
	if err != nil {
		return b, err
	}
	if b.Next == real {
		b.Next = position
		return b, nil
	}
	token := "t" + strconv.Itoa(len(b.Next)) + "-" + b.Next
	s.mu.Lock()
	s.tokens[token] = b.Next
	s.mu.Unlock()
	b.Next = token
	return b, nil
}

func TestBrokenSourceLosesItsCheckpoint(t *testing.T) {
	if !runBroken(t) {
		return
	}
	connectortest.RunSource(t, connectortest.SourceHarness{
		Spec: wrapSource("lossy", func(_ connectors.Env, inner connectors.Source) connectors.Source {
			return &lossySource{inner: inner, tokens: map[string]string{}}
		}),
		Start: func(t *testing.T) connectortest.System {
			return connectortest.System{Settings: map[string]any{"path": jsonlFixture(t), "batchSize": 7}}
		},
		BadSettings: jsonlBadSettings,
	})
}

// chattySource logs the last name of every person it reads.
type chattySource struct {
	inner connectors.Source
	log   *zap.Logger
}

func (s chattySource) Read(ctx context.Context, position string) (connectors.Batch, error) {
	b, err := s.inner.Read(ctx, position)
	for _, f := range b.Facts {
		for _, m := range f.Messages {
			var d struct {
				Person struct {
					LastName string `json:"lastName"`
				} `json:"person"`
			}
			_ = json.Unmarshal(m.Data, &d)
			s.log.Debug("read a measure", zap.String("message_id", m.ID), zap.String("person", d.Person.LastName))
		}
	}
	return b, err
}

func TestBrokenSourceLogsAName(t *testing.T) {
	if !runBroken(t) {
		return
	}
	connectortest.RunSource(t, connectortest.SourceHarness{
		Spec: wrapSource("chatty", func(env connectors.Env, inner connectors.Source) connectors.Source {
			return chattySource{inner: inner, log: env.Logger}
		}),
		Start: func(t *testing.T) connectortest.System {
			return connectortest.System{Settings: map[string]any{"path": jsonlFixture(t), "batchSize": 7}}
		},
		BadSettings: jsonlBadSettings,
		Canaries:    []string{"PERSONNE000001", "PERSONNE000002"},
	})
}

// stubbornSink delivers again, at once, every message the destination refuses, until
// its context ends.
type stubbornSink struct{ inner connectors.Sink }

func (s stubbornSink) Deliver(ctx context.Context, d connectors.Delivery) (connectors.Receipt, error) {
	for {
		rc, err := s.inner.Deliver(ctx, d)
		if err == nil || !connectors.IsPermanent(err) || ctx.Err() != nil {
			return rc, err
		}
	}
}

func TestBrokenSinkRetriesARefusalForever(t *testing.T) {
	if !runBroken(t) {
		return
	}
	spec := connectors.Spec{
		Kind:    "stubborn",
		Summary: "sink: a deliberately broken webhook sink",
		New: func(env connectors.Env, settings map[string]any, path string) (*connectors.Instance, config.Problems) {
			inst, ps := webhook.Spec.New(env, settings, path)
			if len(ps) > 0 {
				return nil, ps
			}
			inst.Sink = stubbornSink{inner: inst.Sink}
			return inst, nil
		},
	}
	connectortest.RunSink(t, connectortest.SinkHarness{
		Spec: spec,
		Start: func(t *testing.T) connectortest.SinkSystem {
			dest := pipelinetest.NewDestination(1)
			t.Cleanup(dest.Close)
			return connectortest.SinkSystem{
				System: connectortest.System{
					Settings: map[string]any{"url": dest.URL(), "recipient": "other", "timeout": "5s"},
					Calls: func() int64 {
						requests, _, _ := dest.Stats()
						return int64(requests)
					},
					Fail: func(f connectortest.Fault) { dest.SetFaults(destinationFaults(f)) },
				},
				Records: func() int { return len(dest.Applied()) },
			}
		},
		BadSettings: []connectortest.BadSettings{{Name: "a missing url", Settings: map[string]any{"recipient": "other"}, Path: "url"}},
		Messages:    []*canonical.Message{measureFacts(t, 1)[0].Messages[0]},
	})
}
