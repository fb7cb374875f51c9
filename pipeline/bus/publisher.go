package bus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// clientID is how the hub introduces itself to brokers (broker logs, quotas).
const clientID = "passerelle"

// Publisher defaults; see PublisherConfig.
const (
	DefaultBatchTimeout = time.Millisecond
	DefaultBatchSize    = 1000
	DefaultBatchBytes   = 1 << 20
)

// PublisherConfig configures NewPublisher.
type PublisherConfig struct {
	// Brokers are the bootstrap brokers (host:port). Required.
	Brokers []string
	// BatchTimeout is how long a partial batch waits for more messages before it is
	// sent. Default DefaultBatchTimeout (1 ms). Publish is synchronous: a longer wait
	// is paid by every Publish whose messages do not fill BatchSize per partition
	// (kafka-go's 1 s default makes such a Publish take a second).
	BatchTimeout time.Duration
	// BatchSize is the most messages sent to one partition in one request. Default
	// DefaultBatchSize (1000).
	BatchSize int
	// BatchBytes is the most bytes sent to one partition in one request. Default
	// DefaultBatchBytes (1 MiB), which must stay within the broker's message.max.bytes
	// (Kafka's and kfake's default: 1 MB plus 12 bytes).
	BatchBytes int64
	// Compression compresses batches (kafka.Gzip, kafka.Snappy, kafka.Lz4,
	// kafka.Zstd). Default none: the hub's payloads are small JSON documents and the
	// embedded broker is on loopback; a remote cluster may prefer kafka.Zstd or
	// kafka.Lz4.
	Compression kafka.Compression
	// MaxAttempts is how many times kafka-go tries a batch whose error is transient
	// (leader moving, broker unreachable) before Publish returns it. Default 10
	// (kafka-go's), with a backoff from 100 ms to 1 s between attempts.
	MaxAttempts int
	// WriteTimeout bounds one produce request. Default 10 s (kafka-go's).
	WriteTimeout time.Duration
	// Logger receives kafka-go's errors (warn) and internal events (debug). Default:
	// none.
	Logger *zap.Logger
}

// Publisher publishes Kafka messages synchronously: Publish returns once the broker
// acknowledged every message (RequiredAcks all), or says which it did not. Messages
// are placed by key with the Murmur2 partitioner, as Java and franz-go clients do. It
// never creates topics. It is safe for concurrent use; messages of one Publish call to
// one partition are written in their order.
type Publisher struct {
	w         *kafka.Writer
	transport *kafka.Transport
}

// NewPublisher returns a Publisher for cfg's brokers. It connects on the first
// Publish.
func NewPublisher(cfg PublisherConfig) (*Publisher, error) {
	switch {
	case len(cfg.Brokers) == 0:
		return nil, fmt.Errorf("bus: new publisher: %w: no broker address", ErrInvalidConfig)
	case cfg.BatchTimeout < 0, cfg.BatchSize < 0, cfg.BatchBytes < 0, cfg.MaxAttempts < 0, cfg.WriteTimeout < 0:
		return nil, fmt.Errorf("bus: new publisher: %w: negative batch timeout, size, bytes, attempts or write timeout", ErrInvalidConfig)
	}
	if cfg.BatchTimeout == 0 {
		cfg.BatchTimeout = DefaultBatchTimeout
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.BatchBytes == 0 {
		cfg.BatchBytes = DefaultBatchBytes
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	log = log.With(zap.String("component", "kafka-publisher"))
	transport := &kafka.Transport{ClientID: clientID}
	w := &kafka.Writer{
		Addr: kafka.TCP(cfg.Brokers...),
		// Murmur2, like Java and franz-go clients: kafka-go's Hash balancer would put
		// most keys on another partition than any other producer of the same topics.
		Balancer: &kafka.Murmur2Balancer{},
		// All in-sync replicas: an acknowledged message survives the loss of the
		// leader, so the relay may mark its outbox row published.
		RequiredAcks:           kafka.RequireAll,
		BatchTimeout:           cfg.BatchTimeout,
		BatchSize:              cfg.BatchSize,
		BatchBytes:             cfg.BatchBytes,
		Compression:            cfg.Compression,
		MaxAttempts:            cfg.MaxAttempts,
		WriteTimeout:           cfg.WriteTimeout,
		AllowAutoTopicCreation: false,
		Transport:              transport,
		Logger:                 zapKafkaLogger(log, zapcore.DebugLevel),
		ErrorLogger:            zapKafkaLogger(log, zapcore.WarnLevel),
	}
	return &Publisher{w: w, transport: transport}, nil
}

// Publish writes msgs and returns once the broker acknowledged all of them, so that
// the caller can mark them published. Every message names its topic. On failure it
// returns a *PublishError, which wraps ErrTransient, ErrPermanent or ErrRejected and
// lists the messages not acknowledged (some of the others may have been: publishing
// them again is safe, consumers skip what they recorded). When ctx ends first it
// returns a transient error at once, while the messages may still reach the broker.
func (p *Publisher) Publish(ctx context.Context, msgs ...kafka.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	err := p.w.WriteMessages(ctx, msgs...)
	if err == nil {
		return nil
	}
	if errors.Is(err, io.ErrClosedPipe) {
		return fmt.Errorf("bus: publish: %w", ErrClosed)
	}
	return classifyPublish(err, msgs)
}

// Close sends what is pending, waits for it, and closes the connections. Publish fails
// with ErrClosed afterwards.
func (p *Publisher) Close() error {
	err := p.w.Close()
	p.transport.CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("bus: close publisher: %w", err)
	}
	return nil
}

// PublishError is a Publish the broker did not acknowledge in full. It wraps its class
// (ErrTransient, ErrPermanent or ErrRejected) and the first underlying error.
type PublishError struct {
	// Failed holds the positions, in the Publish call, of the messages not
	// acknowledged, in increasing order: every message when the failure was not per
	// partition (the context ended, a topic is unknown, a message too large stopped
	// the whole call).
	Failed []int
	// Rejected holds the positions of the messages refused as such (too large):
	// publishing them again can never succeed.
	Rejected []int
	// Err is the first underlying error.
	Err error
	// Class is ErrTransient, ErrPermanent or ErrRejected.
	Class error
}

// Error says how many messages failed, the class and the cause; never a payload.
func (e *PublishError) Error() string {
	return fmt.Sprintf("%v: publish: %d message(s) not acknowledged: %v", e.Class, len(e.Failed), e.Err)
}

// Unwrap returns the class and the underlying error, for errors.Is and errors.As.
func (e *PublishError) Unwrap() []error { return []error{e.Class, e.Err} }

// classifyPublish turns a kafka-go write error into a *PublishError.
func classifyPublish(err error, msgs []kafka.Message) error {
	pe := &PublishError{Err: err}
	var werrs kafka.WriteErrors
	var tooLarge kafka.MessageTooLargeError
	switch {
	case errors.As(err, &werrs):
		// Errors per message, from the batches of each partition: some partitions
		// may have acknowledged theirs.
		pe.Err, pe.Class = nil, ErrTransient
		for i, e := range werrs {
			if e == nil {
				continue
			}
			pe.Failed = append(pe.Failed, i)
			if pe.Err == nil {
				pe.Err = e
			}
			if errors.Is(classOf(e), ErrPermanent) {
				pe.Class = ErrPermanent
			}
		}
		if pe.Err == nil { // never seen: kafka-go returns WriteErrors only with an error
			pe.Err = err
		}
		return pe
	case errors.As(err, &tooLarge):
		// kafka-go checks sizes before sending anything: nothing was written. Only
		// the offending message is at fault; the others can go once it is set aside.
		pe.Failed = all(len(msgs))
		pe.Class = ErrRejected
		for i := range msgs {
			if sameMessage(&msgs[i], &tooLarge.Message) {
				pe.Rejected = []int{i}
				break
			}
		}
		return pe
	default:
		// A failure before any batch was formed (no topic, metadata unavailable,
		// context ended): nothing is known to be written.
		pe.Failed = all(len(msgs))
		pe.Class = classOf(err)
		return pe
	}
}

// classOf classifies one write error. kafka-go has already retried a batch whose
// error it considers temporary MaxAttempts times, so a temporary error here means the
// broker stayed unavailable: the relay retries later, with its own backoff.
func classOf(err error) error {
	var kerr kafka.Error
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// The caller stopped waiting: the broker may or may not have appended the
		// messages. Not acknowledged, so published again later; consumers skip repeats.
		return ErrTransient
	case errors.Is(err, kafka.MessageSizeTooLarge), errors.Is(err, kafka.RecordListTooLarge):
		// A batch above the broker's message.max.bytes: BatchBytes is set above the
		// broker's limit. Every retry forms the same batches; an operator must act.
		return ErrPermanent
	case errors.As(err, &kerr):
		// Kafka's own classification, as kafka-go encodes it: leader elections,
		// coordinator moves, not enough replicas, request timeouts and unknown topics
		// (creation still propagating, or metadata cached before it) are retriable;
		// authorization failures, invalid topics, invalid required acks and the like
		// are not, and repeating them would only hide a configuration error.
		if kerr.Temporary() {
			return ErrTransient
		}
		return ErrPermanent
	case isNetworkError(err):
		// Connection refused, reset or cut: the broker is down or restarting.
		return ErrTransient
	default:
		// Unknown errors are retried: the outbox keeps the rows, so retrying is safe,
		// and the relay logs every failure; calling them permanent could stop the
		// flow for a passing fault.
		return ErrTransient
	}
}

// isNetworkError reports errors of the connection rather than of the request.
func isNetworkError(err error) bool {
	var nerr net.Error
	return errors.As(err, &nerr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE)
}

// sameMessage reports whether a and b are the same message: kafka-go's size error
// carries a copy of the offending message, whose slices are those of the original.
func sameMessage(a, b *kafka.Message) bool {
	if a.Topic != b.Topic || len(a.Key) != len(b.Key) || len(a.Value) != len(b.Value) || len(a.Headers) != len(b.Headers) {
		return false
	}
	switch {
	case len(a.Value) > 0:
		return &a.Value[0] == &b.Value[0]
	case len(a.Key) > 0:
		return &a.Key[0] == &b.Key[0]
	case len(a.Headers) > 0:
		return &a.Headers[0] == &b.Headers[0]
	}
	return false
}

func all(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}
