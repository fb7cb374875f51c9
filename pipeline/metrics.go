package pipeline

import (
	"context"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/segmentio/kafka-go"

	"passerelle/pipeline/store"
)

// Metrics are the hub's Prometheus metrics, served on /metrics. Every label value is
// the name of a configured connector, route or destination, a canonical type, a stage
// or an outcome: never an identifier, a name or anything else from a payload, since
// metrics travel to monitoring systems that are not cleared for penal data.
//
// Counters move as the flow goes (facts in, deliveries, retries, relayed messages);
// the backlog gauges (outbox, pending deliveries, quarantine) are read from PostgreSQL
// at scrape time, so that every hub process reports the same, true numbers whatever
// process did the work. A nil *Metrics counts nothing.
type Metrics struct {
	registry   *prometheus.Registry
	factsIn    *prometheus.CounterVec
	deliveries *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	retries    *prometheus.CounterVec
	published  prometheus.Counter
	lag        *prometheus.GaugeVec

	mu     sync.Mutex
	state  *stateCollector
	lagMu  sync.Mutex
	lagsOf map[string]map[string]int64 // destination → topic/partition → lag
}

// Outcomes of a fact at ingest, as the facts-in counter labels them.
const (
	FactAccepted  = string(store.Accepted)
	FactDuplicate = string(store.Duplicate)
	FactStale     = string(store.Stale)
	FactConflict  = string(store.Conflict) // same version, other content: quarantined
	FactRejected  = "rejected"             // failed decode, map or validation: quarantined
)

// NewMetrics makes the hub's metrics on a registry of their own (with the Go runtime
// and process collectors), so that several hubs in one test process do not collide.
func NewMetrics() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		factsIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "passerelle", Name: "facts_in_total",
			Help: "Facts received from each source, by outcome at ingest (accepted, duplicate, stale, conflict, rejected).",
		}, []string{"source", "outcome"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "passerelle", Name: "deliveries_total",
			Help: "Delivery outcomes recorded, by destination, route and outcome (delivered, superseded, quarantined).",
		}, []string{"destination", "route", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "passerelle", Name: "delivery_duration_seconds",
			Help:    "Time from the first attempt of a delivery to its outcome, retries included, by destination.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"destination"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "passerelle", Name: "delivery_retries_total",
			Help: "Delivery attempts that failed transiently and were retried, by destination.",
		}, []string{"destination"}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "passerelle", Name: "relay_published_total",
			Help: "Outbox messages the broker acknowledged (republications included).",
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "passerelle", Name: "consumer_lag_messages",
			Help: "Messages behind the partitions' high watermarks at the last fetch of this process's consumer, by destination.",
		}, []string{"destination"}),
		lagsOf: map[string]map[string]int64{},
	}
	m.registry.MustRegister(m.factsIn, m.deliveries, m.latency, m.retries, m.published, m.lag,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is where the metrics are registered (to add more, or to gather in tests).
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Timeout: 10 * time.Second})
}

// watchState registers the gauges read from PostgreSQL and from the hub's state at
// scrape time. It is called once by the hub, after the store is open.
func (m *Metrics) watchState(st *store.Store, run *Running) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state != nil {
		return
	}
	m.state = &stateCollector{store: st, run: run,
		outbox: prometheus.NewDesc("passerelle_outbox_backlog", "Outbox messages not yet published (state=unpublished) or still without every outcome (state=unsettled).",
			[]string{"state"}, nil),
		pending: prometheus.NewDesc("passerelle_deliveries_pending", "Deliveries waiting for an outcome, by destination.",
			[]string{"destination"}, nil),
		quarantine: prometheus.NewDesc("passerelle_quarantine_open", "Open quarantine items, by stage and connector.",
			[]string{"stage", "connector"}, nil),
		paused: prometheus.NewDesc("passerelle_paused", "1 when an operator paused the route or source (kind=route|source).",
			[]string{"kind", "name"}, nil),
		stopped: prometheus.NewDesc("passerelle_destination_stopped", "1 when the destination stopped because most recent deliveries were refused.",
			[]string{"destination"}, nil),
		up: prometheus.NewDesc("passerelle_state_scrape_ok", "1 when the state gauges could be read from PostgreSQL at this scrape.", nil, nil),
	}
	m.registry.MustRegister(m.state)
}

func (m *Metrics) factIn(source, outcome string, n int) {
	if m == nil || n == 0 {
		return
	}
	m.factsIn.WithLabelValues(source, outcome).Add(float64(n))
}

// countIngest counts one committed ingest batch.
func (m *Metrics) countIngest(source string, res Ingested, rejected int) {
	if m == nil {
		return
	}
	for _, o := range []store.Outcome{store.Accepted, store.Duplicate, store.Stale, store.Conflict} {
		m.factIn(source, string(o), res.Count(o))
	}
	m.factIn(source, FactRejected, rejected)
}

func (m *Metrics) delivered(destination, route, outcome string, took time.Duration) {
	if m == nil {
		return
	}
	m.deliveries.WithLabelValues(destination, route, outcome).Inc()
	if took > 0 {
		m.latency.WithLabelValues(destination).Observe(took.Seconds())
	}
}

func (m *Metrics) retried(destination string) {
	if m == nil {
		return
	}
	m.retries.WithLabelValues(destination).Inc()
}

func (m *Metrics) relayed(n int) {
	if m == nil {
		return
	}
	m.published.Add(float64(n))
}

// fetched notes a fetched message's distance to its partition's high watermark.
func (m *Metrics) fetched(destination string, km kafka.Message) {
	if m == nil || km.HighWaterMark == 0 {
		return
	}
	m.lagMu.Lock()
	defer m.lagMu.Unlock()
	parts := m.lagsOf[destination]
	if parts == nil {
		parts = map[string]int64{}
		m.lagsOf[destination] = parts
	}
	parts[partKey(km)] = max(0, km.HighWaterMark-km.Offset-1)
	var sum int64
	for _, l := range parts {
		sum += l
	}
	m.lag.WithLabelValues(destination).Set(float64(sum))
}

// stateCollector reads the backlog gauges at scrape time.
type stateCollector struct {
	store                                            *store.Store
	run                                              *Running
	outbox, pending, quarantine, paused, stopped, up *prometheus.Desc
}

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.outbox, c.pending, c.quarantine, c.paused, c.stopped, c.up} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: it reads the gauges now.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ok := 1.0
	if b, err := c.store.Backlog(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(c.outbox, prometheus.GaugeValue, float64(b.Unpublished), "unpublished")
		ch <- prometheus.MustNewConstMetric(c.outbox, prometheus.GaugeValue, float64(b.Unsettled), "unsettled")
		for _, dest := range destinationNames(c.run.Routing) {
			ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(b.Pending[dest]), dest)
		}
	} else {
		ok = 0
	}
	if q, err := c.store.QuarantineCounts(ctx); err == nil {
		for _, n := range q {
			ch <- prometheus.MustNewConstMetric(c.quarantine, prometheus.GaugeValue, float64(n.Open), n.Stage, n.Connector)
		}
	} else {
		ok = 0
	}
	if c.run.Controls != nil {
		for _, r := range c.run.Routing.Routes() {
			ch <- prometheus.MustNewConstMetric(c.paused, prometheus.GaugeValue, b2f(c.run.Controls.RoutePaused(r.Name)), ControlRoute, r.Name)
		}
		for _, s := range c.run.Sources {
			ch <- prometheus.MustNewConstMetric(c.paused, prometheus.GaugeValue, b2f(c.run.Controls.SourcePaused(s)), ControlSource, s)
		}
	}
	stopped := c.run.Stopped()
	for _, dest := range destinationNames(c.run.Routing) {
		_, s := stopped[dest]
		ch <- prometheus.MustNewConstMetric(c.stopped, prometheus.GaugeValue, b2f(s), dest)
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, ok)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// destinationNames returns the destinations of the configured routes, sorted, once each.
func destinationNames(routing *Routing) []string {
	seen := map[string]bool{}
	var out []string
	for _, rt := range routing.Routes() {
		if !seen[rt.Destination] {
			seen[rt.Destination] = true
			out = append(out, rt.Destination)
		}
	}
	sort.Strings(out)
	return out
}
