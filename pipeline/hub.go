package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"passerelle/config"
	"passerelle/connectors"
	"passerelle/internal/logging"
	"passerelle/pipeline/bus"
	"passerelle/pipeline/store"
	"passerelle/schemas"
)

// Hub is one `passerelle serve` process: the sources it may lead, the relay, one
// deliverer per destination, and the HTTP server. Several hubs on the same PostgreSQL
// and Kafka share the work: each polling source and the relay run in one process at a
// time (leases), the consumer groups spread the partitions.
type Hub struct {
	Config    *config.Config
	Instances map[string]*connectors.Instance
	Log       *zap.Logger
	// OnReady, when set, is called once everything is started (tests, the demo).
	OnReady func(*Running)
	// Mount, when set, adds handlers to the hub's HTTP server (the console) before it
	// starts serving; the handlers may use run once OnReady would be called.
	Mount func(mux *http.ServeMux, run *Running)
}

// Running is what a started hub exposes (to the HTTP handlers, the tests, the demo).
type Running struct {
	Store    *store.Store
	Schemas  *schemas.Registry
	Routing  *Routing
	Ingester *Ingester
	Brokers  []string
	HTTPAddr string
	// Metrics are the hub's Prometheus metrics (/metrics).
	Metrics *Metrics
	// Controls are the operators' pauses, as this process honours them.
	Controls *Controls
	// Replayer re-injects quarantined inputs (the console's replay button).
	Replayer *Replayer
	// Sources are the names of the source instances (polling and push), sorted.
	Sources []string

	mu      sync.Mutex
	stopped map[string]string // destination → why it stopped
}

// Stopped returns the destinations that stopped, with why.
func (r *Running) Stopped() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]string, len(r.stopped))
	for k, v := range r.stopped {
		out[k] = v
	}
	return out
}

// deliver runs d until ctx ends. When the destination stops (most recent deliveries
// refused), every route to it is paused, with the reason, in PostgreSQL: the other hub
// processes stop delivering there too, operators see why in `routes list`, the console
// and /readyz, and what was not delivered waits, pending. Once an operator resumes a
// route to it (`passerelle routes resume`), d runs again on a new consumer, from the
// committed offsets, without a restart of the process.
func (r *Running) deliver(ctx context.Context, d *Deliverer, cons *bus.Consumer, consumer func() (*bus.Consumer, error), log *zap.Logger) {
	for {
		err := d.Run(ctx)
		_ = cons.Close()
		if !errors.Is(err, ErrDestinationStopped) || ctx.Err() != nil {
			return
		}
		stop := func() {
			r.mu.Lock()
			r.stopped[d.Destination] = err.Error()
			r.mu.Unlock()
		}
		if r.Controls == nil || len(d.Routes) == 0 {
			stop()
			return // nothing to resume it by: it stays stopped until a restart
		}
		// The routes are paused before the destination says it stopped, so that whoever
		// sees the stop (/readyz, a test) sees the pause too.
		for _, route := range d.Routes {
			for {
				_, perr := r.Controls.Set(ctx, ControlRoute, route, true, err.Error(), "hub (destination stopped)")
				if perr == nil || ctx.Err() != nil {
					break
				}
				log.Warn("pause the routes of a stopped destination", logging.Destination(d.Destination), zap.Error(perr))
				sleep(ctx, time.Second)
			}
		}
		stop()
		for d.allPaused() && ctx.Err() == nil {
			sleep(ctx, pausePoll)
		}
		for ctx.Err() == nil {
			if cons, err = consumer(); err == nil {
				break
			}
			log.Warn("consumer of a resumed destination", logging.Destination(d.Destination), zap.Error(err))
			sleep(ctx, time.Second)
		}
		if ctx.Err() != nil {
			return
		}
		d.Consumer = cons
		r.mu.Lock()
		delete(r.stopped, d.Destination)
		r.mu.Unlock()
		log.Info("destination resumed", logging.Destination(d.Destination))
	}
}

// Prepare compiles what does not need the network: the schemas and the routes. It
// reports every problem of the configuration with its path.
func Prepare(cfg *config.Config, instances map[string]*connectors.Instance) (*schemas.Registry, *Routing, error) {
	reg, err := schemas.Load()
	if err != nil {
		return nil, nil, err
	}
	recipients := map[string]string{}
	for name, inst := range instances {
		if inst.Sink != nil {
			recipients[name] = inst.Recipient
		}
	}
	routing, ps := NewRouting(cfg, Catalog{reg}, recipients)
	if len(ps) > 0 {
		return nil, nil, ps.Err()
	}
	return reg, routing, nil
}

// storeOptions are the store's options of a hub: the configuration's pool and caches,
// and the audit chain's key from the environment (never from a committed file).
func storeOptions(db config.Database, getenv func(string) string) store.Options {
	return store.Options{MaxConns: db.MaxConns, AuditKey: []byte(getenv("PASSERELLE_AUDIT_KEY")),
		IdentityCache: db.IdentityCache, OutboxCache: db.OutboxCache}
}

// Run starts everything and blocks until ctx ends, then stops within a bounded time.
func (h *Hub) Run(ctx context.Context) error {
	cfg, log := h.Config, h.Log
	reg, routing, err := Prepare(cfg, h.Instances)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, cfg.Database.URL, storeOptions(cfg.Database, os.Getenv))
	if err != nil {
		return err
	}
	defer st.Close()

	brokers := cfg.Kafka.Brokers
	if cfg.Kafka.Embedded() {
		// The embedded broker accepts short sessions, so that a crashed process's
		// partitions move within seconds (the configured sessionTimeout decides).
		emb, err := bus.StartEmbedded(ctx, bus.EmbeddedOptions{Addr: cfg.Kafka.EmbeddedAddr, Partitions: cfg.Kafka.Partitions,
			GroupMinSessionTimeout: time.Second, Logger: log.Named("broker")})
		if err != nil {
			return err
		}
		defer emb.Close()
		brokers = emb.Addrs()
		log.Info("embedded Kafka broker started (in memory: use a real cluster in production)", zap.Strings("brokers", brokers))
	}
	topics := bus.Topics(cfg.Kafka.TopicPrefix)
	// Kafka keeps a record no longer than the hub keeps its payload: a topic the hub
	// creates gets retention.ms = retention.payloads; one that exists keeps its own,
	// which is the cluster operators' to lower, and is named if it keeps data longer.
	longer, err := bus.EnsureTopicsRetained(ctx, brokers, topics, cfg.Kafka.Partitions, cfg.Kafka.ReplicationFactor, cfg.Retention.Payloads)
	switch {
	case errors.Is(err, bus.ErrRetentionUnknown):
		log.Warn("the topics' retention could not be read: check by hand that none keeps data longer than retention.payloads",
			zap.Error(err), zap.Duration("retention_payloads", cfg.Retention.Payloads))
	case err != nil:
		return err
	}
	for _, l := range longer {
		kept := "forever (retention.ms -1)"
		if !l.Forever {
			kept = l.Retention.String()
		}
		log.Warn("a topic keeps the messages' data longer than the hub's payload retention: lower its retention.ms",
			zap.String("topic", l.Topic), zap.String("topic_retention", kept), zap.Duration("retention_payloads", cfg.Retention.Payloads))
	}
	pub, err := bus.NewPublisher(bus.PublisherConfig{Brokers: brokers, Logger: log.Named("publisher")})
	if err != nil {
		return err
	}
	defer func() { _ = pub.Close() }()

	run := &Running{Store: st, Schemas: reg, Routing: routing, Brokers: brokers, stopped: map[string]string{}}
	run.Ingester = &Ingester{Store: st, Schemas: reg, Routing: routing, Log: log.Named("ingest"),
		HoldDoubtful: cfg.Identities.Doubtful == config.DoubtfulWait}
	if err := h.prepareOps(ctx, run); err != nil {
		return err
	}

	srv, addr, err := h.serveHTTP(run)
	if err != nil {
		return err
	}
	run.HTTPAddr = addr

	var wg sync.WaitGroup
	wg.Go(func() { _ = run.Controls.Run(ctx) })
	wg.Go(func() {
		r := &Relay{Store: st, Publisher: pub, TopicPrefix: cfg.Kafka.TopicPrefix, Log: log.Named("relay"), Metrics: run.Metrics}
		_ = r.Run(ctx)
	})
	startRetention(ctx, wg.Go, cfg, st, log) // data protection: payloads and audit purged on schedule
	wg.Go(func() { (&StatsJob{Store: st, Log: log.Named("stats")}).Run(ctx) })
	// Data protection: what decided identity reviews still hold goes on.
	wg.Go(func() { run.Replayer.runReleases(ctx, log.Named("identity")) })
	dests := routing.Destinations()
	names := make([]string, 0, len(dests))
	for d := range dests {
		names = append(names, d)
	}
	sort.Strings(names)
	for _, dest := range names {
		inst := h.Instances[dest]
		var topicsOf []string
		for _, t := range dests[dest] {
			topicsOf = append(topicsOf, bus.TopicFor(cfg.Kafka.TopicPrefix, t))
		}
		consumer := func() (*bus.Consumer, error) {
			return bus.NewConsumer(ctx, bus.ConsumerConfig{
				Brokers: brokers, Group: DeliverGroup(dest), Topics: topicsOf,
				SessionTimeout: cfg.Kafka.SessionTimeout, HeartbeatInterval: cfg.Kafka.HeartbeatInterval,
				RebalanceTimeout: cfg.Kafka.RebalanceTimeout,
				Logger:           log.Named("consumer").With(logging.Destination(dest)),
			})
		}
		cons, err := consumer()
		if err != nil {
			return err
		}
		d := &Deliverer{Destination: dest, Sink: inst.Sink, Store: st, Routing: routing, Consumer: cons, Log: log.Named("deliver"),
			BackoffMin: cfg.Delivery.BackoffMin, BackoffMax: cfg.Delivery.BackoffMax, Timeout: cfg.Delivery.Timeout,
			FailureWindow: cfg.Delivery.FailureWindow, FailureRatio: cfg.Delivery.FailureRatio,
			Metrics: run.Metrics, Controls: run.Controls, Routes: routesTo(routing, dest)}
		wg.Go(func() { run.deliver(ctx, d, cons, consumer, log) })
	}
	for name, inst := range h.Instances {
		if inst.Source == nil {
			continue
		}
		r := &SourceRunner{Name: name, Source: inst.Source, Ingester: run.Ingester, Store: st, Log: log.Named("source"), Controls: run.Controls}
		wg.Go(func() { _ = r.Run(ctx) })
	}
	for name, inst := range h.Instances {
		if inst.Serve == nil {
			continue
		}
		// A push source: it serves its callers until ctx ends (connectors.Host).
		host := &PushHost{Name: name, Ingester: run.Ingester, Store: st, Log: log.Named("push")}
		wg.Go(func() {
			if err := inst.Serve(ctx, pausable(host, name, run.Controls)); err != nil {
				log.Error("push source stopped", logging.Connector(name), zap.Error(err))
			}
		})
	}
	log.Info("hub started", zap.String("http", addr), logging.Count(len(routing.Routes())))
	if h.OnReady != nil {
		h.OnReady(run)
	}

	<-ctx.Done()
	log.Info("hub stopping")
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-shutdown.Done():
		log.Warn("hub: parts still running at the end of the shutdown delay")
	}
	for name, inst := range h.Instances {
		if inst.Close != nil {
			if err := inst.Close(); err != nil {
				log.Warn("close connector", logging.Connector(name), zap.Error(err))
			}
		}
	}
	return nil
}

func (h *Hub) serveHTTP(run *Running) (*http.Server, string, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", run.serveReady)
	mux.Handle("GET /metrics", run.Metrics.Handler())
	if h.Mount != nil {
		h.Mount(mux, run)
	}
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", h.Config.HTTP.Listen)
	if err != nil {
		return nil, "", fmt.Errorf("hub: listen %s: %w", h.Config.HTTP.Listen, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return srv, ln.Addr().String(), nil
}

// Catalog adapts the schema registry to what routing needs.
type Catalog struct{ Reg *schemas.Registry }

// CanonicalType returns the CloudEvents type of a short name or type.
func (c Catalog) CanonicalType(q string) (string, bool) {
	t, ok := c.Reg.Lookup(q)
	return t.Type, ok
}

// SchemaByID returns a schema document by $id.
func (c Catalog) SchemaByID(id string) ([]byte, bool) { return c.Reg.Schema(id) }

// SchemaID returns the $id of a type's schema.
func (c Catalog) SchemaID(typ string) string {
	t, _ := c.Reg.Lookup(typ)
	return t.ID
}

// DeliverGroup is the Kafka consumer group of destination's deliverers, which every hub
// process of a deployment joins.
func DeliverGroup(destination string) string { return "passerelle.deliver." + destination }
