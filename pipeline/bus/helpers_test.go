package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"passerelle/canonical"
)

// TestMain fails the package when any test leaves a goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Test timings: short enough that a rebalance takes well under a second, within
// the bounds of the broker started by startBroker.
const (
	testMinSessionTimeout = 500 * time.Millisecond
	testSessionTimeout    = time.Second
)

// startBroker starts an embedded broker with topics of the given partition count,
// closed when the test ends.
func startBroker(t testing.TB, partitions int, topics ...string) *Embedded {
	t.Helper()
	b, err := StartEmbedded(t.Context(), EmbeddedOptions{
		Topics:                 topics,
		Partitions:             partitions,
		GroupMinSessionTimeout: testMinSessionTimeout,
		Logger:                 testLogger(t),
	})
	require.NoError(t, err)
	t.Cleanup(b.Close)
	return b
}

// testLogger shows warnings and errors in the test's output.
func testLogger(t testing.TB) *zap.Logger {
	t.Helper()
	return zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
}

// newTestPublisher returns a Publisher closed when the test ends.
func newTestPublisher(t testing.TB, brokers []string) *Publisher {
	t.Helper()
	p, err := NewPublisher(PublisherConfig{Brokers: brokers, Logger: testLogger(t)})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	return p
}

// testConsumerConfig is a consumer of group over topics with the short test timings.
func testConsumerConfig(t testing.TB, brokers []string, group string, topics ...string) ConsumerConfig {
	t.Helper()
	return ConsumerConfig{
		Brokers:           brokers,
		Group:             group,
		Topics:            topics,
		SessionTimeout:    testSessionTimeout,
		HeartbeatInterval: 100 * time.Millisecond,
		RebalanceTimeout:  2 * time.Second,
		MaxWait:           100 * time.Millisecond,
		JoinGroupBackoff:  100 * time.Millisecond,
		Logger:            testLogger(t),
	}
}

// newTestConsumer returns a Consumer that the caller closes (tests close consumers
// on purpose, mid-test).
func newTestConsumer(t testing.TB, brokers []string, group string, topics ...string) *Consumer {
	t.Helper()
	c, err := NewConsumer(t.Context(), testConsumerConfig(t, brokers, group, topics...))
	require.NoError(t, err)
	return c
}

// testMessage is a canonical message about subject, with a small JSON payload.
func testMessage(t testing.TB, subject string, version int64) *canonical.Message {
	t.Helper()
	data, err := json.Marshal(map[string]any{"n": version, "pad": strings.Repeat("x", 64)})
	require.NoError(t, err)
	return &canonical.Message{
		SpecVersion:     canonical.SpecVersion,
		ID:              fmt.Sprintf("msg-%s-%d", subject, version),
		Source:          "/connectors/genesis",
		Type:            canonical.TypePenalRecord,
		Time:            time.Date(2024, 4, 12, 9, 30, 0, 123456789, time.UTC),
		Subject:         subject,
		DataSchema:      canonical.DataSchemaPenalRecord,
		DataContentType: canonical.ContentTypeJSON,
		FactSystem:      canonical.SystemGenesis,
		FactRef:         "fiche/24-0412/0750101",
		FactVersion:     version,
		Data:            data,
	}
}

// publishSubjects publishes one message per subject to topic and returns their ids.
func publishSubjects(t testing.TB, p *Publisher, topic string, subjects []string, version int64) []string {
	t.Helper()
	msgs := make([]kafka.Message, len(subjects))
	ids := make([]string, len(subjects))
	for i, s := range subjects {
		m := testMessage(t, s, version)
		msgs[i], ids[i] = ToKafka(m, topic), m.ID
	}
	require.NoError(t, p.Publish(t.Context(), msgs...))
	return ids
}

// subjectsCovering returns n subjects, per partition at least one, of a topic with
// the given partition count (placement by Murmur2, as the Publisher does).
func subjectsCovering(partitions, n int) []string {
	seen := make(map[int]bool)
	parts := make([]int, partitions)
	for i := range parts {
		parts[i] = i
	}
	var subjects []string
	for i := 0; len(subjects) < n || len(seen) < partitions; i++ {
		s := fmt.Sprintf("person-%04d", i)
		seen[(&kafka.Murmur2Balancer{}).Balance(kafka.Message{Key: []byte(s)}, parts...)] = true
		subjects = append(subjects, s)
	}
	return subjects
}

// fetchN fetches n messages from c, failing the test if they do not come within
// the deadline.
func fetchN(t testing.TB, c *Consumer, n int, within time.Duration) []kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), within)
	defer cancel()
	out := make([]kafka.Message, 0, n)
	for len(out) < n {
		m, err := c.Fetch(ctx)
		require.NoError(t, err, "fetched %d of %d messages", len(out), n)
		out = append(out, m)
	}
	return out
}

// ids returns the ce_id of each message, sorted.
func ids(t testing.TB, msgs []kafka.Message) []string {
	t.Helper()
	out := make([]string, len(msgs))
	for i, km := range msgs {
		m, err := FromKafka(km)
		require.NoError(t, err)
		out[i] = m.ID
	}
	slices.Sort(out)
	return out
}

// fetched is a message and the consumer that fetched it.
type fetched struct {
	by string
	km kafka.Message
}

// fetchFromAll fetches from several consumers at once until n messages came in
// total, and returns them; each consumer keeps fetching only while the others do.
func fetchFromAll(t testing.TB, n int, within time.Duration, consumers map[string]*Consumer) []fetched {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), within)
	defer cancel()
	ch := make(chan fetched)
	var wg sync.WaitGroup
	for name, c := range consumers {
		wg.Go(func() {
			for {
				km, err := c.Fetch(ctx)
				if err != nil {
					return
				}
				select {
				case ch <- fetched{name, km}:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	var out []fetched
	for len(out) < n {
		select {
		case f := <-ch:
			out = append(out, f)
		case <-ctx.Done():
			cancel()
			wg.Wait()
			require.Failf(t, "messages missing", "fetched %d of %d messages", len(out), n)
		}
	}
	cancel()
	wg.Wait()
	return out
}

// groupAssignments describes group: its state and each member's partitions as
// "topic/partition".
func groupAssignments(t testing.TB, brokers []string, group string) (string, [][]string) {
	t.Helper()
	transport := &kafka.Transport{}
	defer transport.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: transport}
	resp, err := client.DescribeGroups(t.Context(), &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
	require.NoError(t, err)
	require.Len(t, resp.Groups, 1)
	g := resp.Groups[0]
	var members [][]string
	for _, m := range g.Members {
		var parts []string
		for _, tp := range m.MemberAssignments.Topics {
			for _, p := range tp.Partitions {
				parts = append(parts, fmt.Sprintf("%s/%d", tp.Topic, p))
			}
		}
		slices.Sort(parts)
		members = append(members, parts)
	}
	return g.GroupState, members
}
