package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/buger/jsonparser"
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
	quoted   []byte // the field's name as a JSON string
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
				q, _ := json.Marshal(name)
				c = &node{quoted: q}
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
//
// It walks the bytes and copies the kept values as they are, in their order, rather
// than decoding the whole tree into maps and encoding it again: the policy ran for
// every delivery and was the deliverer's largest cost, nearly all of it in that decode
// and encode. The tree filter it replaced stays in the tests as the reference that the
// property and fuzz tests compare it with.
func (p *Policy) Apply(data []byte) ([]byte, error) {
	if !json.Valid(data) {
		return nil, fmt.Errorf("policy: decode: the data is not valid JSON")
	}
	// Valid JSON whose first byte is '{' is an object.
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); trimmed[0] != '{' {
		return nil, fmt.Errorf("policy: data is not an object")
	}
	out, err := appendObject(make([]byte, 0, len(data)), data, p.root)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return out, nil
}

// appendObject appends to out the members of the JSON object obj that n keeps.
func appendObject(out, obj []byte, n *node) ([]byte, error) {
	out = append(out, '{')
	first := true
	var kept []*node // one node per field name: a field seen twice finds its node here
	err := jsonparser.ObjectEach(obj, func(key, value []byte, typ jsonparser.ValueType, _ int) error {
		c, ok := n.children[string(key)]
		if !ok {
			return nil
		}
		var err error
		start := len(out)
		if !first {
			out = append(out, ',')
		}
		out = append(out, c.quoted...)
		out = append(out, ':')
		keep := true
		switch {
		case c.leaf:
			// A scalar or an array of scalars: never a subtree, which could carry
			// fields added later.
			if keep = !rawHoldsObject(value, typ); keep {
				out = appendRaw(out, value, typ)
			}
		case typ == jsonparser.Object && !c.array:
			out, err = appendObject(out, value, c)
		case typ == jsonparser.Array && c.array:
			out, err = appendElements(out, value, c)
		default:
			keep = false
		}
		if err != nil {
			return err
		}
		if !keep {
			out = out[:start]
			return nil
		}
		if slices.Contains(kept, c) {
			return fmt.Errorf("field %q appears twice in an object", key)
		}
		kept = append(kept, c)
		first = false
		return nil
	})
	if err != nil {
		return nil, err
	}
	return append(out, '}'), nil
}

// appendElements appends to out the array arr with its objects filtered by n; what is
// not an object is dropped.
func appendElements(out, arr []byte, n *node) ([]byte, error) {
	out = append(out, '[')
	first := true
	var ferr error
	_, err := jsonparser.ArrayEach(arr, func(value []byte, typ jsonparser.ValueType, _ int, _ error) {
		if ferr != nil || typ != jsonparser.Object {
			return
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out, ferr = appendObject(out, value, n)
	})
	if err == nil {
		err = ferr
	}
	if err != nil {
		return nil, err
	}
	return append(out, ']'), nil
}

// rawHoldsObject reports whether a value holds an object, at any depth of its arrays.
func rawHoldsObject(value []byte, typ jsonparser.ValueType) bool {
	switch typ {
	case jsonparser.Object:
		return true
	case jsonparser.Array:
		found := false
		_, _ = jsonparser.ArrayEach(value, func(v []byte, t jsonparser.ValueType, _ int, _ error) {
			found = found || rawHoldsObject(v, t)
		})
		return found
	}
	return false
}

// appendRaw appends a value as it was written: jsonparser hands a string over without
// its quotes.
func appendRaw(out, value []byte, typ jsonparser.ValueType) []byte {
	if typ == jsonparser.String {
		out = append(out, '"')
		out = append(out, value...)
		return append(out, '"')
	}
	return append(out, value...)
}
