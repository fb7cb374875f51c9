package bus

import (
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"passerelle/canonical"
)

func TestTopicForJoinsPrefixAndTypeWithOneDot(t *testing.T) {
	for _, c := range []struct{ prefix, want string }{
		{"passerelle", "passerelle.fr.justice.penal-record.v1"},
		{"passerelle.", "passerelle.fr.justice.penal-record.v1"},
		{"", "fr.justice.penal-record.v1"},
		{"acme.passerelle", "acme.passerelle.fr.justice.penal-record.v1"},
	} {
		assert.Equal(t, c.want, TopicFor(c.prefix, canonical.TypePenalRecord), "prefix %q", c.prefix)
	}
}

func TestTopicsNamesOneValidTopicPerCanonicalType(t *testing.T) {
	topics := Topics("passerelle.")
	require.Len(t, topics, len(canonical.Types()))
	for i, ti := range canonical.Types() {
		assert.Equal(t, "passerelle."+ti.Type, topics[i])
	}
	require.NoError(t, checkTopicNames(topics))
}

func TestEnsureTopicsCreatesTheMissingTopicsAndLeavesTheOthers(t *testing.T) {
	b := startBroker(t, 3, "passerelle.existing")
	brokers := b.Addrs()

	require.NoError(t, EnsureTopics(t.Context(), brokers, []string{"passerelle.existing", "passerelle.new"}, 6, 1))
	assert.Equal(t, 3, partitionCount(t, brokers, "passerelle.existing"), "an existing topic keeps its partitions")
	assert.Equal(t, 6, partitionCount(t, brokers, "passerelle.new"))

	// Idempotent: everything exists now.
	require.NoError(t, EnsureTopics(t.Context(), brokers, []string{"passerelle.existing", "passerelle.new"}, 6, 1))
	// A topic named twice is created once.
	require.NoError(t, EnsureTopics(t.Context(), brokers, []string{"passerelle.twice", "passerelle.twice"}, 2, 1))
	assert.Equal(t, 2, partitionCount(t, brokers, "passerelle.twice"))
}

func TestEnsureTopicsRetainedBoundsWhatItCreatesAndNamesTheTopicsThatKeepLonger(t *testing.T) {
	b := startBroker(t, 1, "passerelle.existing") // the broker's default: 7 days
	brokers := b.Addrs()
	require.NoError(t, EnsureTopics(t.Context(), brokers, []string{"passerelle.forever"}, 1, 1))
	require.NoError(t, alterRetention(t, brokers, "passerelle.forever", "-1"))

	longer, err := EnsureTopicsRetained(t.Context(), brokers, []string{"passerelle.existing", "passerelle.new", "passerelle.forever"}, 2, 1, 24*time.Hour)
	require.NoError(t, err)
	assert.Equal(t, []TopicRetention{{Topic: "passerelle.existing", Retention: 7 * 24 * time.Hour}, {Topic: "passerelle.forever", Forever: true}}, longer,
		"the topics that existed keep their setting, and are named")
	kept, err := TopicRetentions(t.Context(), brokers, []string{"passerelle.new"})
	require.NoError(t, err)
	assert.Equal(t, []TopicRetention{{Topic: "passerelle.new", Retention: 24 * time.Hour}}, kept, "a created topic keeps a record no longer than asked")

	longer, err = EnsureTopicsRetained(t.Context(), brokers, []string{"passerelle.existing"}, 2, 1, 30*24*time.Hour)
	require.NoError(t, err)
	assert.Empty(t, longer, "7 days is within 30")
	_, err = EnsureTopicsRetained(t.Context(), brokers, []string{"passerelle.x"}, 1, 1, 0)
	require.ErrorIs(t, err, ErrInvalidConfig)
}

func TestEnsureTopicsRetainedCreatesTheTopicsEvenWhenTheirRetentionCannotBeRead(t *testing.T) {
	b := startBroker(t, 1)
	// A principal without the right to describe topic configurations.
	b.cluster.ControlKey(int16(kmsg.DescribeConfigs), func(req kmsg.Request) (kmsg.Response, error, bool) {
		r := req.(*kmsg.DescribeConfigsRequest)
		resp := r.ResponseKind().(*kmsg.DescribeConfigsResponse)
		for _, res := range r.Resources {
			rr := kmsg.NewDescribeConfigsResponseResource()
			rr.ResourceType, rr.ResourceName, rr.ErrorCode = res.ResourceType, res.ResourceName, kerr.TopicAuthorizationFailed.Code
			resp.Resources = append(resp.Resources, rr)
		}
		return resp, nil, true
	})
	_, err := EnsureTopicsRetained(t.Context(), b.Addrs(), []string{"passerelle.new"}, 2, 1, time.Hour)
	require.ErrorIs(t, err, ErrRetentionUnknown)
	assert.Equal(t, 2, partitionCount(t, b.Addrs(), "passerelle.new"), "the topic is there all the same")
}

func TestTheEmbeddedBrokerDropsWhatATopicsRetentionNoLongerKeeps(t *testing.T) {
	b := startBroker(t, 1)
	brokers := b.Addrs()
	_, err := EnsureTopicsRetained(t.Context(), brokers, []string{"passerelle.short"}, 1, 1, time.Millisecond)
	require.NoError(t, err)
	_, err = EnsureTopicsRetained(t.Context(), brokers, []string{"passerelle.long"}, 1, 1, 24*time.Hour)
	require.NoError(t, err)
	p := newTestPublisher(t, brokers)
	publishSubjects(t, p, "passerelle.short", []string{"P-1", "P-2"}, 1)
	publishSubjects(t, p, "passerelle.long", []string{"P-1", "P-2"}, 1)
	time.Sleep(10 * time.Millisecond)

	b.cluster.ApplyRetention() // what the broker's cleaner does on its tick
	assert.Equal(t, int64(2), firstOffset(t, brokers, "passerelle.short"), "records older than the topic's retention are gone")
	assert.Equal(t, int64(0), firstOffset(t, brokers, "passerelle.long"))
}

// firstOffset is the oldest offset partition 0 of topic still holds.
func firstOffset(t *testing.T, brokers []string, topic string) int64 {
	t.Helper()
	conn, err := (&kafka.Dialer{}).DialLeader(t.Context(), "tcp", brokers[0], topic, 0)
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	first, err := conn.ReadFirstOffset()
	require.NoError(t, err)
	return first
}

// alterRetention sets a topic's retention.ms, as a cluster's operators would.
func alterRetention(t *testing.T, brokers []string, topic, ms string) error {
	t.Helper()
	transport := &kafka.Transport{}
	defer transport.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: transport}
	resp, err := client.AlterConfigs(t.Context(), &kafka.AlterConfigsRequest{Resources: []kafka.AlterConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: topic,
		Configs: []kafka.AlterConfigRequestConfig{{Name: "retention.ms", Value: ms}}}}})
	if err != nil {
		return err
	}
	for _, e := range resp.Errors {
		if e != nil {
			return e
		}
	}
	return nil
}

func TestEnsureTopicsMakesTopicsAPublisherCanUseAtOnce(t *testing.T) {
	b := startBroker(t, 1)
	topics := Topics("passerelle")
	require.NoError(t, EnsureTopics(t.Context(), b.Addrs(), topics, 6, 1))
	p := newTestPublisher(t, b.Addrs())
	for _, topic := range topics {
		publishSubjects(t, p, topic, []string{"P-1", "P-2"}, 1)
	}
}

func TestEnsureTopicsReportsWhatTheBrokerRefuses(t *testing.T) {
	b := startBroker(t, 1)
	err := EnsureTopics(t.Context(), b.Addrs(), []string{"passerelle.replicated"}, 3, 3)
	require.ErrorIs(t, err, kafka.InvalidReplicationFactor, "one broker cannot hold three replicas")
	assert.Contains(t, err.Error(), "passerelle.replicated")
}

func TestEnsureTopicsRefusesArgumentsThatCannotWork(t *testing.T) {
	brokers := []string{"127.0.0.1:1"} // never contacted
	for name, call := range map[string]func() error{
		"no broker":            func() error { return EnsureTopics(t.Context(), nil, []string{"a"}, 1, 1) },
		"no partition":         func() error { return EnsureTopics(t.Context(), brokers, []string{"a"}, 0, 1) },
		"no replica":           func() error { return EnsureTopics(t.Context(), brokers, []string{"a"}, 1, 0) },
		"an empty topic name":  func() error { return EnsureTopics(t.Context(), brokers, []string{""}, 1, 1) },
		"a reserved name":      func() error { return EnsureTopics(t.Context(), brokers, []string{".."}, 1, 1) },
		"a space in a name":    func() error { return EnsureTopics(t.Context(), brokers, []string{"a b"}, 1, 1) },
		"a name too long":      func() error { return EnsureTopics(t.Context(), brokers, []string{strings.Repeat("a", 250)}, 1, 1) },
		"a non-ASCII name":     func() error { return EnsureTopics(t.Context(), brokers, []string{"fiche-pénale"}, 1, 1) },
		"a replication > 2^15": func() error { return EnsureTopics(t.Context(), brokers, []string{"a"}, 1, 40000) },
	} {
		t.Run(name, func(t *testing.T) {
			require.ErrorIs(t, call(), ErrInvalidConfig)
		})
	}
	require.NoError(t, EnsureTopics(t.Context(), brokers, nil, 1, 1), "nothing to create, nothing contacted")
}
