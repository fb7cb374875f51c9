package bus

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestClosingPublisherConsumerAndBrokerLeavesNoGoroutineBehind(t *testing.T) {
	before := goleak.IgnoreCurrent()
	const topic = "passerelle.leak"
	b, err := StartEmbedded(t.Context(), EmbeddedOptions{Topics: []string{topic}, Partitions: 3, GroupMinSessionTimeout: testMinSessionTimeout})
	require.NoError(t, err)
	p, err := NewPublisher(PublisherConfig{Brokers: b.Addrs()})
	require.NoError(t, err)
	subjects := subjectsCovering(3, 10)
	publishSubjects(t, p, topic, subjects, 1)
	c, err := NewConsumer(t.Context(), testConsumerConfig(t, b.Addrs(), "leak", topic))
	require.NoError(t, err)
	require.NoError(t, c.Commit(t.Context(), fetchN(t, c, len(subjects), 20*time.Second)...))

	require.NoError(t, c.Close())
	require.NoError(t, p.Close())
	b.Close()
	goleak.VerifyNone(t, before)
}
