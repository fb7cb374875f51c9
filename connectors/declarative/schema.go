package declarative

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"passerelle/schemas"
)

// field is what the canonical schema says of one field of the target type: the JSON
// types it may take, and for an object its properties and the required ones. open is
// true where the schema does not list the properties (a oneOf, an arbitrary object):
// any sub-path is accepted there and nothing is checked beneath.
type field struct {
	types    []string
	props    map[string]*field
	required []string
	open     bool
}

// schemaTree loads the data definition of the canonical type typ (short name or
// CloudEvents type) from the registry, resolving $refs across the schema files.
func schemaTree(reg *schemas.Registry, typ string) (*field, error) {
	raw, ok := reg.Schema(typ)
	if !ok {
		return nil, fmt.Errorf("no canonical type %q", typ)
	}
	var root map[string]any
	if err := json.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("schema of %s: %w", typ, err)
	}
	props, _ := root["properties"].(map[string]any)
	data, ok := props["data"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("schema of %s has no data property", typ)
	}
	r := &resolver{reg: reg, docs: map[string]map[string]any{}}
	if id, _ := root["$id"].(string); id != "" {
		r.docs[id] = root
	}
	id, _ := root["$id"].(string)
	return r.node(id, data, 0)
}

// resolver follows $refs of the form <$id>#/$defs/<name> or #/$defs/<name>.
type resolver struct {
	reg  *schemas.Registry
	docs map[string]map[string]any
}

func (r *resolver) doc(id string) (map[string]any, error) {
	if d, ok := r.docs[id]; ok {
		return d, nil
	}
	raw, ok := r.reg.Schema(id)
	if !ok {
		return nil, fmt.Errorf("no schema %s", id)
	}
	var d map[string]any
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("schema %s: %w", id, err)
	}
	r.docs[id] = d
	return d, nil
}

func (r *resolver) node(base string, n map[string]any, depth int) (*field, error) {
	if depth > 32 {
		return &field{open: true}, nil
	}
	if ref, ok := n["$ref"].(string); ok {
		id, frag, _ := strings.Cut(ref, "#")
		if id == "" {
			id = base
		}
		d, err := r.doc(id)
		if err != nil {
			return nil, err
		}
		target := any(d)
		for _, tok := range strings.Split(strings.TrimPrefix(frag, "/"), "/") {
			if tok == "" {
				continue
			}
			m, _ := target.(map[string]any)
			target = m[tok]
		}
		m, ok := target.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("unresolved $ref %s", ref)
		}
		return r.node(id, m, depth+1)
	}
	f := &field{}
	switch t := n["type"].(type) {
	case string:
		f.types = []string{t}
	case []any:
		for _, x := range t {
			if s, ok := x.(string); ok {
				f.types = append(f.types, s)
			}
		}
	}
	if _, ok := n["const"]; ok && len(f.types) == 0 {
		f.open = true
	}
	for _, key := range []string{"oneOf", "anyOf"} {
		if _, ok := n[key]; ok {
			f.open = true
		}
	}
	if req, ok := n["required"].([]any); ok {
		for _, x := range req {
			if s, ok := x.(string); ok {
				f.required = append(f.required, s)
			}
		}
	}
	if props, ok := n["properties"].(map[string]any); ok {
		f.props = map[string]*field{}
		for name, p := range props {
			pm, ok := p.(map[string]any)
			if !ok {
				continue
			}
			child, err := r.node(base, pm, depth+1)
			if err != nil {
				return nil, err
			}
			f.props[name] = child
		}
	} else if f.is("object") {
		f.open = true
	}
	return f, nil
}

// is reports whether the field may be of JSON type t.
func (f *field) is(t string) bool {
	for _, x := range f.types {
		if x == t || (t == "integer" && x == "number") {
			return true
		}
	}
	return false
}

// lookup walks a dotted path; it returns nil when the schema has no such field, and the
// last field reached with open set when the path goes beneath an open field.
func (f *field) lookup(path string) *field {
	cur := f
	for _, tok := range strings.Split(path, ".") {
		if cur.open {
			return cur
		}
		next, ok := cur.props[tok]
		if !ok {
			return nil
		}
		cur = next
	}
	return cur
}

// missingRequired lists the required fields (dotted paths) that no mapping key
// produces: a required field is produced by a key naming it or, for an object, by
// keys beneath it that produce its own required fields.
func (f *field) missingRequired(keys map[string]bool) []string {
	var out []string
	var walk func(prefix string, n *field)
	walk = func(prefix string, n *field) {
		if n.open {
			return
		}
		for _, name := range n.required {
			p := name
			if prefix != "" {
				p = prefix + "." + name
			}
			if keys[p] {
				continue
			}
			if child := n.props[name]; child != nil && child.props != nil && !child.open {
				walk(p, child) // made by the keys beneath it, or empty when it needs none
				continue
			}
			out = append(out, p)
		}
	}
	walk("", f)
	sort.Strings(out)
	return out
}

// requiredObjects lists the required objects reachable from the root through required
// objects (person, person.identifiers): the builder writes them, empty if nothing
// beneath them is mapped, so that a mapping needs no key for an object of optional
// fields.
func (f *field) requiredObjects() []string {
	var out []string
	var walk func(prefix string, n *field)
	walk = func(prefix string, n *field) {
		for _, name := range n.required {
			child := n.props[name]
			if child == nil || child.props == nil || child.open {
				continue
			}
			p := name
			if prefix != "" {
				p = prefix + "." + name
			}
			out = append(out, p)
			walk(p, child)
		}
	}
	walk("", f)
	return out
}
