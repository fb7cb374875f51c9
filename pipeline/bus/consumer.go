package bus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Consumer defaults; see ConsumerConfig.
const (
	DefaultSessionTimeout    = 30 * time.Second
	DefaultHeartbeatInterval = 3 * time.Second
	DefaultRebalanceTimeout  = 30 * time.Second
	DefaultMaxWait           = 500 * time.Millisecond
	DefaultJoinGroupBackoff  = 5 * time.Second
)

// ConsumerConfig configures NewConsumer.
type ConsumerConfig struct {
	// Brokers are the bootstrap brokers (host:port). Required.
	Brokers []string
	// Group is the consumer group: one per destination, so that each destination
	// reads every message once, at its own pace. Required.
	Group string
	// Topics are the topics the group reads; they must exist. Required.
	Topics []string
	// SessionTimeout is how long the group coordinator waits without a heartbeat
	// before it declares this member dead and gives its partitions to the others.
	// Default 30 s. It must lie within the broker's bounds (group.min.session.timeout.ms,
	// 6 s by default on Kafka and on the embedded broker), or the group never forms.
	SessionTimeout time.Duration
	// HeartbeatInterval is how often the member tells the coordinator it is alive,
	// and so how soon it learns that a rebalance started. Default 3 s; below
	// SessionTimeout.
	HeartbeatInterval time.Duration
	// RebalanceTimeout is how long the coordinator waits for every member to rejoin
	// during a rebalance. Default 30 s.
	RebalanceTimeout time.Duration
	// MaxWait is how long the broker holds a fetch while it has no new message.
	// Default 500 ms. kafka-go cannot interrupt a fetch in flight, so Close and every
	// rebalance wait up to MaxWait; kafka-go's own default, 10 s, would make each of
	// them that slow.
	MaxWait time.Duration
	// JoinGroupBackoff is the wait before joining again after a failed join. Default
	// 5 s (kafka-go's).
	JoinGroupBackoff time.Duration
	// QueueCapacity is how many fetched messages wait ahead of Fetch. Default 100
	// (kafka-go's).
	QueueCapacity int
	// Logger receives kafka-go's errors (warn: a refused join, a lost coordinator —
	// kafka-go reports these nowhere else while Fetch keeps blocking) and its internal
	// events (debug: joins, assignments, commits). Never a payload. Default: none.
	Logger *zap.Logger
}

// Consumer reads the messages of one consumer group over several topics, for one
// destination. Fetch hands out messages in partition order; Commit moves the group's
// offsets. It is at least once:
//
//   - Commit a message only once its outcome is durable (delivered and recorded, or
//     quarantined). Committing a message commits every earlier message of its
//     partition, so commit in order per partition (the deliverer commits the last
//     message of a run of finished ones).
//   - A message fetched and not committed is fetched again by whichever member owns
//     its partition next: after this Consumer is closed or crashes, and after a
//     rebalance (a member joins or leaves, or misses SessionTimeout). Messages this
//     Consumer had queued for a partition it lost are dropped, not handed out. A
//     message already handed out may still be delivered and committed by this
//     Consumer after its partition moved; the new owner then sees it too. Repeats are
//     expected; losses are not possible.
//   - Commits are synchronous (CommitInterval 0): when Commit returns nil the offset is
//     stored by the coordinator. A Commit during a rebalance waits for the next
//     generation; one refused because this member left the generation
//     (RebalanceInProgress, IllegalGeneration, UnknownMemberId) only means the
//     messages will be redelivered.
//
// A new group starts at the oldest message of each partition (kafka.FirstOffset).
// Fetch and Commit are safe to call from different goroutines; Fetch is meant for
// one.
type Consumer struct {
	r     *kafka.Reader
	group string
	// closed ends when Close returns: it releases a Commit that kafka-go accepted
	// into its queue but will never answer (its commit loop has stopped).
	closed    context.Context
	closeDone context.CancelFunc
}

// NewConsumer checks that cfg's topics exist, then joins cfg.Group in the background
// and returns. ctx bounds the check.
func NewConsumer(ctx context.Context, cfg ConsumerConfig) (*Consumer, error) {
	if cfg.SessionTimeout == 0 {
		cfg.SessionTimeout = DefaultSessionTimeout
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if cfg.RebalanceTimeout == 0 {
		cfg.RebalanceTimeout = DefaultRebalanceTimeout
	}
	if cfg.MaxWait == 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	if cfg.JoinGroupBackoff == 0 {
		cfg.JoinGroupBackoff = DefaultJoinGroupBackoff
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("bus: new consumer: %w", err)
	}
	if err := checkTopicsExist(ctx, cfg.Brokers, cfg.Topics); err != nil {
		return nil, fmt.Errorf("bus: new consumer for group %s: %w", cfg.Group, err)
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	log = log.With(zap.String("component", "kafka-consumer"), zap.String("group", cfg.Group))
	// kafka.NewReader panics on a configuration it refuses; validate has refused
	// those already.
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:           cfg.Brokers,
		GroupID:           cfg.Group,
		GroupTopics:       uniq(cfg.Topics),
		Dialer:            &kafka.Dialer{ClientID: clientID, Timeout: 10 * time.Second, DualStack: true},
		QueueCapacity:     cfg.QueueCapacity,
		MaxWait:           cfg.MaxWait,
		HeartbeatInterval: cfg.HeartbeatInterval,
		SessionTimeout:    cfg.SessionTimeout,
		RebalanceTimeout:  cfg.RebalanceTimeout,
		JoinGroupBackoff:  cfg.JoinGroupBackoff,
		// Synchronous commits: Commit returns once the coordinator stored the offset.
		CommitInterval: 0,
		StartOffset:    kafka.FirstOffset,
		Logger:         zapKafkaLogger(log, zapcore.DebugLevel),
		ErrorLogger:    zapKafkaLogger(log, zapcore.WarnLevel),
	})
	closed, cancel := context.WithCancel(context.Background())
	return &Consumer{r: r, group: cfg.Group, closed: closed, closeDone: cancel}, nil
}

func (cfg *ConsumerConfig) validate() error {
	var problems []string
	if len(cfg.Brokers) == 0 {
		problems = append(problems, "no broker address")
	}
	if strings.TrimSpace(cfg.Group) == "" {
		problems = append(problems, "no consumer group")
	}
	if len(cfg.Topics) == 0 {
		problems = append(problems, "no topic")
	}
	if err := checkTopicNames(cfg.Topics); err != nil {
		problems = append(problems, err.Error())
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"session timeout", cfg.SessionTimeout},
		{"heartbeat interval", cfg.HeartbeatInterval},
		{"rebalance timeout", cfg.RebalanceTimeout},
		{"max wait", cfg.MaxWait},
		{"join group backoff", cfg.JoinGroupBackoff},
	} {
		// The protocol carries these in int32 milliseconds.
		if d.v < time.Millisecond || d.v/time.Millisecond >= 1<<31-1 {
			problems = append(problems, d.name+" must be between 1 ms and 24 days")
		}
	}
	if cfg.HeartbeatInterval >= cfg.SessionTimeout {
		problems = append(problems, "heartbeat interval must be shorter than the session timeout")
	}
	if cfg.QueueCapacity < 0 {
		problems = append(problems, "negative queue capacity")
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, strings.Join(problems, "; "))
	}
	return nil
}

// Fetch returns the next message of the group's partitions, waiting for one until ctx
// ends. It does not commit: see Commit. It returns ctx's error when ctx ends,
// ErrClosed after Close, and a join error kafka-go gave up on (after logging it).
func (c *Consumer) Fetch(ctx context.Context) (kafka.Message, error) {
	m, err := c.r.FetchMessage(ctx)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return kafka.Message{}, fmt.Errorf("bus: fetch (group %s): %w", c.group, ErrClosed)
		}
		return kafka.Message{}, fmt.Errorf("bus: fetch (group %s): %w", c.group, err)
	}
	return m, nil
}

// Commit stores, for each partition of msgs, the offset after its highest message: the
// group resumes there. Call it only once the outcome of every message up to those is
// durable. It returns once the coordinator stored the offsets, or ctx ended.
func (c *Consumer) Commit(ctx context.Context, msgs ...kafka.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if c.closed.Err() != nil {
		return fmt.Errorf("bus: commit (group %s): %w", c.group, ErrClosed)
	}
	// kafka-go queues commit requests in a buffered channel: one queued as the Reader
	// closes is never answered. Ending the wait when Close returns turns that into
	// ErrClosed (the offset may or may not be stored: the messages may come again).
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(c.closed, cancel)
	defer stop()
	if err := c.r.CommitMessages(ctx, msgs...); err != nil {
		if errors.Is(err, io.ErrClosedPipe) || c.closed.Err() != nil {
			return fmt.Errorf("bus: commit (group %s): %w", c.group, ErrClosed)
		}
		return fmt.Errorf("bus: commit (group %s): %w", c.group, err)
	}
	return nil
}

// Close leaves the group, so that its partitions move to the other members at once
// rather than after SessionTimeout, and waits for kafka-go's goroutines (up to MaxWait,
// for a fetch in flight). Uncommitted messages are redelivered to the next owner.
func (c *Consumer) Close() error {
	err := c.r.Close()
	c.closeDone()
	if err != nil {
		return fmt.Errorf("bus: close consumer (group %s): %w", c.group, err)
	}
	return nil
}

// zapKafkaLogger adapts a zap logger to kafka-go's Logger at one level. Formatting is
// skipped when the level is off: kafka-go logs every batch it writes.
func zapKafkaLogger(log *zap.Logger, level zapcore.Level) kafka.Logger {
	return kafka.LoggerFunc(func(msg string, args ...any) {
		if !log.Core().Enabled(level) {
			return
		}
		log.Log(level, strings.TrimSpace(fmt.Sprintf(msg, args...)))
	})
}
