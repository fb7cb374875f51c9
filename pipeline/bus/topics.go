package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"passerelle/canonical"
)

// maxTopicLen is Kafka's longest topic name.
const maxTopicLen = 249

// ensureTopicsTimeout bounds EnsureTopics when its context has no deadline: kafka-go
// waits for created topics to appear in the metadata, and would wait forever for a
// topic that never does.
const ensureTopicsTimeout = 30 * time.Second

// TopicFor returns the topic of a canonical type: the prefix, a dot unless the prefix
// already ends with one, and the CloudEvents type. TopicFor("passerelle",
// "fr.justice.penal-record.v1") and TopicFor("passerelle.", ...) are both
// "passerelle.fr.justice.penal-record.v1"; an empty prefix gives the type alone.
func TopicFor(prefix, cloudEventsType string) string {
	if prefix == "" {
		return cloudEventsType
	}
	if strings.HasSuffix(prefix, ".") {
		return prefix + cloudEventsType
	}
	return prefix + "." + cloudEventsType
}

// Topics returns the topic of every canonical type (TopicFor), in the order of
// canonical.Types: what EnsureTopics creates at start-up and what a destination's
// Consumer reads.
func Topics(prefix string) []string {
	types := canonical.Types()
	topics := make([]string, len(types))
	for i, t := range types {
		topics[i] = TopicFor(prefix, t.Type)
	}
	return topics
}

// EnsureTopics creates, over the Kafka protocol, those of topics the cluster does not
// have yet, with the given partition count and replication factor. Topics that exist
// are left as they are, whatever their partition count: changing it would move keys
// to other partitions, and so break the per-person order. It returns once the created
// topics appear in the cluster's metadata. Without a deadline on ctx it gives up after
// 30 s.
func EnsureTopics(ctx context.Context, brokers []string, topics []string, partitions int, replication int) error {
	return ensureTopics(ctx, brokers, topics, partitions, replication, 0)
}

// TopicRetention is how long a topic keeps its records (its retention.ms).
type TopicRetention struct {
	Topic     string
	Retention time.Duration // meaningless when Forever
	Forever   bool          // retention.ms is -1: records are never deleted for their age
}

// EnsureTopicsRetained is EnsureTopics, the topics it creates keeping a record for
// retention (retention.ms, a whole number of milliseconds, at least one). Topics that
// already exist keep their own setting, which is the cluster operators' to change: it
// returns those that keep records longer than retention, or forever, in the order of
// topics; when the cluster does not tell a topic's retention, the topics are there and
// the error is ErrRetentionUnknown. The hub passes its payload retention (config
// retention.payloads), so that Kafka does not keep a person's data after the hub has
// purged it.
func EnsureTopicsRetained(ctx context.Context, brokers []string, topics []string, partitions, replication int, retention time.Duration) ([]TopicRetention, error) {
	if retention < time.Millisecond {
		return nil, fmt.Errorf("bus: ensure topics: %w: retention must be at least 1ms, not %s", ErrInvalidConfig, retention)
	}
	if err := ensureTopics(ctx, brokers, topics, partitions, replication, retention); err != nil {
		return nil, err
	}
	kept, err := TopicRetentions(ctx, brokers, topics)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRetentionUnknown, err)
	}
	var longer []TopicRetention
	for _, k := range kept {
		if k.Forever || k.Retention > retention {
			longer = append(longer, k)
		}
	}
	return longer, nil
}

// TopicRetentions reads the retention of each of topics (DescribeConfigs), in their
// order.
func TopicRetentions(ctx context.Context, brokers []string, topics []string) ([]TopicRetention, error) {
	if len(brokers) == 0 {
		return nil, fmt.Errorf("bus: topic retention: %w: no broker address", ErrInvalidConfig)
	}
	topics = uniq(topics)
	if len(topics) == 0 {
		return nil, nil
	}
	ctx, client, done := adminClient(ctx, brokers)
	defer done()
	req := &kafka.DescribeConfigsRequest{}
	for _, t := range topics {
		req.Resources = append(req.Resources, kafka.DescribeConfigRequestResource{
			ResourceType: kafka.ResourceTypeTopic, ResourceName: t, ConfigNames: []string{"retention.ms"}})
	}
	resp, err := client.DescribeConfigs(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("bus: topic retention: %w", err)
	}
	byTopic := map[string]string{}
	for _, r := range resp.Resources {
		if r.Error != nil {
			return nil, fmt.Errorf("bus: topic retention of %s: %w", r.ResourceName, r.Error)
		}
		for _, e := range r.ConfigEntries {
			if e.ConfigName == "retention.ms" {
				byTopic[r.ResourceName] = e.ConfigValue
			}
		}
	}
	out := make([]TopicRetention, 0, len(topics))
	for _, t := range topics {
		v, ok := byTopic[t]
		if !ok {
			return nil, fmt.Errorf("bus: topic retention of %s: the broker did not say", t)
		}
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bus: topic retention of %s: retention.ms %q is not a number", t, v)
		}
		if ms < 0 {
			out = append(out, TopicRetention{Topic: t, Forever: true})
		} else {
			out = append(out, TopicRetention{Topic: t, Retention: time.Duration(ms) * time.Millisecond})
		}
	}
	return out, nil
}

// adminClient is a client for the cluster's administrative requests, and ctx bounded
// by ensureTopicsTimeout when it has no deadline (kafka-go waits for created topics to
// appear, and would wait forever for one that never does); done releases both.
func adminClient(ctx context.Context, brokers []string) (context.Context, *kafka.Client, func()) {
	cancel := context.CancelFunc(func() {})
	if _, ok := ctx.Deadline(); !ok {
		ctx, cancel = context.WithTimeout(ctx, ensureTopicsTimeout)
	}
	transport := &kafka.Transport{ClientID: clientID}
	return ctx, &kafka.Client{Addr: kafka.TCP(brokers...), Transport: transport}, func() {
		transport.CloseIdleConnections()
		cancel()
	}
}

func ensureTopics(ctx context.Context, brokers []string, topics []string, partitions, replication int, retention time.Duration) error {
	switch {
	case len(brokers) == 0:
		return fmt.Errorf("bus: ensure topics: %w: no broker address", ErrInvalidConfig)
	case partitions < 1 || partitions > maxPartitions:
		return fmt.Errorf("bus: ensure topics: %w: partitions must be 1 to %d, not %d", ErrInvalidConfig, maxPartitions, partitions)
	case replication < 1 || replication > 32767:
		return fmt.Errorf("bus: ensure topics: %w: replication factor must be 1 to 32767, not %d", ErrInvalidConfig, replication)
	}
	if err := checkTopicNames(topics); err != nil {
		return fmt.Errorf("bus: ensure topics: %w", err)
	}
	if len(topics) == 0 {
		return nil
	}
	ctx, client, done := adminClient(ctx, brokers)
	defer done()

	req := &kafka.CreateTopicsRequest{Topics: make([]kafka.TopicConfig, 0, len(topics))}
	for _, t := range uniq(topics) {
		tc := kafka.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: replication}
		if retention > 0 {
			tc.ConfigEntries = []kafka.ConfigEntry{{ConfigName: "retention.ms", ConfigValue: strconv.FormatInt(retention.Milliseconds(), 10)}}
		}
		req.Topics = append(req.Topics, tc)
	}
	resp, err := client.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("bus: ensure topics: %w", err)
	}
	var errs []error
	for _, t := range req.Topics {
		err, answered := resp.Errors[t.Topic]
		switch {
		case !answered:
			errs = append(errs, fmt.Errorf("topic %s: the broker did not answer for it", t.Topic))
		case err == nil, errors.Is(err, kafka.TopicAlreadyExists):
		default:
			errs = append(errs, fmt.Errorf("topic %s: %w", t.Topic, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("bus: ensure topics: %w", errors.Join(errs...))
	}
	return nil
}

// checkTopicsExist reports the topics the cluster does not have, with ErrUnknownTopic.
func checkTopicsExist(ctx context.Context, brokers []string, topics []string) error {
	transport := &kafka.Transport{ClientID: clientID}
	defer transport.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: transport}
	resp, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return fmt.Errorf("read cluster metadata: %w", err)
	}
	var missing []string
	for _, t := range resp.Topics {
		if t.Error != nil || len(t.Partitions) == 0 {
			missing = append(missing, t.Name)
		}
	}
	for _, t := range topics {
		if !slices.ContainsFunc(resp.Topics, func(mt kafka.Topic) bool { return mt.Name == t }) {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("%w: %s (create it first: EnsureTopics)", ErrUnknownTopic, strings.Join(slices.Compact(missing), ", "))
	}
	return nil
}

// checkTopicNames applies Kafka's rules for topic names, so that a bad name fails with
// a clear message before any request.
func checkTopicNames(topics []string) error {
	var errs []error
	for _, t := range topics {
		switch {
		case t == "":
			errs = append(errs, fmt.Errorf("%w: empty topic name", ErrInvalidConfig))
		case t == "." || t == "..":
			errs = append(errs, fmt.Errorf("%w: topic name %q is reserved", ErrInvalidConfig, t))
		case len(t) > maxTopicLen:
			errs = append(errs, fmt.Errorf("%w: topic name longer than %d characters", ErrInvalidConfig, maxTopicLen))
		case strings.IndexFunc(t, func(r rune) bool { return !validTopicRune(r) }) >= 0:
			errs = append(errs, fmt.Errorf("%w: topic name %q: only ASCII letters, digits, '.', '_' and '-' are allowed", ErrInvalidConfig, t))
		}
	}
	return errors.Join(errs...)
}

func validTopicRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
}

// uniq returns topics without repeats, in their first order: Kafka refuses a
// CreateTopics request naming a topic twice.
func uniq(topics []string) []string {
	out := make([]string, 0, len(topics))
	for _, t := range topics {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}
