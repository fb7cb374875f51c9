package pipeline

import (
	"fmt"
	"sort"

	"passerelle/config"
	"passerelle/pipeline/policy"
	"passerelle/pipeline/store"
)

// TypeCatalog is what routing needs to know of the canonical types.
type TypeCatalog interface {
	// CanonicalType returns the CloudEvents type for a short name or a type.
	CanonicalType(nameOrType string) (string, bool)
	// SchemaSource returns a schema document by $id.
	SchemaByID(id string) ([]byte, bool)
	// SchemaID returns the $id of a CloudEvents type's schema.
	SchemaID(typ string) string
}

// Route is a compiled route: which types go to which destination, on which legal
// basis, and which fields of each type the destination may receive.
type Route struct {
	Name        string
	Destination string
	Recipient   string // policy recipient kind of the destination
	LegalBasis  string // "reference — purpose", as audited
	Types       []string
	Policies    map[string]*policy.Policy // by CloudEvents type
}

// Routing is the compiled set of routes. It is immutable and safe for concurrent use.
type Routing struct {
	routes []*Route
	byName map[string]*Route
	byType map[string][]store.Target
}

// NewRouting compiles the configuration's routes. recipients gives the recipient kind
// of each destination instance. Every problem is reported with its path.
func NewRouting(cfg *config.Config, types TypeCatalog, recipients map[string]string) (*Routing, config.Problems) {
	r := &Routing{byName: map[string]*Route{}, byType: map[string][]store.Target{}}
	var ps config.Problems
	for i, rc := range cfg.Routes {
		path := fmt.Sprintf("routes[%d]", i)
		rt := &Route{Name: rc.Name, Destination: rc.Destination, Recipient: recipients[rc.Destination],
			LegalBasis: rc.LegalBasis.Reference + " — " + rc.LegalBasis.Purpose, Policies: map[string]*policy.Policy{}}
		if rt.Recipient == "" {
			ps.Add(path+".destination", "connector %q cannot receive messages (it is not a sink)", rc.Destination)
		}
		for j, t := range rc.Types {
			ct, ok := types.CanonicalType(t)
			if !ok {
				ps.Add(fmt.Sprintf("%s.types[%d]", path, j), "unknown canonical type %q (see passerelle schemas list)", t)
				continue
			}
			rt.Types = append(rt.Types, ct)
			fields := rc.Allow[t]
			for _, problem := range policy.CheckPaths(types.SchemaByID, types.SchemaID(ct), fields) {
				ps.Add(path+".allow."+t, "%s", problem)
			}
			if rt.Recipient == "" {
				continue
			}
			p, err := policy.Compile(ct, rt.Recipient, fields)
			if err != nil {
				ps.Add(path+".allow."+t, "%v", err)
				continue
			}
			rt.Policies[ct] = p
			if !rc.Paused {
				r.byType[ct] = append(r.byType[ct], store.Target{Route: rt.Name, Destination: rt.Destination, LegalBasis: rt.LegalBasis})
			}
		}
		r.routes = append(r.routes, rt)
		r.byName[rt.Name] = rt
	}
	for typ, ts := range r.byType {
		seen := map[string]string{}
		for _, t := range ts {
			if other, dup := seen[t.Destination]; dup {
				ps.Add("routes", "routes %q and %q both send %s to %q: one route per type and destination", other, t.Route, typ, t.Destination)
			}
			seen[t.Destination] = t.Route
		}
	}
	return r, ps
}

// Targets returns the destinations of a canonical type.
func (r *Routing) Targets(typ string) []store.Target { return r.byType[typ] }

// Route returns a route by name.
func (r *Routing) Route(name string) *Route { return r.byName[name] }

// Routes returns every route.
func (r *Routing) Routes() []*Route { return r.routes }

// Destinations returns, per destination, the canonical types routed to it (sorted).
func (r *Routing) Destinations() map[string][]string {
	out := map[string][]string{}
	for typ, ts := range r.byType {
		for _, t := range ts {
			out[t.Destination] = append(out[t.Destination], typ)
		}
	}
	for _, ts := range out {
		sort.Strings(ts)
	}
	return out
}
