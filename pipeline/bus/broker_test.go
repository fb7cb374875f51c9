package bus

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// freePort returns a loopback port nothing listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	var lc net.ListenConfig
	ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func TestEmbeddedBrokerListensOnAFreeLoopbackPortByDefault(t *testing.T) {
	b, err := StartEmbedded(t.Context(), EmbeddedOptions{})
	require.NoError(t, err)
	defer b.Close()

	addrs := b.Addrs()
	require.Len(t, addrs, 1, "one broker")
	host, port, err := net.SplitHostPort(addrs[0])
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", host)
	assert.NotEqual(t, "0", port)
}

func TestEmbeddedBrokerListensOnTheChosenPort(t *testing.T) {
	addr := freePort(t)
	b, err := StartEmbedded(t.Context(), EmbeddedOptions{Addr: addr})
	require.NoError(t, err)
	defer b.Close()
	assert.Equal(t, []string{addr}, b.Addrs())
}

func TestEmbeddedBrokerCreatesTheTopicsItIsGiven(t *testing.T) {
	b := startBroker(t, 4, "passerelle.a", "passerelle.b")
	require.NoError(t, checkTopicsExist(t.Context(), b.Addrs(), []string{"passerelle.a", "passerelle.b"}))
	assert.Equal(t, 4, partitionCount(t, b.Addrs(), "passerelle.a"))
}

func TestEmbeddedBrokerCreatesNoTopicImplicitlyByDefault(t *testing.T) {
	b := startBroker(t, 1)
	// A client that asks for auto-creation does not get it.
	w := &kafka.Writer{Addr: kafka.TCP(b.Addrs()...), AllowAutoTopicCreation: true, Transport: &kafka.Transport{}}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	err := w.WriteMessages(ctx, kafka.Message{Topic: "passerelle.typo", Value: []byte("{}")})
	require.Error(t, err)
	require.NoError(t, w.Close())
	w.Transport.(*kafka.Transport).CloseIdleConnections()
	require.ErrorIs(t, checkTopicsExist(t.Context(), b.Addrs(), []string{"passerelle.typo"}), ErrUnknownTopic)
}

func TestEmbeddedBrokerCreatesTopicsImplicitlyWhenAllowed(t *testing.T) {
	b, err := StartEmbedded(t.Context(), EmbeddedOptions{AllowAutoTopicCreation: true, Partitions: 2})
	require.NoError(t, err)
	defer b.Close()
	w := &kafka.Writer{Addr: kafka.TCP(b.Addrs()...), AllowAutoTopicCreation: true, Transport: &kafka.Transport{}, BatchTimeout: time.Millisecond}
	require.NoError(t, w.WriteMessages(t.Context(), kafka.Message{Topic: "passerelle.auto", Value: []byte("{}")}))
	require.NoError(t, w.Close())
	w.Transport.(*kafka.Transport).CloseIdleConnections()
	assert.Equal(t, 2, partitionCount(t, b.Addrs(), "passerelle.auto"))
}

func TestEmbeddedBrokerRefusesOptionsThatCannotWork(t *testing.T) {
	for name, opts := range map[string]EmbeddedOptions{
		"an unspecified host, which it could not advertise": {Addr: "0.0.0.0:0"},
		"an address without a port":                         {Addr: "127.0.0.1"},
		"an address without a host":                         {Addr: ":9092"},
		"a port out of range":                               {Addr: "127.0.0.1:70000"},
		"a negative partition count":                        {Partitions: -1},
		"a negative session timeout":                        {GroupMinSessionTimeout: -time.Second},
		"an invalid topic name":                             {Topics: []string{"passerelle/penal record"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := StartEmbedded(t.Context(), opts)
			require.ErrorIs(t, err, ErrInvalidConfig)
		})
	}
}

func TestEmbeddedBrokerDoesNotStartOnAnEndedContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := StartEmbedded(ctx, EmbeddedOptions{})
	require.ErrorIs(t, err, context.Canceled)
}

func TestEmbeddedBrokerFailsOnAPortInUse(t *testing.T) {
	b := startBroker(t, 1)
	_, err := StartEmbedded(t.Context(), EmbeddedOptions{Addr: b.Addrs()[0]})
	require.Error(t, err)
}

func TestEmbeddedBrokerCloseTwiceIsHarmless(t *testing.T) {
	b, err := StartEmbedded(t.Context(), EmbeddedOptions{})
	require.NoError(t, err)
	b.Close()
	b.Close()
}

func TestRunBrokerServesUntilItsContextEnds(t *testing.T) {
	addr := freePort(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- RunBroker(ctx, addr) }()

	// It serves: topics can be created and used.
	require.Eventually(t, func() bool {
		return EnsureTopics(t.Context(), []string{addr}, []string{"passerelle.run"}, 1, 1) == nil
	}, 5*time.Second, 20*time.Millisecond)
	p := newTestPublisher(t, []string{addr})
	publishSubjects(t, p, "passerelle.run", []string{"P-1"}, 1)
	require.NoError(t, p.Close())

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		require.Fail(t, "RunBroker did not return after its context ended")
	}
	var d net.Dialer
	conn, err := d.DialContext(t.Context(), "tcp", addr)
	if err == nil {
		_ = conn.Close()
	}
	require.Error(t, err, "nothing listens once RunBroker returned")
}

func TestRunBrokerReportsAnAddressItCannotUse(t *testing.T) {
	require.ErrorIs(t, RunBroker(t.Context(), "0.0.0.0:9092"), ErrInvalidConfig)
}

// partitionCount returns the partition count of topic.
func partitionCount(t *testing.T, brokers []string, topic string) int {
	t.Helper()
	transport := &kafka.Transport{}
	defer transport.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: transport}
	resp, err := client.Metadata(t.Context(), &kafka.MetadataRequest{Topics: []string{topic}})
	require.NoError(t, err)
	require.Len(t, resp.Topics, 1)
	require.NoError(t, resp.Topics[0].Error)
	return len(resp.Topics[0].Partitions)
}
