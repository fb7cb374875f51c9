package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Policies is the reviewed file of field policies (the configuration's `policies`): for
// each destination (a connector instance) and each canonical type it receives, the
// fields it may receive, in groups that each say why. A field no group names reaches
// no one: a new canonical field is denied everywhere until a policy names it. Some
// fields never reach some recipients whatever the file says (pipeline/policy).
//
//	prisme:
//	  penal-record:
//	    - why: the SPIP identifies the person in custody and the establishment
//	      fields: [committalNumber, establishmentCode, person.lastName, ...]
type Policies map[string]map[string][]FieldGroup

// FieldGroup is fields a destination may receive, with the reason it needs them.
type FieldGroup struct {
	// Why says what the recipient needs these fields for. Required.
	Why string `yaml:"why"`
	// Fields are canonical field paths (person.lastName, sentences[].kind). At least one.
	Fields []string `yaml:"fields"`
}

// readPolicies reads the policies file at path.
func readPolicies(path string) (Policies, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(raw) > MaxFileSize {
		return nil, fmt.Errorf("%s: file larger than %d bytes", path, MaxFileSize)
	}
	var p Policies
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// applyPolicies reads the policies file, checks it, and gives each route the fields of
// its destination's policy for each type it carries; a route that also names fields of
// its own is refused, so that the file stays the one place to review.
func (c *Config) applyPolicies(dir string, ps *Problems) {
	if c.Policies == "" {
		return
	}
	path := c.Policies
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	pol, err := readPolicies(path)
	if err != nil {
		ps.Add("policies", "%v", err)
		return
	}
	dests := make([]string, 0, len(pol))
	for d := range pol {
		dests = append(dests, d)
	}
	sort.Strings(dests)
	for _, d := range dests {
		// A destination this configuration does not have is not an error: one reviewed
		// file may serve several deployments.
		for typ, groups := range pol[d] {
			for i, g := range groups {
				p := fmt.Sprintf("policies.%s.%s[%d]", d, typ, i)
				if strings.TrimSpace(g.Why) == "" {
					ps.Add(p+".why", "required: say what the recipient needs these fields for")
				}
				if len(g.Fields) == 0 {
					ps.Add(p+".fields", "at least one field")
				}
				for j, f := range g.Fields {
					if !pathRE.MatchString(f) {
						ps.Add(fmt.Sprintf("%s.fields[%d]", p, j), "%q is not a field path like person.lastName or sentences[].kind", f)
					}
				}
			}
		}
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		if len(r.Allow) > 0 {
			ps.Add(fmt.Sprintf("routes[%d].allow", i), "the field policy lives in the policies file (%s): remove allow", c.Policies)
			continue
		}
		r.Allow = map[string][]string{}
		for _, typ := range r.Types {
			groups, ok := pol[r.Destination][typ]
			if !ok {
				continue // reported by Validate: no field policy for the type
			}
			var fields []string
			for _, g := range groups {
				fields = append(fields, g.Fields...)
			}
			r.Allow[typ] = fields
		}
	}
}
