package bus

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/canonical"
)

// TestKcatReadsTheCloudEventsHeadersOffTheWire has an independent Kafka client
// (librdkafka's kcat) read what the Publisher wrote: the wire format is standard Kafka
// and the CloudEvents binding is there for any consumer to see.
func TestKcatReadsTheCloudEventsHeadersOffTheWire(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	require.NoError(t, err, "kcat is required by this test: apt-get install kcat")

	topic := TopicFor("passerelle", canonical.TypePenalRecord)
	b := startBroker(t, 1, topic)
	p := newTestPublisher(t, b.Addrs())
	m := testMessage(t, "P-000042", 7)
	require.NoError(t, p.Publish(t.Context(), ToKafka(m, topic)))

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, kcat, "-b", b.Addrs()[0], "-C", "-t", topic,
		"-o", "beginning", "-c", "1", "-e", "-J", "-q").Output()
	require.NoError(t, err, "kcat: %s", stderrOf(err))

	var record struct {
		Topic     string   `json:"topic"`
		Partition int      `json:"partition"`
		Offset    int64    `json:"offset"`
		Headers   []string `json:"headers"`
		Key       string   `json:"key"`
		Payload   string   `json:"payload"`
	}
	require.NoError(t, json.Unmarshal(out, &record), "kcat output: %s", out)
	assert.Equal(t, topic, record.Topic)
	assert.Equal(t, "P-000042", record.Key)
	assert.JSONEq(t, string(m.Data), record.Payload)

	require.Zero(t, len(record.Headers)%2, "kcat lists headers as name, value pairs")
	headers := map[string]string{}
	for i := 0; i < len(record.Headers); i += 2 {
		headers[record.Headers[i]] = record.Headers[i+1]
	}
	assert.Equal(t, map[string]string{
		"ce_specversion": "1.0",
		"ce_id":          m.ID,
		"ce_source":      m.Source,
		"ce_type":        canonical.TypePenalRecord,
		"ce_time":        "2024-04-12T09:30:00.123456789Z",
		"ce_subject":     "P-000042",
		"ce_dataschema":  canonical.DataSchemaPenalRecord,
		"ce_factsystem":  "GENESIS",
		"ce_factref":     m.FactRef,
		"ce_factversion": "7",
		"content-type":   "application/json",
	}, headers)
}

// stderrOf returns what a failed command wrote on its standard error.
func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}
