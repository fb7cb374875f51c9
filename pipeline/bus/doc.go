// Package bus is Passerelle's Kafka layer: the transport between the outbox relay and
// the delivery consumers. It speaks the Kafka protocol with segmentio/kafka-go, to a
// real cluster or to the embedded broker (github.com/twmb/franz-go/pkg/kfake) that the
// hub starts when no cluster is configured.
//
//	relay ─► ToKafka ─► Publisher ─► topic per canonical type ─► Consumer (group per
//	         (CloudEvents   (acks all,     (TopicFor; key =        destination) ─►
//	          binary mode)   Murmur2)       canonical person id)   FromKafka
//
// # Guarantees
//
//   - Publish returns only after the broker acknowledged every message
//     (RequiredAcks all), so the relay marks outbox rows published only then. When it
//     returns an error, the error says which messages were not acknowledged and
//     whether trying again can help (ErrTransient), cannot help until an operator acts
//     (ErrPermanent), or can never help for those messages (ErrRejected).
//   - One person's facts stay in one partition, hence in order: the key is the
//     canonical person id and the partitioner is Murmur2, the one Java and franz-go
//     clients use, so any other producer of the same topics places a key on the same
//     partition (kafka-go's own Hash balancer does not).
//   - Delivery is at least once. A Consumer hands messages out with Fetch and moves
//     the group's offset only when Commit is called, which the caller does only once
//     the outcome is durable (delivered and recorded, or quarantined). A message
//     fetched but not committed when its consumer stops, crashes or loses its
//     partition in a rebalance is fetched again by whichever member owns the partition
//     next. Repeats are expected and absorbed downstream (deliveries table, idempotency
//     keys); loss is not possible through this layer.
//   - The wire format is standard: CloudEvents 1.0 Kafka protocol binding, binary
//     content mode (ce_* headers, content-type, data as the value), readable by any
//     Kafka tool (the tests read it with kcat).
//
// # The embedded broker keeps everything in memory
//
// StartEmbedded and RunBroker run kfake, a Kafka-protocol broker in the process. It
// keeps topics, records and committed offsets in memory only: when its process ends,
// all of it is gone. PostgreSQL is the system of record (outbox rows stay until every
// destination recorded an outcome), so losing the embedded broker costs time, never a
// fact. RunBroker lets the broker live in its own process (passerelle broker), so that
// hub processes can crash and restart without taking the broker's content with them.
//
// # What callers must know about kafka-go and kfake
//
//   - Topics are never created implicitly (AllowAutoTopicCreation is off in the
//     Publisher and by default in the embedded broker): call EnsureTopics at start-up,
//     before the first Publish and before NewConsumer. A Publisher caches the cluster
//     metadata (kafka-go Transport, refreshed within MetadataTTL, 6 s): a topic created
//     elsewhere after its first Publish is unknown to it until then, and Publish fails
//     with a transient UnknownTopicOrPartition meanwhile.
//   - kafka-go gives a consumer group member no partitions of a topic that does not
//     exist when the group forms, silently, and does not notice the topic later;
//     NewConsumer therefore refuses topics that do not exist.
//   - A consumer group's session timeout must lie within the broker's bounds (Kafka's
//     and kfake's group.min.session.timeout.ms default to 6 s); otherwise joining fails
//     with InvalidSessionTimeout, which kafka-go reports only to the Reader's
//     ErrorLogger while Fetch keeps blocking. Consumer always wires that logger.
//   - kafka-go's fetch is not interrupted by context cancellation: Close, and every
//     rebalance, wait for the in-flight fetch to return, up to MaxWait. The Consumer
//     defaults MaxWait to 500 ms instead of kafka-go's 10 s.
//   - A synchronous Publish of a partial batch waits for BatchTimeout before sending
//     it. kafka-go's default (1 s) makes every Publish of fewer messages than BatchSize
//     per partition take a second; the Publisher uses 1 ms (see BenchmarkPublish).
package bus
