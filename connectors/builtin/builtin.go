// Package builtin is the explicit registry of the connectors compiled into Passerelle:
// greppable, testable, no init() side effects. Adding a connector is one line in
// Specs. It lives apart from the connectors contract because each connector imports
// the contract, which therefore cannot import them back.
package builtin

import (
	"fmt"
	"net/http"
	"os"
	"sort"
	"time"

	"go.uber.org/zap"

	"passerelle/config"
	"passerelle/connectors"
	"passerelle/connectors/appi"
	"passerelle/connectors/cassiopee"
	"passerelle/connectors/declarative"
	"passerelle/connectors/genesis"
	"passerelle/connectors/jsonl"
	"passerelle/connectors/prisme"
	"passerelle/connectors/webhook"
)

// Specs lists the built-in connectors.
func Specs() []connectors.Spec {
	return []connectors.Spec{
		appi.Spec,
		cassiopee.Spec,
		declarative.Spec,
		genesis.Spec,
		jsonl.Spec,
		prisme.Spec,
		webhook.Spec,
	}
}

// Registry maps connector kinds to their specs.
type Registry struct {
	specs map[string]connectors.Spec
}

// NewRegistry builds a registry; a kind listed twice is an error.
func NewRegistry(specs []connectors.Spec) (*Registry, error) {
	r := &Registry{specs: map[string]connectors.Spec{}}
	for _, s := range specs {
		if s.Kind == "" || s.New == nil {
			return nil, fmt.Errorf("builtin: a connector spec needs a kind and a constructor")
		}
		if _, dup := r.specs[s.Kind]; dup {
			return nil, fmt.Errorf("builtin: connector kind %q registered twice", s.Kind)
		}
		r.specs[s.Kind] = s
	}
	return r, nil
}

// Default is the registry of Specs.
func Default() *Registry {
	r, err := NewRegistry(Specs())
	if err != nil {
		panic(err) // Specs is a constant list: a duplicate is a programming error caught by the tests.
	}
	return r
}

// Kinds lists the registered kinds, sorted.
func (r *Registry) Kinds() []connectors.Spec {
	out := make([]connectors.Spec, 0, len(r.specs))
	for _, s := range r.specs {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out
}

// Instantiate builds every enabled connector instance of cfg, reporting every problem
// with its path.
func (r *Registry) Instantiate(cfg *config.Config, log *zap.Logger) (map[string]*connectors.Instance, config.Problems) {
	var ps config.Problems
	out := map[string]*connectors.Instance{}
	names := make([]string, 0, len(cfg.Connectors))
	for n := range cfg.Connectors {
		names = append(names, n)
	}
	sort.Strings(names)
	// The connectors' shared transport keeps an idle connection for each of a
	// deliverer's concurrent lanes (16 by default): with net/http's default of 2 per
	// host, most deliveries closed a connection and dialled a new one (3 % of the hub's
	// CPU in the whole-path profile, besides the destination's side of each one).
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	client := &http.Client{Timeout: 60 * time.Second, Transport: tr}
	for _, name := range names {
		cc := cfg.Connectors[name]
		if cc.Disabled {
			continue
		}
		path := "connectors." + name
		spec, ok := r.specs[cc.Kind]
		if !ok {
			ps.Add(path+".kind", "unknown connector %q (see passerelle connectors)", cc.Kind)
			continue
		}
		inst, problems := spec.New(connectors.Env{
			Name: name, Logger: log.Named(name), Getenv: os.Getenv, HTTPClient: client,
		}, cc.Settings, path)
		ps = append(ps, problems...)
		if inst != nil && len(problems) == 0 {
			out[name] = inst
		}
	}
	return out, ps
}
