package bus

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestMessagesFetchedButNotCommittedAreRedeliveredToTheNextConsumer(t *testing.T) {
	topics := []string{"passerelle.a", "passerelle.b"}
	b := startBroker(t, 3, topics...)
	p := newTestPublisher(t, b.Addrs())
	subjects := subjectsCovering(3, 10)
	sent := append(publishSubjects(t, p, topics[0], subjects, 1), publishSubjects(t, p, topics[1], subjects, 1)...)
	slices.Sort(sent)

	first := newTestConsumer(t, b.Addrs(), "prisme", topics...)
	assert.Equal(t, sent, ids(t, fetchN(t, first, len(sent), 20*time.Second)))
	require.NoError(t, first.Close()) // as a crash would: nothing committed

	second := newTestConsumer(t, b.Addrs(), "prisme", topics...)
	defer func() { require.NoError(t, second.Close()) }()
	assert.Equal(t, sent, ids(t, fetchN(t, second, len(sent), 20*time.Second)), "every message comes again")
}

func TestOnlyTheMessagesAfterTheLastCommitAreRedelivered(t *testing.T) {
	const topic = "passerelle.commit"
	b := startBroker(t, 3, topic)
	p := newTestPublisher(t, b.Addrs())
	subjects := subjectsCovering(3, 12)
	publishSubjects(t, p, topic, subjects, 1)

	first := newTestConsumer(t, b.Addrs(), "appi", topic)
	got := fetchN(t, first, len(subjects), 20*time.Second)
	// Commit, per partition, the first message only (its outcome is durable; the
	// others' are not yet).
	var committed, pending []kafka.Message
	seen := map[int]bool{}
	for _, km := range got {
		if !seen[km.Partition] {
			seen[km.Partition] = true
			committed = append(committed, km)
		} else {
			pending = append(pending, km)
		}
	}
	require.NoError(t, first.Commit(t.Context(), committed...))
	require.NoError(t, first.Close())

	// The next member of the group gets exactly the uncommitted ones, then what is
	// published afterwards, on every partition; never the committed ones.
	second := newTestConsumer(t, b.Addrs(), "appi", topic)
	defer func() { require.NoError(t, second.Close()) }()
	later := publishSubjects(t, p, topic, subjects, 2)
	want := append(ids(t, pending), later...)
	slices.Sort(want)
	assert.Equal(t, want, ids(t, fetchN(t, second, len(want), 20*time.Second)))
}

func TestCommittedMessagesAreNotRedelivered(t *testing.T) {
	const topic = "passerelle.done"
	b := startBroker(t, 3, topic)
	p := newTestPublisher(t, b.Addrs())
	subjects := subjectsCovering(3, 12)
	publishSubjects(t, p, topic, subjects, 1)

	first := newTestConsumer(t, b.Addrs(), "prisme", topic)
	require.NoError(t, first.Commit(t.Context(), fetchN(t, first, len(subjects), 20*time.Second)...))
	require.NoError(t, first.Close())

	second := newTestConsumer(t, b.Addrs(), "prisme", topic)
	defer func() { require.NoError(t, second.Close()) }()
	later := publishSubjects(t, p, topic, subjects, 2) // every partition has a new message
	slices.Sort(later)
	assert.Equal(t, later, ids(t, fetchN(t, second, len(later), 20*time.Second)), "only the new messages")

	// Another destination's group is independent: it reads everything.
	other := newTestConsumer(t, b.Addrs(), "appi", topic)
	defer func() { require.NoError(t, other.Close()) }()
	assert.Len(t, fetchN(t, other, 2*len(subjects), 20*time.Second), 2*len(subjects))
}

func TestTwoConsumersOfAGroupSplitThePartitionsAndTheOneStayingTakesOverOnLeave(t *testing.T) {
	topics := []string{"passerelle.x", "passerelle.y"}
	b := startBroker(t, 3, topics...)
	brokers := b.Addrs()
	p := newTestPublisher(t, brokers)
	subjects := subjectsCovering(3, 9)
	all := []string{}
	for _, tp := range topics {
		for i := range 3 {
			all = append(all, fmt.Sprintf("%s/%d", tp, i))
		}
	}

	a := newTestConsumer(t, brokers, "split", topics...)
	defer func() { require.NoError(t, a.Close()) }()
	c := newTestConsumer(t, brokers, "split", topics...)
	// Wait for the group to settle with both members, each owning part of it.
	require.Eventually(t, func() bool {
		state, members := groupAssignments(t, brokers, "split")
		return state == "Stable" && len(members) == 2 && len(members[0]) > 0 && len(members[1]) > 0
	}, 20*time.Second, 50*time.Millisecond)
	_, members := groupAssignments(t, brokers, "split")
	assert.Empty(t, intersect(members[0], members[1]), "no partition is owned twice")
	assert.ElementsMatch(t, all, append(members[0], members[1]...), "every partition is owned")

	var first []string
	for _, tp := range topics {
		first = append(first, publishSubjects(t, p, tp, subjects, 1)...)
	}
	got := fetchFromAll(t, len(first), 20*time.Second, map[string]*Consumer{"a": a, "c": c})
	byConsumer := map[string][]string{}
	var msgs []kafka.Message
	for _, f := range got {
		byConsumer[f.by] = append(byConsumer[f.by], fmt.Sprintf("%s/%d", f.km.Topic, f.km.Partition))
		msgs = append(msgs, f.km)
	}
	slices.Sort(first)
	assert.Equal(t, first, ids(t, msgs), "each message once")
	pa, pc := uniqSorted(byConsumer["a"]), uniqSorted(byConsumer["c"])
	assert.Contains(t, [][]string{members[0], members[1]}, pa, "a read exactly its partitions")
	assert.Contains(t, [][]string{members[0], members[1]}, pc, "c read exactly its partitions")
	for _, f := range got {
		if f.by == "a" {
			require.NoError(t, a.Commit(t.Context(), f.km))
		} else {
			require.NoError(t, c.Commit(t.Context(), f.km))
		}
	}

	// c leaves: a takes every partition, and gets what is published next on all of
	// them, and nothing c had committed.
	require.NoError(t, c.Close())
	require.Eventually(t, func() bool {
		state, members := groupAssignments(t, brokers, "split")
		return state == "Stable" && len(members) == 1 && len(members[0]) == len(all)
	}, 20*time.Second, 50*time.Millisecond)
	var second []string
	for _, tp := range topics {
		second = append(second, publishSubjects(t, p, tp, subjects, 2)...)
	}
	slices.Sort(second)
	after := fetchN(t, a, len(second), 20*time.Second)
	assert.Equal(t, second, ids(t, after))
	var parts []string
	for _, km := range after {
		parts = append(parts, fmt.Sprintf("%s/%d", km.Topic, km.Partition))
	}
	assert.Equal(t, all, uniqSorted(parts), "a now reads every partition")
}

func TestAJoinTheBrokerRefusesIsLoggedAndReturnedByFetch(t *testing.T) {
	const topic = "passerelle.refused"
	// The broker's minimum session timeout (6 s) is above the consumer's (1 s).
	b, err := StartEmbedded(t.Context(), EmbeddedOptions{Topics: []string{topic}, Partitions: 1})
	require.NoError(t, err)
	defer b.Close()

	core, logs := observer.New(zap.WarnLevel)
	cfg := testConsumerConfig(t, b.Addrs(), "refused", topic)
	cfg.Logger = zap.New(core)
	c, err := NewConsumer(t.Context(), cfg)
	require.NoError(t, err)
	defer func() { require.NoError(t, c.Close()) }()

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	_, err = c.Fetch(ctx)
	require.ErrorIs(t, err, kafka.InvalidSessionTimeout, "kafka-go gives up after three joins")
	require.NotEmpty(t, logs.FilterMessageSnippet("Invalid Session Timeout").All(), "each refused join is logged")
	for _, e := range logs.All() {
		assert.Equal(t, "refused", e.ContextMap()["group"])
	}
}

func TestNewConsumerRefusesTopicsThatDoNotExist(t *testing.T) {
	b := startBroker(t, 1, "passerelle.here")
	_, err := NewConsumer(t.Context(), testConsumerConfig(t, b.Addrs(), "g", "passerelle.here", "passerelle.nowhere"))
	require.ErrorIs(t, err, ErrUnknownTopic)
	assert.Contains(t, err.Error(), "passerelle.nowhere")
	assert.NotContains(t, err.Error(), "passerelle.here,")
}

func TestNewConsumerRefusesAConfigurationThatCannotWork(t *testing.T) {
	valid := func() ConsumerConfig { return testConsumerConfig(t, []string{"127.0.0.1:1"}, "g", "t") }
	cases := map[string]func(*ConsumerConfig){
		"no broker":                            func(c *ConsumerConfig) { c.Brokers = nil },
		"no group":                             func(c *ConsumerConfig) { c.Group = " " },
		"no topic":                             func(c *ConsumerConfig) { c.Topics = nil },
		"an invalid topic":                     func(c *ConsumerConfig) { c.Topics = []string{"a b"} },
		"a negative session timeout":           func(c *ConsumerConfig) { c.SessionTimeout = -time.Second },
		"a heartbeat not shorter than session": func(c *ConsumerConfig) { c.HeartbeatInterval = c.SessionTimeout },
		"a max wait beyond int32 ms":           func(c *ConsumerConfig) { c.MaxWait = 30 * 24 * time.Hour },
		"a negative queue":                     func(c *ConsumerConfig) { c.QueueCapacity = -1 },
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := valid()
			change(&cfg)
			_, err := NewConsumer(t.Context(), cfg)
			require.ErrorIs(t, err, ErrInvalidConfig)
		})
	}
}

func TestFetchReturnsWhenItsContextEnds(t *testing.T) {
	const topic = "passerelle.idle"
	b := startBroker(t, 1, topic)
	c := newTestConsumer(t, b.Addrs(), "idle", topic)
	defer func() { require.NoError(t, c.Close()) }()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err := c.Fetch(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestAClosedConsumerSaysSo(t *testing.T) {
	const topic = "passerelle.shut"
	b := startBroker(t, 1, topic)
	c := newTestConsumer(t, b.Addrs(), "shut", topic)
	require.NoError(t, c.Close())
	_, err := c.Fetch(t.Context())
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, c.Commit(t.Context(), kafka.Message{Topic: topic}), ErrClosed)
	require.NoError(t, c.Commit(t.Context()), "nothing to commit is never an error")
}

func TestACommitRacingWithCloseReturns(t *testing.T) {
	const topic = "passerelle.race"
	b := startBroker(t, 1, topic)
	p := newTestPublisher(t, b.Addrs())
	publishSubjects(t, p, topic, []string{"P-1"}, 1)
	for i := range 5 {
		c := newTestConsumer(t, b.Addrs(), fmt.Sprintf("race-%d", i), topic) // a new group reads it again
		km := fetchN(t, c, 1, 20*time.Second)[0]
		done := make(chan error, 1)
		go func() {
			for {
				if err := c.Commit(t.Context(), km); err != nil {
					done <- err
					return
				}
			}
		}()
		require.NoError(t, c.Close())
		require.ErrorIs(t, <-done, ErrClosed)
	}
}

func TestConsumerLogsCarryNoPayload(t *testing.T) {
	const topic = "passerelle.quiet"
	b := startBroker(t, 2, topic)
	p := newTestPublisher(t, b.Addrs())
	publishSubjects(t, p, topic, []string{"P-SECRET-1", "P-SECRET-2"}, 1)

	core, logs := observer.New(zap.DebugLevel)
	cfg := testConsumerConfig(t, b.Addrs(), "quiet", topic)
	cfg.Logger = zap.New(core)
	c, err := NewConsumer(t.Context(), cfg)
	require.NoError(t, err)
	require.NoError(t, c.Commit(t.Context(), fetchN(t, c, 2, 20*time.Second)...))
	require.NoError(t, c.Close())

	require.NotEmpty(t, logs.All(), "kafka-go's events reach the logger at debug")
	for _, e := range logs.All() {
		line := e.Message + fmt.Sprint(e.ContextMap())
		assert.NotContains(t, line, "P-SECRET")
		assert.NotContains(t, line, "xxxxxxxx")
	}
}

func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func uniqSorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

func TestABatchLargerThanAFetchOfKafkaGosDefaultSizeIsConsumedWhole(t *testing.T) {
	// The Publisher fills batches up to DefaultBatchBytes (1 MiB) per partition; one
	// batch larger than what the reader asks per fetch must still come through, or the
	// consumer stalls on its offset for ever.
	const topic = "passerelle.big"
	b := startBroker(t, 1, topic)
	p := newTestPublisher(t, b.Addrs())
	const n = 1200
	msgs := make([]kafka.Message, n)
	want := make([]string, n)
	for i := range msgs {
		m := testMessage(t, "00000000-0000-4000-8000-000000000001", int64(i))
		m.ID = fmt.Sprintf("big-%04d", i)
		m.Data = []byte(fmt.Sprintf(`{"n":%d,"pad":%q}`, i, strings.Repeat("x", 900)))
		msgs[i], want[i] = ToKafka(m, topic), m.ID
	}
	require.NoError(t, p.Publish(t.Context(), msgs...))
	c := newTestConsumer(t, b.Addrs(), "big", topic)
	defer func() { require.NoError(t, c.Close()) }()
	got := ids(t, fetchN(t, c, n, 30*time.Second))
	slices.Sort(want)
	assert.Equal(t, want, got)
}
