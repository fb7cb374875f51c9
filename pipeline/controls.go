package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"passerelle/connectors"
	"passerelle/internal/tick"
	"passerelle/pipeline/store"
)

// Kinds of operator controls.
const (
	ControlRoute  = "route"
	ControlSource = "source"
)

// pausePoll is how often a paused deliverer or source looks whether it was resumed.
const pausePoll = 100 * time.Millisecond

// ErrUnknownControl is returned for a pause, resume or reset of a route or source that
// the configuration does not have.
var ErrUnknownControl = errors.New("no such route or source in the configuration")

// Controls is the operators' pause state as this process sees it. The state lives in
// PostgreSQL (table controls), so that a pause given to any hub process, or by the CLI
// with no hub at all, holds for every process: each reads the table every Refresh.
// Until the first read, and when PostgreSQL cannot be read, the last state read holds.
//
// A paused route's deliverer stops fetching when every route of its destination is
// paused; a message of a paused route fetched anyway (a destination with several
// routes, or a message already in flight) waits in its lane until the route is
// resumed, so that it is delivered then, once, by the same path as any other. A paused
// source stops reading and gives up its lease (so that its checkpoint can be reset).
//
// A nil *Controls pauses nothing. Its methods are safe for concurrent use.
type Controls struct {
	Store *store.Store
	Log   *zap.Logger
	// Refresh is how often the state is read. Default 500ms.
	Refresh time.Duration

	// loading serialises Load: a read that began before a Set's write must not store
	// its state after the Set's own read stored the new one (seen in CI: the periodic
	// read put a stopped destination's routes back to running for up to Refresh).
	loading sync.Mutex
	mu      sync.RWMutex
	state   map[[2]string]store.Control

	// afterRead, when set (tests only), runs in Load between its read and its store.
	afterRead func()
}

// Load reads the state once.
func (c *Controls) Load(ctx context.Context) error {
	c.loading.Lock()
	defer c.loading.Unlock()
	cs, err := c.Store.Controls(ctx)
	if err != nil {
		return err
	}
	if c.afterRead != nil {
		c.afterRead()
	}
	state := make(map[[2]string]store.Control, len(cs))
	for _, ctl := range cs {
		state[[2]string{ctl.Kind, ctl.Name}] = ctl
	}
	c.mu.Lock()
	c.state = state
	c.mu.Unlock()
	return nil
}

// Run reads the state every Refresh until ctx ends.
func (c *Controls) Run(ctx context.Context) error {
	every := c.Refresh
	if every == 0 {
		every = 500 * time.Millisecond
	}
	failing := false
	tick.Every(ctx, every, func(ctx context.Context) {
		err := c.Load(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			failing = true
			c.Log.Warn("controls: read failed, the last state read holds", zap.Error(err))
		case err == nil && failing:
			failing = false
			c.Log.Info("controls: read again")
		}
	})
	return nil
}

func (c *Controls) get(kind, name string) (store.Control, bool) {
	if c == nil {
		return store.Control{}, false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	ctl, ok := c.state[[2]string{kind, name}]
	return ctl, ok && ctl.Paused
}

// RoutePaused reports whether an operator paused the route.
func (c *Controls) RoutePaused(name string) bool { _, p := c.get(ControlRoute, name); return p }

// SourcePaused reports whether an operator paused the source.
func (c *Controls) SourcePaused(name string) bool { _, p := c.get(ControlSource, name); return p }

// Paused returns the control of a paused route or source (who paused it, when, why).
func (c *Controls) Paused(kind, name string) (store.Control, bool) { return c.get(kind, name) }

// Set pauses or resumes, writing through to PostgreSQL (audited there) and to this
// process's state at once.
func (c *Controls) Set(ctx context.Context, kind, name string, paused bool, reason, actor string) (bool, error) {
	changed, err := c.Store.SetPaused(ctx, kind, name, paused, reason, actor)
	if err != nil {
		return false, err
	}
	return changed, c.Load(ctx)
}

// RouteState is a route as operators see it.
type RouteState struct {
	Name        string
	Destination string
	Types       []string
	LegalBasis  string
	// State is "running", "paused" (by an operator), "stopped" (the destination refused
	// most recent deliveries) or "disabled" (paused in the configuration: nothing is
	// routed to it).
	State string
	// Why says who paused it and why, or why the destination stopped.
	Why string
	// Counts are the route's deliveries by status; Counts.Pending is its lag in
	// messages (accepted, not yet delivered).
	Counts store.RouteCounts
}

// RouteStates lists the configured routes with their state and counts. stopped gives
// the destinations a running hub saw stop (nil outside a hub). Without totals only
// Counts.Pending is filled (a readiness probe's cheap query).
func RouteStates(ctx context.Context, st *store.Store, routing *Routing, controls []store.Control, stopped map[string]string, totals bool) ([]RouteState, error) {
	counts, err := st.RouteCountsByRoute(ctx, !totals)
	if err != nil {
		return nil, err
	}
	paused := map[string]store.Control{}
	for _, c := range controls {
		if c.Kind == ControlRoute && c.Paused {
			paused[c.Name] = c
		}
	}
	routed := map[string]bool{}
	for _, rt := range routing.Routes() {
		for _, typ := range rt.Types {
			for _, t := range routing.Targets(typ) {
				if t.Route == rt.Name {
					routed[rt.Name] = true
				}
			}
		}
	}
	var out []RouteState
	for _, rt := range routing.Routes() {
		rs := RouteState{Name: rt.Name, Destination: rt.Destination, Types: rt.Types, LegalBasis: rt.LegalBasis,
			State: "running", Counts: counts[rt.Name]}
		if why, ok := stopped[rt.Destination]; ok {
			rs.State, rs.Why = "stopped", why
		}
		if c, ok := paused[rt.Name]; ok {
			rs.State, rs.Why = "paused", pausedWhy(c)
		}
		if !routed[rt.Name] {
			rs.State, rs.Why = "disabled", "paused in the configuration (paused: true): nothing is routed to it"
		}
		out = append(out, rs)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func pausedWhy(c store.Control) string {
	s := fmt.Sprintf("paused by %s at %s", c.ChangedBy, c.ChangedAt.UTC().Format("2006-01-02 15:04:05Z"))
	if c.Reason != "" {
		s += ": " + c.Reason
	}
	return s
}

// SourceState is a source as operators see it.
type SourceState struct {
	Name string
	// State is "running" or "paused".
	State string
	Why   string
	// Position is the saved checkpoint ("" for a push source or before the first batch).
	Position  string
	UpdatedAt time.Time
}

// SourceStates lists the given sources with their state and checkpoint.
func SourceStates(ctx context.Context, st *store.Store, sources []string, controls []store.Control) ([]SourceState, error) {
	paused := map[string]store.Control{}
	for _, c := range controls {
		if c.Kind == ControlSource && c.Paused {
			paused[c.Name] = c
		}
	}
	out := make([]SourceState, 0, len(sources))
	for _, s := range sources {
		ss := SourceState{Name: s, State: "running"}
		if c, ok := paused[s]; ok {
			ss.State, ss.Why = "paused", pausedWhy(c)
		}
		pos, _, err := st.Checkpoint(ctx, s)
		if err != nil {
			return nil, err
		}
		ss.Position = pos
		out = append(out, ss)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ResetCheckpoint sets a paused source's checkpoint to position, taking the source's
// lease first (the running source gave it up when it saw the pause), so that no
// process commits a batch over the new position. It waits for the lease at most wait.
func ResetCheckpoint(ctx context.Context, st *store.Store, source, position, actor string, wait time.Duration) (string, error) {
	cs, err := st.Controls(ctx)
	if err != nil {
		return "", err
	}
	paused := false
	for _, c := range cs {
		if c.Kind == ControlSource && c.Name == source && c.Paused {
			paused = true
		}
	}
	if !paused {
		return "", fmt.Errorf("source %s is not paused: pause it first, so that it stops reading", source)
	}
	lctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	lease, err := st.AcquireLease(lctx, "source:"+source, 100*time.Millisecond)
	if err != nil {
		return "", fmt.Errorf("source %s: its lease is still held (a hub is finishing a batch?): %w", source, err)
	}
	defer lease.Release()
	return st.ResetCheckpoint(ctx, lease, source, position, actor)
}

// ErrSourcePaused is the error a paused push source's Accept returns (transient, so
// that the connector tells its caller that nothing was accepted and to send again).
var ErrSourcePaused = errors.New("the intake is paused by an operator: nothing was accepted, send it again later")

// pausableHost refuses the pushes of a push source while an operator has it paused;
// receipts and audit still work. Nothing is lost: the caller is told to send again.
type pausableHost struct {
	connectors.Host
	name     string
	controls *Controls
}

// pausable wraps a push source's host with its pause control.
func pausable(h connectors.Host, name string, c *Controls) connectors.Host {
	return pausableHost{Host: h, name: name, controls: c}
}

// Accept implements connectors.Host.
func (h pausableHost) Accept(ctx context.Context, p connectors.Push) (connectors.Pushed, error) {
	if h.controls.SourcePaused(h.name) {
		return connectors.Pushed{}, connectors.Transient(ErrSourcePaused, 30*time.Second)
	}
	return h.Host.Accept(ctx, p)
}
