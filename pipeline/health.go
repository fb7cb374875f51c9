package pipeline

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"passerelle/connectors"
)

// prepareOps makes what operators see and use in a running hub: the metrics, the pause
// controls (read once now, so that a paused route does not deliver for an instant at
// start), the replayer and the list of sources.
func (h *Hub) prepareOps(ctx context.Context, run *Running) error {
	run.Metrics = NewMetrics()
	run.Ingester.Metrics = run.Metrics
	run.Controls = &Controls{Store: run.Store, Log: h.Log.Named("controls")}
	if err := run.Controls.Load(ctx); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	decoders := map[string]connectors.Decoder{}
	for name, inst := range h.Instances {
		if inst.Decoder != nil {
			decoders[name] = inst.Decoder
		}
		if inst.Source != nil || inst.Serve != nil {
			run.Sources = append(run.Sources, name)
		}
	}
	sort.Strings(run.Sources)
	run.Replayer = &Replayer{Store: run.Store, Ingester: run.Ingester, Decoders: decoders}
	run.Metrics.watchState(run.Store, run)
	return nil
}

// routesTo returns the names of the routes that deliver to dest.
func routesTo(routing *Routing, dest string) []string {
	var out []string
	for _, rt := range routing.Routes() {
		if rt.Destination == dest {
			out = append(out, rt.Name)
		}
	}
	return out
}

// readyTimeout bounds each dependency check of /readyz.
const readyTimeout = 2 * time.Second

// Readiness is the hub's state as /readyz reports it.
type Readiness struct {
	// Ready is false when PostgreSQL or Kafka cannot be reached, or a destination
	// stopped. A route an operator paused is deliberate: the hub is still ready.
	Ready      bool
	PostgreSQL error
	Kafka      error
	Brokers    int // brokers the metadata call listed
	Routes     []RouteState
	Sources    []SourceState
}

// Readiness checks PostgreSQL, Kafka (a metadata call) and the routes' states.
func (r *Running) Readiness(ctx context.Context) Readiness {
	var rd Readiness
	pctx, cancel := context.WithTimeout(ctx, readyTimeout)
	rd.PostgreSQL = r.Store.Pool().Ping(pctx)
	cancel()
	kctx, cancel := context.WithTimeout(ctx, readyTimeout)
	transport := &kafka.Transport{DialTimeout: readyTimeout}
	client := &kafka.Client{Addr: kafka.TCP(r.Brokers...), Timeout: readyTimeout, Transport: transport}
	md, err := client.Metadata(kctx, &kafka.MetadataRequest{Topics: []string{}})
	cancel()
	transport.CloseIdleConnections()
	if err != nil {
		rd.Kafka = err
	} else {
		rd.Brokers = len(md.Brokers)
	}
	if rd.PostgreSQL == nil {
		controls, err := r.Store.Controls(ctx)
		if err == nil {
			rd.Routes, err = RouteStates(ctx, r.Store, r.Routing, controls, r.Stopped(), false)
		}
		if err == nil {
			rd.Sources, err = SourceStates(ctx, r.Store, r.Sources, controls)
		}
		if err != nil {
			rd.PostgreSQL = err
		}
	}
	rd.Ready = rd.PostgreSQL == nil && rd.Kafka == nil && len(r.Stopped()) == 0
	return rd
}

// serveReady is /readyz: 200 when ready, 503 otherwise, with one line per check and per
// route and source, for a human or a probe's log.
func (r *Running) serveReady(w http.ResponseWriter, req *http.Request) {
	rd := r.Readiness(req.Context())
	var b strings.Builder
	if rd.PostgreSQL != nil {
		b.WriteString("postgresql: unreachable\n")
	} else {
		b.WriteString("postgresql: ok\n")
	}
	if rd.Kafka != nil {
		b.WriteString("kafka: unreachable (metadata call failed)\n")
	} else {
		fmt.Fprintf(&b, "kafka: ok (%d brokers)\n", rd.Brokers)
	}
	stopped := r.Stopped()
	dests := make([]string, 0, len(stopped))
	for d := range stopped {
		dests = append(dests, d)
	}
	sort.Strings(dests)
	for _, d := range dests {
		fmt.Fprintf(&b, "destination %s stopped: %s\n", d, stopped[d])
	}
	for _, rs := range rd.Routes {
		fmt.Fprintf(&b, "route %s -> %s: %s", rs.Name, rs.Destination, rs.State)
		if rs.Why != "" {
			fmt.Fprintf(&b, " (%s)", rs.Why)
		}
		fmt.Fprintf(&b, ", %d pending\n", rs.Counts.Pending)
	}
	for _, ss := range rd.Sources {
		fmt.Fprintf(&b, "source %s: %s", ss.Name, ss.State)
		if ss.Why != "" {
			fmt.Fprintf(&b, " (%s)", ss.Why)
		}
		b.WriteString("\n")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if rd.Ready {
		b.WriteString("ready\n")
	} else {
		w.WriteHeader(http.StatusServiceUnavailable)
		b.WriteString("not ready\n")
	}
	_, _ = w.Write([]byte(b.String()))
}
