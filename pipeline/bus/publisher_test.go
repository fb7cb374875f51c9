package bus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestPublishedMessagesComeBackIntactThroughTheBroker(t *testing.T) {
	const topic = "passerelle.fr.justice.penal-record.v1"
	b := startBroker(t, 6, topic)
	p := newTestPublisher(t, b.Addrs())

	sent := map[string]*struct{ msg, got any }{}
	var msgs []kafka.Message
	for i := range 50 {
		m := testMessage(t, fmt.Sprintf("P-%03d", i%7), int64(i))
		sent[m.ID] = &struct{ msg, got any }{msg: m}
		msgs = append(msgs, ToKafka(m, topic))
	}
	require.NoError(t, p.Publish(t.Context(), msgs...))

	c := newTestConsumer(t, b.Addrs(), "roundtrip", topic)
	defer func() { require.NoError(t, c.Close()) }()
	for _, km := range fetchN(t, c, len(msgs), 20*time.Second) {
		got, err := FromKafka(km)
		require.NoError(t, err)
		s, ok := sent[got.ID]
		require.True(t, ok, "unexpected message")
		require.Nil(t, s.got, "message fetched twice")
		s.got = got
		assert.Equal(t, []byte(got.Subject), km.Key)
		assert.False(t, km.Time.IsZero(), "the broker keeps the producer's timestamp")
	}
	for _, s := range sent {
		require.Equal(t, s.msg, s.got)
	}
}

func TestAKeyAlwaysLandsOnOnePartitionInOrder(t *testing.T) {
	const topic = "passerelle.keys"
	b := startBroker(t, 6, topic)
	p := newTestPublisher(t, b.Addrs())
	subjects := subjectsCovering(6, 12)
	// Several calls, interleaving the subjects, so that batches mix them.
	for v := range int64(5) {
		publishSubjects(t, p, topic, subjects, v)
	}

	c := newTestConsumer(t, b.Addrs(), "keys", topic)
	defer func() { require.NoError(t, c.Close()) }()
	partitionOf := map[string]int{}
	lastVersion := map[string]int64{}
	for _, km := range fetchN(t, c, 5*len(subjects), 20*time.Second) {
		m, err := FromKafka(km)
		require.NoError(t, err)
		if p, seen := partitionOf[m.Subject]; seen {
			require.Equal(t, p, km.Partition, "subject %s changed partition", m.Subject)
			require.Greater(t, m.FactVersion, lastVersion[m.Subject], "subject %s out of order", m.Subject)
		}
		partitionOf[m.Subject], lastVersion[m.Subject] = km.Partition, m.FactVersion
	}
	require.Len(t, partitionOf, len(subjects))
}

func TestPlacementMatchesFranzGoDefaultPartitioner(t *testing.T) {
	// franz-go's default partitioner, like Java's, places a keyed record by murmur2.
	franz := kgo.StickyKeyPartitioner(nil)
	keys := make([][]byte, 2000)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "%08x-%04x-person", i*7919, i)
	}
	for _, n := range []int{1, 2, 3, 6, 7, 12, 64} {
		parts := make([]int, n)
		for i := range parts {
			parts[i] = i
		}
		tp := franz.ForTopic("t")
		hashDiffers := 0
		for _, k := range keys {
			want := tp.Partition(&kgo.Record{Key: k}, n)
			require.Equal(t, want, (&kafka.Murmur2Balancer{}).Balance(kafka.Message{Key: k}, parts...), "key %s over %d partitions", k, n)
			if (&kafka.Hash{}).Balance(kafka.Message{Key: k}, parts...) != want {
				hashDiffers++
			}
		}
		if n > 1 {
			// Why the choice matters: kafka-go's Hash balancer places keys elsewhere.
			assert.Positive(t, hashDiffers, "over %d partitions", n)
		}
	}

	// And on the wire: where the Publisher's messages actually landed.
	const topic = "passerelle.placement"
	b := startBroker(t, 7, topic)
	p := newTestPublisher(t, b.Addrs())
	subjects := subjectsCovering(7, 100)
	publishSubjects(t, p, topic, subjects, 1)
	c := newTestConsumer(t, b.Addrs(), "placement", topic)
	defer func() { require.NoError(t, c.Close()) }()
	tp := franz.ForTopic(topic)
	for _, km := range fetchN(t, c, len(subjects), 20*time.Second) {
		require.Equal(t, tp.Partition(&kgo.Record{Key: km.Key}, 7), km.Partition, "key %s", km.Key)
	}
}

func TestPublishingToAMissingTopicFailsTransientlyAndCreatesNothing(t *testing.T) {
	b := startBroker(t, 1)
	p := newTestPublisher(t, b.Addrs())
	msgs := []kafka.Message{ToKafka(testMessage(t, "P-1", 1), "passerelle.missing"), ToKafka(testMessage(t, "P-2", 1), "passerelle.missing")}

	err := p.Publish(t.Context(), msgs...)
	require.ErrorIs(t, err, ErrTransient, "a topic may still be propagating: retry later")
	require.ErrorIs(t, err, kafka.UnknownTopicOrPartition)
	var pe *PublishError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, []int{0, 1}, pe.Failed)
	assert.Empty(t, pe.Rejected)
	require.ErrorIs(t, checkTopicsExist(t.Context(), b.Addrs(), []string{"passerelle.missing"}), ErrUnknownTopic)
}

func TestAMessageTooLargeIsRejectedAloneAndNothingIsWritten(t *testing.T) {
	const topic = "passerelle.large"
	b := startBroker(t, 1, topic)
	p, err := NewPublisher(PublisherConfig{Brokers: b.Addrs(), BatchBytes: 4096, Logger: testLogger(t)})
	require.NoError(t, err)
	defer func() { require.NoError(t, p.Close()) }()

	large := testMessage(t, "P-2", 1)
	large.Data = []byte(`"` + string(bytes.Repeat([]byte("x"), 8192)) + `"`)
	msgs := []kafka.Message{ToKafka(testMessage(t, "P-1", 1), topic), ToKafka(large, topic), ToKafka(testMessage(t, "P-3", 1), topic)}

	err = p.Publish(t.Context(), msgs...)
	require.ErrorIs(t, err, ErrRejected)
	require.ErrorIs(t, err, kafka.MessageSizeTooLarge)
	var pe *PublishError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, []int{1}, pe.Rejected)
	assert.Equal(t, []int{0, 1, 2}, pe.Failed)
	assert.NotContains(t, err.Error(), "xxxx", "errors never carry payloads")

	// Without it, the others go; and they are the only messages of the topic.
	require.NoError(t, p.Publish(t.Context(), msgs[0], msgs[2]))
	c := newTestConsumer(t, b.Addrs(), "large", topic)
	defer func() { require.NoError(t, c.Close()) }()
	got := fetchN(t, c, 2, 20*time.Second)
	assert.Equal(t, []int64{0, 1}, []int64{got[0].Offset, got[1].Offset})
}

func TestPublishingWithAnEndedContextFailsTransiently(t *testing.T) {
	const topic = "passerelle.ctx"
	b := startBroker(t, 1, topic)
	p := newTestPublisher(t, b.Addrs())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := p.Publish(ctx, ToKafka(testMessage(t, "P-1", 1), topic))
	require.ErrorIs(t, err, ErrTransient)
	require.ErrorIs(t, err, context.Canceled)
}

func TestPublishingToABrokerThatIsDownFailsTransiently(t *testing.T) {
	p, err := NewPublisher(PublisherConfig{Brokers: []string{freePort(t)}, MaxAttempts: 1})
	require.NoError(t, err)
	defer func() { require.NoError(t, p.Close()) }()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	err = p.Publish(ctx, ToKafka(testMessage(t, "P-1", 1), "passerelle.down"))
	require.ErrorIs(t, err, ErrTransient)
}

func TestPublishingAfterCloseFailsWithErrClosed(t *testing.T) {
	const topic = "passerelle.closed"
	b := startBroker(t, 1, topic)
	p, err := NewPublisher(PublisherConfig{Brokers: b.Addrs()})
	require.NoError(t, err)
	require.NoError(t, p.Publish(t.Context(), ToKafka(testMessage(t, "P-1", 1), topic)))
	require.NoError(t, p.Close())
	require.ErrorIs(t, p.Publish(t.Context(), ToKafka(testMessage(t, "P-1", 2), topic)), ErrClosed)
	require.NoError(t, p.Publish(t.Context()), "nothing to publish is never an error")
}

func TestNewPublisherRefusesAConfigurationThatCannotWork(t *testing.T) {
	for name, cfg := range map[string]PublisherConfig{
		"no broker":              {},
		"a negative timeout":     {Brokers: []string{"b:9092"}, BatchTimeout: -1},
		"a negative batch size":  {Brokers: []string{"b:9092"}, BatchSize: -1},
		"negative batch bytes":   {Brokers: []string{"b:9092"}, BatchBytes: -1},
		"negative attempts":      {Brokers: []string{"b:9092"}, MaxAttempts: -1},
		"negative write timeout": {Brokers: []string{"b:9092"}, WriteTimeout: -1},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewPublisher(cfg)
			require.ErrorIs(t, err, ErrInvalidConfig)
		})
	}
}

func TestPublishErrorsAreClassifiedWhereTheyHappen(t *testing.T) {
	netErr := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"a leader election is transient", kafka.NotLeaderForPartition, ErrTransient},
		{"missing in-sync replicas are transient", kafka.NotEnoughReplicas, ErrTransient},
		{"a request timeout is transient", kafka.RequestTimedOut, ErrTransient},
		{"an unknown topic is transient (creation propagating)", kafka.UnknownTopicOrPartition, ErrTransient},
		{"a refused authorization is permanent", kafka.TopicAuthorizationFailed, ErrPermanent},
		{"an invalid topic is permanent", kafka.InvalidTopic, ErrPermanent},
		{"a batch above the broker's limit is permanent", kafka.MessageSizeTooLarge, ErrPermanent},
		{"a refused connection is transient", netErr, ErrTransient},
		{"a cut connection is transient", io.ErrUnexpectedEOF, ErrTransient},
		{"a deadline is transient", context.DeadlineExceeded, ErrTransient},
		{"an unknown error is transient (the outbox keeps the rows)", errors.New("odd"), ErrTransient},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, classOf(c.err))
			assert.Equal(t, c.want, classOf(fmt.Errorf("wrapped: %w", c.err)))
		})
	}

	t.Run("per-message errors name the messages not acknowledged", func(t *testing.T) {
		msgs := make([]kafka.Message, 4)
		err := classifyPublish(kafka.WriteErrors{nil, kafka.NotLeaderForPartition, nil, kafka.NotLeaderForPartition}, msgs)
		var pe *PublishError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, []int{1, 3}, pe.Failed)
		require.ErrorIs(t, err, ErrTransient)
		require.ErrorIs(t, err, kafka.NotLeaderForPartition)
	})
	t.Run("one permanent failure among transient ones makes the whole permanent", func(t *testing.T) {
		err := classifyPublish(kafka.WriteErrors{kafka.NotLeaderForPartition, kafka.TopicAuthorizationFailed}, make([]kafka.Message, 2))
		require.ErrorIs(t, err, ErrPermanent)
	})
}
