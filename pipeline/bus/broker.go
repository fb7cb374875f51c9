package bus

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/zap"
)

// DefaultEmbeddedAddr is where the embedded broker listens unless told otherwise: a
// free loopback port.
const DefaultEmbeddedAddr = "127.0.0.1:0"

// DefaultPartitions is the partition count of the topics the embedded broker creates
// when EmbeddedOptions.Partitions is 0.
const DefaultPartitions = 6

// segmentBytes is the size at which the embedded broker starts a new segment of a
// partition's log. The broker keeps each segment in one growing slice, copied whole
// each time it doubles: at kfake's default of 100 MiB, the copies and the fresh
// memory they fault in were 7 % of the ingest half's CPU in the hub's process. At
// 1 MiB they stay small and their memory is reused; retention, which drops whole
// segments, also drops what expired sooner.
const segmentBytes = 1 << 20

// maxPartitions bounds partition counts: far above any real need, far below int32.
const maxPartitions = 100_000

// EmbeddedOptions configures StartEmbedded. The zero value is a broker on a free
// loopback port, without topics, that creates none implicitly.
type EmbeddedOptions struct {
	// Addr is the host:port to listen on. Default DefaultEmbeddedAddr. The port may be
	// 0 (any free port; Addrs tells which). The host must be a specific address, not
	// 0.0.0.0 or ::, because the broker advertises the address it listens on and
	// clients connect to what it advertises.
	Addr string
	// Topics are created at start, with Partitions partitions each. Default none.
	Topics []string
	// Partitions is the partition count of Topics, and of topics a client creates
	// without saying how many. Default DefaultPartitions.
	Partitions int
	// AllowAutoTopicCreation lets a client's metadata request create a missing topic.
	// Default false: topics are created explicitly (Topics, EnsureTopics), so that a
	// misspelt topic is an error rather than a new topic nobody consumes.
	AllowAutoTopicCreation bool
	// GroupMinSessionTimeout is the shortest consumer-group session timeout the broker
	// accepts. Default 6 s, like Kafka's group.min.session.timeout.ms. Tests lower it
	// (to about 1 s) so that rebalances after a member's crash take a second, not
	// several.
	GroupMinSessionTimeout time.Duration
	// Logger receives the broker's warnings and errors. Default: none.
	Logger *zap.Logger
}

// Embedded is a Kafka-protocol broker running in this process (kfake, one broker). It
// keeps everything in memory: what it holds is gone when it is closed or its process
// ends. It is safe for concurrent use.
type Embedded struct {
	cluster *kfake.Cluster
	addrs   []string
	once    sync.Once
	// stopReaper ends the reaper (see reaper), reaped when it has.
	stopReaper context.CancelFunc
	reaped     chan struct{}
}

// StartEmbedded starts an in-process broker and returns once it accepts connections,
// with opts.Topics created. ctx bounds the start only: the broker runs until Close.
func StartEmbedded(ctx context.Context, opts EmbeddedOptions) (*Embedded, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("bus: start embedded broker: %w", err)
	}
	addr := opts.Addr
	if addr == "" {
		addr = DefaultEmbeddedAddr
	}
	if err := checkListenAddr(addr); err != nil {
		return nil, fmt.Errorf("bus: start embedded broker: %w", err)
	}
	partitions := opts.Partitions
	if partitions == 0 {
		partitions = DefaultPartitions
	}
	if partitions < 1 || partitions > maxPartitions {
		return nil, fmt.Errorf("bus: start embedded broker: %w: partitions must be 1 to %d, not %d", ErrInvalidConfig, maxPartitions, partitions)
	}
	if opts.GroupMinSessionTimeout < 0 {
		return nil, fmt.Errorf("bus: start embedded broker: %w: negative group minimum session timeout", ErrInvalidConfig)
	}
	if err := checkTopicNames(opts.Topics); err != nil {
		return nil, fmt.Errorf("bus: start embedded broker: %w", err)
	}

	kopts := []kfake.Opt{
		kfake.NumBrokers(1),
		// kfake always asks for 127.0.0.1:<port>; listening on the configured address
		// instead is what lets the broker serve another host name or a fixed port.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			var lc net.ListenConfig
			return lc.Listen(ctx, network, addr)
		}),
		kfake.DefaultNumPartitions(partitions),
		kfake.BrokerConfigs(map[string]string{"log.segment.bytes": strconv.Itoa(segmentBytes)}),
	}
	if len(opts.Topics) > 0 {
		kopts = append(kopts, kfake.SeedTopics(int32(partitions), opts.Topics...))
	}
	if opts.AllowAutoTopicCreation {
		kopts = append(kopts, kfake.AllowAutoTopicCreation())
	}
	if opts.GroupMinSessionTimeout > 0 {
		kopts = append(kopts, kfake.GroupMinSessionTimeout(opts.GroupMinSessionTimeout))
	}
	log := zap.NewNop()
	if opts.Logger != nil {
		log = opts.Logger.With(zap.String("component", "kafka-broker"))
		kopts = append(kopts, kfake.WithLogger(kfakeLogger{log}))
	}
	cluster, err := kfake.NewCluster(kopts...)
	if err != nil {
		return nil, fmt.Errorf("bus: start embedded broker on %s: %w", addr, err)
	}
	e := &Embedded{cluster: cluster, addrs: cluster.ListenAddrs(), reaped: make(chan struct{})}
	r := newReaper(e.addrs[0], log)
	r.watch(cluster)
	rctx, stop := context.WithCancel(context.Background())
	e.stopReaper = stop
	go func() {
		defer close(e.reaped)
		r.run(rctx)
	}()
	return e, nil
}

// Addrs returns the host:port the broker listens on, to give clients as bootstrap
// brokers.
func (e *Embedded) Addrs() []string { return append([]string(nil), e.addrs...) }

// Close stops the broker and drops everything it held. Clients still connected see
// their connections close. Close may be called more than once.
func (e *Embedded) Close() {
	e.once.Do(func() {
		e.stopReaper()
		<-e.reaped
		e.cluster.Close()
	})
}

// RunBroker runs an embedded broker on addr (host:port) until ctx ends, then stops it.
// It is the body of `passerelle broker`: one broker that several hub processes share,
// so that a hub crash does not lose what the broker holds. Give it a fixed port: the
// hubs must be told where it is. Topics are created by the hubs (EnsureTopics).
func RunBroker(ctx context.Context, addr string) error {
	e, err := StartEmbedded(ctx, EmbeddedOptions{Addr: addr})
	if err != nil {
		return err
	}
	<-ctx.Done()
	e.Close()
	return nil
}

// checkListenAddr refuses an address the broker could listen on but not advertise.
func checkListenAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: listen address %q: %w", ErrInvalidConfig, addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%w: listen address %q: port must be 0 to 65535", ErrInvalidConfig, addr)
	}
	if host == "" {
		return fmt.Errorf("%w: listen address %q: a host is required (e.g. 127.0.0.1)", ErrInvalidConfig, addr)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return fmt.Errorf("%w: listen address %q: the broker advertises the address it listens on, so it must be a specific one, not %s", ErrInvalidConfig, addr, host)
	}
	return nil
}

// kfakeLogger passes the broker's warnings and errors to zap. Its informational and
// debug messages describe every request: they stay out of the hub's logs.
type kfakeLogger struct{ log *zap.Logger }

// Logf logs one broker message at its level, when warn or error.
func (l kfakeLogger) Logf(level kfake.LogLevel, msg string, args ...any) {
	switch level {
	case kfake.LogLevelError:
		l.log.Error(fmt.Sprintf(msg, args...))
	case kfake.LogLevelWarn:
		l.log.Warn(fmt.Sprintf(msg, args...))
	default:
	}
}
