package connectortest_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/canonical"
	"passerelle/connectors"
	"passerelle/connectors/connectortest"
	"passerelle/connectors/jsonl"
	"passerelle/connectors/webhook"
	"passerelle/pipeline/pipelinetest"
	"passerelle/schemas"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// jsonlFixture writes 40 canonical measures as a JSON-lines file and returns its path.
func jsonlFixture(t *testing.T) string {
	t.Helper()
	lines, _ := pipelinetest.Facts(40, 6, 3)
	path := filepath.Join(t.TempDir(), "measures.jsonl")
	require.NoError(t, os.WriteFile(path, pipelinetest.JoinLines(lines), 0o600))
	return path
}

// The suite on the generic JSON-lines source: a real connector, a real file.
func TestTheSuiteAcceptsTheJSONLinesSource(t *testing.T) {
	connectortest.RunSource(t, connectortest.SourceHarness{
		Spec: jsonl.Spec,
		Start: func(t *testing.T) connectortest.System {
			return connectortest.System{Settings: map[string]any{"path": jsonlFixture(t), "batchSize": 7}}
		},
		BadSettings: []connectortest.BadSettings{
			{Name: "a missing path", Settings: map[string]any{}, Path: "path"},
			{Name: "a negative batch size", Settings: map[string]any{"path": "x", "batchSize": -1}},
			{Name: "an unknown setting", Settings: map[string]any{"path": "x", "colour": "blue"}},
		},
		Canaries: []string{"PERSONNE000001", "PERSONNE000002"},
		Golden:   filepath.Join("testdata", "jsonl.golden.json"),
		Update:   *update,
	})
}

// The suite on the webhook sink, delivering to the pipeline's test destination (which
// records one effect per idempotency key, as PRISME does).
func TestTheSuiteAcceptsTheWebhookSink(t *testing.T) {
	lines, _ := pipelinetest.Facts(12, 12, 5)
	var msgs []*canonical.Message
	seen := map[string]bool{}
	for _, l := range lines {
		m, err := canonical.DecodeMessage(l)
		require.NoError(t, err)
		if !seen[m.IdempotencyKey()] {
			seen[m.IdempotencyKey()] = true
			msgs = append(msgs, m)
		}
	}
	connectortest.RunSink(t, connectortest.SinkHarness{
		Spec: webhook.Spec,
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
					SetLatency: func(d time.Duration) {
						if d == 0 {
							dest.SetFaults(pipelinetest.Faults{})
							return
						}
						dest.SetFaults(pipelinetest.Faults{Hang: 1, HangFor: d})
					},
					Fail: func(f connectortest.Fault) { dest.SetFaults(destinationFaults(f)) },
				},
				Records: func() int { return len(dest.Applied()) },
			}
		},
		BadSettings: []connectortest.BadSettings{
			{Name: "a missing url", Settings: map[string]any{"recipient": "other"}, Path: "url"},
			{Name: "an unknown recipient", Settings: map[string]any{"url": "http://127.0.0.1:1/in", "recipient": "anyone"}, Path: "recipient"},
		},
		Messages: msgs,
		Canaries: []string{"PERSONNE000001"},
	})
}

// replayingSource is a source whose positions do not hold: resumed from any position,
// it starts over, reading every fact again.
type replayingSource struct{ facts []connectors.Fact }

func (s replayingSource) Read(_ context.Context, position string) (connectors.Batch, error) {
	i := 0
	if position == "restart" {
		return connectors.Batch{Next: position}, nil
	}
	if position != "" {
		n, err := strconv.Atoi(position)
		if err != nil {
			return connectors.Batch{}, err
		}
		i = n
	}
	if i >= len(s.facts) {
		return connectors.Batch{Next: position}, nil
	}
	return connectors.Batch{Facts: s.facts[i : i+1], Next: strconv.Itoa(i + 1)}, nil
}

// measureFacts returns n facts of one measure message each.
func measureFacts(t *testing.T, n int) []connectors.Fact {
	t.Helper()
	lines, _ := pipelinetest.Facts(n, n, 9)
	facts := make([]connectors.Fact, n)
	for i, l := range lines {
		m, err := canonical.DecodeMessage(l)
		require.NoError(t, err)
		facts[i] = connectors.Fact{Raw: l, Messages: []*canonical.Message{m}}
	}
	return facts
}

func TestTheResumeCheckCatchesAFactLostOrReadTwice(t *testing.T) {
	facts := measureFacts(t, 4)
	good := replayingSource{facts: facts}
	reads, err := connectortest.ReadToEnd(t.Context(), good, "", 100)
	require.NoError(t, err)
	require.Len(t, reads, 4)
	require.NoError(t, connectortest.CheckResume(t.Context(), good, reads, 100, 10), "a source that resumes exactly passes")

	t.Run("a position that loses what follows it fails", func(t *testing.T) {
		lossy := reads
		lossy[1].Batch.Next = "restart" // resuming there reads nothing
		err := connectortest.CheckResume(t.Context(), good, lossy, 100, 10)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "missing")
	})
	t.Run("a position that reads earlier facts again fails", func(t *testing.T) {
		again, err := connectortest.ReadToEnd(t.Context(), good, "", 100)
		require.NoError(t, err)
		again[2].Batch.Next = "1" // resuming there reads the third fact again
		err = connectortest.CheckResume(t.Context(), good, again, 100, 10)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "read again")
	})
	t.Run("a batch with facts that does not move the position fails", func(t *testing.T) {
		stuck := sourceFunc(func(context.Context, string) (connectors.Batch, error) {
			return connectors.Batch{Facts: facts[:1], Next: ""}, nil
		})
		_, err := connectortest.ReadToEnd(t.Context(), stuck, "", 100)
		require.Error(t, err)
	})
}

// sourceFunc is a Source made of a function.
type sourceFunc func(ctx context.Context, position string) (connectors.Batch, error)

func (f sourceFunc) Read(ctx context.Context, position string) (connectors.Batch, error) {
	return f(ctx, position)
}

func TestTheCancellationCheckCatchesASourceThatIgnoresItsContext(t *testing.T) {
	facts := measureFacts(t, 1)
	ignoring := sourceFunc(func(context.Context, string) (connectors.Batch, error) {
		return connectors.Batch{Facts: facts, Next: "1"}, nil
	})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.Error(t, connectortest.CheckCancelled(ctx, ignoring))

	honouring := sourceFunc(func(ctx context.Context, _ string) (connectors.Batch, error) {
		return connectors.Batch{}, ctx.Err()
	})
	require.NoError(t, connectortest.CheckCancelled(ctx, honouring))
}

func TestTheFactCheckCatchesInvalidMessagesAndCanariesInErrors(t *testing.T) {
	reg, facts := registryAndFacts(t)
	require.NoError(t, connectortest.CheckFacts(reg, facts, nil))

	broken := *facts[0].Messages[0]
	broken.Data = []byte(`{"version":1}`)
	require.Error(t, connectortest.CheckFacts(reg, []connectors.Fact{{Messages: []*canonical.Message{&broken}}}, nil),
		"a message the schemas refuse")

	leaky := connectors.Fact{Raw: []byte("x"), Stage: "decode", Err: errors.New("bad line for PERSONNE000001")}
	require.Error(t, connectortest.CheckFacts(reg, []connectors.Fact{leaky}, []string{"PERSONNE000001"}), "a canary in an error")
	leaky.Err = errors.New("bad line")
	require.NoError(t, connectortest.CheckFacts(reg, []connectors.Fact{leaky}, []string{"PERSONNE000001"}))
	leaky.Raw = nil
	require.Error(t, connectortest.CheckFacts(reg, []connectors.Fact{leaky}, nil), "a failure without its raw input")
	leaky.Raw, leaky.Stage = []byte("x"), "validate"
	require.Error(t, connectortest.CheckFacts(reg, []connectors.Fact{leaky}, nil), "a stage the source does not own")
	require.Error(t, connectortest.CheckFacts(reg, []connectors.Fact{{Raw: []byte("x")}}, nil), "a fact with nothing")
}

// registryAndFacts returns the canonical schemas and a few valid facts.
func registryAndFacts(t *testing.T) (*schemas.Registry, []connectors.Fact) {
	t.Helper()
	reg, err := schemas.Load()
	require.NoError(t, err)
	return reg, measureFacts(t, 3)
}

func TestTheDeliveryCheckCatchesASecondRecordForOneKey(t *testing.T) {
	msgs := []*canonical.Message{measureFacts(t, 1)[0].Messages[0]}
	records := 0
	careless := sinkFunc(func(context.Context, connectors.Delivery) (connectors.Receipt, error) {
		records++ // every request makes a record, key or no key
		return connectors.Receipt{ID: fmt.Sprint(records)}, nil
	})
	err := connectortest.CheckDeliveries(t.Context(), careless, msgs, func() int { return records }, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "same keys")

	claimsSuccess := sinkFunc(func(context.Context, connectors.Delivery) (connectors.Receipt, error) {
		return connectors.Receipt{}, nil
	})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.Error(t, connectortest.CheckDeliveryCancelled(ctx, claimsSuccess, msgs[0]))
}

// sinkFunc is a Sink made of a function.
type sinkFunc func(ctx context.Context, d connectors.Delivery) (connectors.Receipt, error)

func (f sinkFunc) Deliver(ctx context.Context, d connectors.Delivery) (connectors.Receipt, error) {
	return f(ctx, d)
}

// destinationFaults is the test destination's way of injecting f.
func destinationFaults(f connectortest.Fault) pipelinetest.Faults {
	switch f {
	case connectortest.TransientFault:
		return pipelinetest.Faults{Fail5xx: 1}
	case connectortest.PermanentFault:
		return pipelinetest.Faults{Refuse422: 1}
	}
	return pipelinetest.Faults{}
}
