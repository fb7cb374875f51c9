package policy

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Recipient kinds: who is on the other side of a destination.
const (
	Probation   = "probation"   // SPIP (PRISME)
	Enforcement = "enforcement" // JAP and SPIP together (APPI)
	Prosecution = "prosecution" // parquet and courts (Cassiopée)
	Prison      = "prison"      // prison administration (GENESIS)
	Other       = "other"       // anyone else (associations, archives, tests)
)

// RecipientKinds lists the valid kinds.
var RecipientKinds = []string{Probation, Enforcement, Prosecution, Prison, Other}

// rule is a hard deny: a canonical type ("" = every type) and a field path that some
// recipients may never receive.
type rule struct {
	typ     string
	path    string
	allowed []string // the only recipient kinds that may receive it
	why     string
}

// hardRules never depend on configuration. Each one is tested: removing it fails the
// suite.
var hardRules = []rule{
	{"", "person.address", []string{Probation}, "postal addresses reach the SPIP only (contracts/README.md)"},
	{"", "sentences[].obligationDetails", []string{Probation}, "the court's free text on obligations reaches the SPIP only"},
	{"", "convictions[].sentences[].obligationDetails", []string{Probation}, "the court's free text on obligations reaches the SPIP only"},
	{"fr.justice.case-transfer.v1", "nextAppointment", []string{Probation, Enforcement}, "an SPIP appointment never reaches a prosecutor-side recipient"},
	{"fr.justice.report.v1", "*", []string{Probation, Enforcement}, "SPIP reports never reach a prosecutor-side recipient"},
	{"fr.justice.measure.v1", "observations", nil, "the JAP office's observations travel to no one"},
}

// Denied reports why recipient kind may never receive path of typ, or "" when it may.
func Denied(typ, path, recipient string) string {
	for _, r := range hardRules {
		if r.typ != "" && r.typ != typ {
			continue
		}
		if r.path != "*" && r.path != path && !strings.HasPrefix(path, r.path+".") {
			continue
		}
		ok := false
		for _, k := range r.allowed {
			if k == recipient {
				ok = true
			}
		}
		if !ok {
			return r.why
		}
	}
	return ""
}

// node is one level of an allow-list: the fields kept below it.
type node struct {
	children map[string]*node
	leaf     bool // keep the whole value (a scalar or an array of scalars)
	array    bool // the value is an array whose elements are filtered by children
}

// Policy is a compiled allow-list for one canonical type and one recipient.
type Policy struct {
	typ       string
	recipient string
	root      *node
	fields    []string
}

// Compile builds the policy of one type from its allow-list. Paths are dot-separated
// field names, with [] after a name whose value is an array of objects
// ("convictions[].offences[].natinf"). It refuses a path that a hard rule denies to
// recipient.
func Compile(typ, recipient string, paths []string) (*Policy, error) {
	p := &Policy{typ: typ, recipient: recipient, root: &node{}}
	var problems []string
	for _, path := range paths {
		if why := Denied(typ, path, recipient); why != "" {
			problems = append(problems, fmt.Sprintf("%s: may not be sent to a %s recipient: %s", path, recipient, why))
			continue
		}
		n := p.root
		segs := strings.Split(path, ".")
		for i, seg := range segs {
			name, isArray := strings.CutSuffix(seg, "[]")
			if name == "" {
				problems = append(problems, fmt.Sprintf("%s: empty field name", path))
				break
			}
			if n.children == nil {
				n.children = map[string]*node{}
			}
			c := n.children[name]
			if c == nil {
				c = &node{}
				n.children[name] = c
			}
			if isArray {
				c.array = true
			}
			if i == len(segs)-1 {
				if isArray {
					problems = append(problems, fmt.Sprintf("%s: a path ends with a field, not with []", path))
				}
				c.leaf = true
			}
			n = c
		}
		p.fields = append(p.fields, path)
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, fmt.Errorf("policy %s: %s", typ, strings.Join(problems, "; "))
	}
	sort.Strings(p.fields)
	return p, nil
}

// Fields lists the allowed paths.
func (p *Policy) Fields() []string { return p.fields }

// Apply returns data reduced to the allowed fields. data is a JSON object.
func (p *Policy) Apply(data []byte) ([]byte, error) {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("policy: decode: %w", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("policy: data is not an object")
	}
	out, err := json.Marshal(filterObject(obj, p.root))
	if err != nil {
		return nil, fmt.Errorf("policy: encode: %w", err)
	}
	return out, nil
}

func filterObject(obj map[string]any, n *node) map[string]any {
	out := make(map[string]any, min(len(obj), len(n.children)))
	for k, v := range obj {
		c, ok := n.children[k]
		if !ok {
			continue
		}
		if c.leaf {
			if !containsObject(v) {
				out[k] = v
			}
			continue
		}
		if kept := filterValue(v, c); kept != nil {
			out[k] = kept
		}
	}
	return out
}

// containsObject reports whether a leaf's value holds an object: a leaf path stands for
// a scalar or an array of scalars, never for a whole subtree (which could carry fields
// added later).
func containsObject(v any) bool {
	switch t := v.(type) {
	case map[string]any:
		return true
	case []any:
		for _, e := range t {
			if containsObject(e) {
				return true
			}
		}
	}
	return false
}

func filterValue(v any, n *node) any {
	switch t := v.(type) {
	case map[string]any:
		if n.array {
			return nil
		}
		return filterObject(t, n)
	case []any:
		if !n.array {
			return nil
		}
		out := make([]any, 0, len(t))
		for _, e := range t {
			if m, ok := e.(map[string]any); ok {
				out = append(out, filterObject(m, n))
			}
		}
		return out
	default:
		return nil
	}
}
