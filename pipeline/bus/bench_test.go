package bus

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"passerelle/canonical"
)

// benchPartitions is the partition count of the benchmark topics (config default).
const benchPartitions = 6

// benchBatch builds n 1 KiB messages (data) for topic, keyed by 10,000 persons.
func benchBatch(b *testing.B, topic string, n int) []kafka.Message {
	b.Helper()
	data, err := json.Marshal(map[string]string{"pad": strings.Repeat("x", 1024-len(`{"pad":""}`))})
	require.NoError(b, err)
	require.Len(b, data, 1024)
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		m := testMessage(b, fmt.Sprintf("person-%05d", i%10000), int64(i))
		m.Data = data
		msgs[i] = ToKafka(m, topic)
	}
	return msgs
}

// BenchmarkPublish publishes batches of 1,000 messages of 1 KiB, synchronously, to the
// embedded broker over TCP; one op is one batch. The BatchTimeout sub-benchmarks show
// why the Publisher does not keep kafka-go's default: each Publish splits its batch
// over the partitions, and a partial batch per partition waits out the timeout.
func BenchmarkPublish(b *testing.B) {
	const batch = 1000
	for _, bt := range []struct {
		name    string
		timeout time.Duration
	}{
		{"BatchTimeout=1ms", time.Millisecond},
		{"BatchTimeout=10ms", 10 * time.Millisecond},
		{"BatchTimeout=1s(kafka-go_default)", time.Second},
	} {
		b.Run(bt.name, func(b *testing.B) {
			const topic = "passerelle.bench.publish"
			broker := startBroker(b, benchPartitions, topic)
			p, err := NewPublisher(PublisherConfig{Brokers: broker.Addrs(), BatchTimeout: bt.timeout})
			require.NoError(b, err)
			defer func() { require.NoError(b, p.Close()) }()
			msgs := benchBatch(b, topic, batch)
			require.NoError(b, p.Publish(b.Context(), msgs...)) // connections and metadata

			b.SetBytes(batch * 1024)
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if err := p.Publish(b.Context(), msgs...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "msgs/s")
		})
	}
}

// BenchmarkConsume fetches 1 KiB messages from the embedded broker with a consumer
// group, committing every 1,000 (synchronously); one op is one message. A new group
// starts every 50,000 messages (the join is not timed), so that the broker holds a
// bounded amount of data whatever b.N.
func BenchmarkConsume(b *testing.B) {
	const (
		topic  = "passerelle.bench.consume"
		stock  = 50_000
		commit = 1000
	)
	broker := startBroker(b, benchPartitions, topic)
	p, err := NewPublisher(PublisherConfig{Brokers: broker.Addrs()})
	require.NoError(b, err)
	msgs := benchBatch(b, topic, 1000)
	for range stock / len(msgs) {
		require.NoError(b, p.Publish(b.Context(), msgs...))
	}
	require.NoError(b, p.Close())

	ctx := b.Context()
	var (
		c       *Consumer
		group   int
		read    int
		pending []kafka.Message
	)
	closeConsumer := func() {
		if c != nil {
			require.NoError(b, c.Close())
		}
	}
	defer closeConsumer()
	b.SetBytes(1024)
	b.ResetTimer()
	start := time.Now()
	var paused time.Duration
	for range b.N {
		if c == nil || read == stock {
			t0 := time.Now()
			b.StopTimer()
			closeConsumer()
			group++
			cfg := testConsumerConfig(b, broker.Addrs(), fmt.Sprintf("bench-%d", group), topic)
			cfg.Logger = nil
			c, err = NewConsumer(ctx, cfg)
			require.NoError(b, err)
			read, pending = 0, pending[:0]
			// Wait for the join before timing.
			km, err := c.Fetch(ctx)
			require.NoError(b, err)
			pending = append(pending, km)
			read++
			b.StartTimer()
			paused += time.Since(t0)
			continue
		}
		km, err := c.Fetch(ctx)
		if err != nil {
			b.Fatal(err)
		}
		read++
		pending = append(pending, km)
		if len(pending) == commit {
			if err := c.Commit(ctx, pending...); err != nil {
				b.Fatal(err)
			}
			pending = pending[:0]
		}
	}
	b.ReportMetric(float64(b.N)/(time.Since(start)-paused).Seconds(), "msgs/s")
}

// BenchmarkToKafka renders a penal-record-sized message (1.7 KiB of data).
func BenchmarkToKafka(b *testing.B) {
	m := benchMessage(b)
	b.ReportAllocs()
	for b.Loop() {
		_ = ToKafka(m, "passerelle.fr.justice.penal-record.v1")
	}
}

// BenchmarkFromKafka reads back what BenchmarkToKafka renders.
func BenchmarkFromKafka(b *testing.B) {
	km := ToKafka(benchMessage(b), "passerelle.fr.justice.penal-record.v1")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FromKafka(km); err != nil {
			b.Fatal(err)
		}
	}
}

func benchMessage(b *testing.B) *canonical.Message {
	b.Helper()
	m := testMessage(b, "4f1c2a9e-6b7d-4e21-9a0b-3c5d7e9f1a2b", 12)
	m.ID = "0b6f7c1e-2f0a-4c53-9a54-5d5b0b1f3c11"
	m.Data = json.RawMessage(`{"pad":"` + strings.Repeat("x", 1700) + `"}`)
	return m
}
