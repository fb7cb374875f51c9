package compat

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// annotations are keywords that never make a document invalid: changing them is free.
// The content keywords (contentEncoding, contentMediaType, contentSchema) are
// annotations in draft 2020-12 too, but a validator may be told to assert them, so they
// count as other keywords: a change to them is breaking.
var annotations = map[string]bool{
	"title": true, "description": true, "$comment": true, "examples": true, "default": true,
	"deprecated": true, "readOnly": true, "writeOnly": true, "$defs": true, "definitions": true,
	"$anchor": true, "$vocabulary": true,
	// The root's $id and $schema are compared by Check itself; a nested one counts
	// as an annotation here (the check does not change base URI inside a document).
	"$id": true, "$schema": true,
}

// countKeywords are the bounds on lengths and counts: the lower ones, then the upper.
var (
	lowerCounts = []string{"minLength", "minItems", "minProperties", "minContains"}
	upperCounts = []string{"maxLength", "maxItems", "maxProperties", "maxContains"}
)

// bound is one limit and where it is written.
type bound struct {
	val  *big.Rat
	excl bool
	at   node
}

// condition is one if/then/else of a conjunct.
type condition struct {
	ifN        node
	then, els  *node
	hasEffects bool
}

// otherKeyword is a keyword the check does not reason about, with its value in
// canonical form.
type otherKeyword struct {
	canon string
	at    node
}

// view is what a list of conjuncts says, merged keyword by keyword.
type view struct {
	expansion
	types     map[string]bool // nil: any type
	typeAt    node
	hasEnum   bool
	enum      []any // the values every enum and const allow
	enumAt    node
	required  map[string]node
	props     map[string][]node
	closed    bool
	closedAt  node
	allowed   map[string]bool // when closed: the property names accepted
	extra     []node          // additionalProperties given as a schema
	items     []node
	lower     *bound
	upper     *bound
	minCount  map[string]*bound
	maxCount  map[string]*bound
	multiple  []bound
	uniqueAt  *node
	patterns  map[string]node
	formats   map[string]node
	conds     []condition
	nots      []node
	anyOf     [][]node
	oneOf     [][]node
	others    map[string][]otherKeyword
	otherKeys []string
}

func buildView(schemas []node) *view {
	v := &view{
		expansion: expand(schemas),
		required:  map[string]node{},
		props:     map[string][]node{},
		minCount:  map[string]*bound{},
		maxCount:  map[string]*bound{},
		patterns:  map[string]node{},
		formats:   map[string]node{},
		others:    map[string][]otherKeyword{},
	}
	var unevaluatedClosers []node
	var additionalClosers []struct {
		at    node
		names map[string]bool
	}
	for _, c := range v.conj {
		for _, k := range sortedKeys(c.obj) {
			raw := c.obj[k]
			at := c.child(raw, k)
			if annotations[k] {
				continue
			}
			if !v.keyword(c, k, raw, at) {
				v.addOther(k, raw, at)
				continue
			}
			switch k {
			case "additionalProperties":
				if b, ok := raw.(bool); ok && !b {
					names := map[string]bool{}
					if props, ok := c.obj["properties"].(map[string]any); ok {
						for name := range props {
							names[name] = true
						}
					}
					additionalClosers = append(additionalClosers, struct {
						at    node
						names map[string]bool
					}{at, names})
				}
			case "unevaluatedProperties":
				if b, ok := raw.(bool); ok && !b {
					unevaluatedClosers = append(unevaluatedClosers, at)
				}
			}
		}
	}
	// Closing: each closer allows a set of names; the object accepts their
	// intersection. unevaluatedProperties sees every property evaluated by the
	// conjuncts and by their conditional and alternative branches.
	for _, c := range additionalClosers {
		v.close(c.at, c.names)
	}
	if len(unevaluatedClosers) > 0 {
		names := map[string]bool{}
		for name := range v.props {
			names[name] = true
		}
		var branches []node
		for _, cd := range v.conds {
			for _, b := range []*node{cd.then, cd.els} {
				if b != nil {
					branches = append(branches, *b)
				}
			}
		}
		for _, g := range append(append([][]node{}, v.anyOf...), v.oneOf...) {
			branches = append(branches, g...)
		}
		for _, b := range branches {
			for _, bc := range expand([]node{b}).conj {
				if props, ok := bc.obj["properties"].(map[string]any); ok {
					for name := range props {
						names[name] = true
					}
				}
			}
		}
		for _, at := range unevaluatedClosers {
			v.close(at, names)
		}
	}
	return v
}

func (v *view) close(at node, names map[string]bool) {
	if !v.closed {
		v.closed, v.closedAt, v.allowed = true, at, names
		return
	}
	for name := range v.allowed {
		if !names[name] {
			delete(v.allowed, name)
		}
	}
}

func (v *view) addOther(k string, raw any, at node) {
	if _, ok := v.others[k]; !ok {
		v.otherKeys = append(v.otherKeys, k)
	}
	v.others[k] = append(v.others[k], otherKeyword{canon: canon(raw), at: at})
}

// keyword merges one keyword of a conjunct into the view; false means the check does
// not reason about it (unknown, or a malformed value), and it is kept as is.
func (v *view) keyword(c conjunct, k string, raw any, at node) bool {
	switch k {
	case "$ref":
		_, ok := raw.(string)
		return ok // followed by expand
	case "allOf":
		_, ok := raw.([]any)
		return ok // followed by expand
	case "type":
		set, ok := typeSet(raw)
		if !ok {
			return false
		}
		if v.types == nil {
			v.types = set
		} else {
			v.types = intersectTypes(v.types, set)
		}
		v.typeAt = at
	case "enum", "const":
		var values []any
		if k == "const" {
			values = []any{raw}
		} else {
			arr, ok := raw.([]any)
			if !ok {
				return false
			}
			values = arr
		}
		if !v.hasEnum {
			v.hasEnum, v.enum = true, values
		} else {
			allowed := canonSet(values)
			kept := v.enum[:0:0]
			for _, e := range v.enum {
				if allowed[canon(e)] {
					kept = append(kept, e)
				}
			}
			v.enum = kept
		}
		v.enumAt = at
	case "required":
		arr, ok := raw.([]any)
		if !ok {
			return false
		}
		for i, e := range arr {
			name, ok := e.(string)
			if !ok {
				return false
			}
			if _, dup := v.required[name]; !dup {
				v.required[name] = at.child(e, strconv.Itoa(i))
			}
		}
	case "properties":
		props, ok := raw.(map[string]any)
		if !ok {
			return false
		}
		for _, name := range sortedKeys(props) {
			v.props[name] = append(v.props[name], at.child(props[name], name))
		}
	case "additionalProperties":
		switch raw.(type) {
		case bool: // false closes (see buildView), true changes nothing
		case map[string]any:
			v.extra = append(v.extra, at)
		default:
			return false
		}
	case "unevaluatedProperties":
		_, ok := raw.(bool) // false closes (see buildView), true changes nothing
		return ok           // a schema value is kept as is
	case "items":
		switch raw.(type) {
		case bool, map[string]any:
			v.items = append(v.items, at)
		default:
			return false
		}
	case "minimum", "exclusiveMinimum":
		r, ok := number(raw)
		if !ok {
			return false
		}
		b := &bound{val: r, excl: k == "exclusiveMinimum", at: at}
		if v.lower == nil || stricterLower(b, v.lower) {
			v.lower = b
		}
	case "maximum", "exclusiveMaximum":
		r, ok := number(raw)
		if !ok {
			return false
		}
		b := &bound{val: r, excl: k == "exclusiveMaximum", at: at}
		if v.upper == nil || stricterUpper(b, v.upper) {
			v.upper = b
		}
	case "minLength", "minItems", "minProperties", "minContains":
		r, ok := number(raw)
		if !ok {
			return false
		}
		if cur := v.minCount[k]; cur == nil || r.Cmp(cur.val) > 0 {
			v.minCount[k] = &bound{val: r, at: at}
		}
	case "maxLength", "maxItems", "maxProperties", "maxContains":
		r, ok := number(raw)
		if !ok {
			return false
		}
		if cur := v.maxCount[k]; cur == nil || r.Cmp(cur.val) < 0 {
			v.maxCount[k] = &bound{val: r, at: at}
		}
	case "multipleOf":
		r, ok := number(raw)
		if !ok || r.Sign() <= 0 {
			return false
		}
		v.multiple = append(v.multiple, bound{val: r, at: at})
	case "uniqueItems":
		b, ok := raw.(bool)
		if !ok {
			return false
		}
		if b && v.uniqueAt == nil {
			v.uniqueAt = &at
		}
	case "pattern", "format":
		s, ok := raw.(string)
		if !ok {
			return false
		}
		if k == "pattern" {
			v.patterns[s] = at
		} else {
			v.formats[s] = at
		}
	case "if":
		cd := condition{ifN: at}
		if t, ok := c.obj["then"]; ok {
			n := c.child(t, "then")
			cd.then, cd.hasEffects = &n, true
		}
		if e, ok := c.obj["else"]; ok {
			n := c.child(e, "else")
			cd.els, cd.hasEffects = &n, true
		}
		v.conds = append(v.conds, cd)
	case "then", "else":
		// Read with their if; without an if they have no effect.
	case "not":
		v.nots = append(v.nots, at)
	case "anyOf", "oneOf":
		arr, ok := raw.([]any)
		if !ok {
			return false
		}
		var group []node
		for i, s := range arr {
			group = append(group, at.child(s, strconv.Itoa(i)))
		}
		if k == "anyOf" {
			v.anyOf = append(v.anyOf, group)
		} else {
			v.oneOf = append(v.oneOf, group)
		}
	default:
		return false
	}
	return true
}

// acceptedTypes is the set of JSON types the view may accept (nil: any), using the
// enum's values when there is no type keyword.
func (v *view) acceptedTypes() map[string]bool {
	if v.types != nil {
		return v.types
	}
	if v.hasEnum {
		set := map[string]bool{}
		for _, e := range v.enum {
			set[jsonType(e)] = true
		}
		return set
	}
	return nil
}

// acceptsNothing says the view refuses every document.
func (v *view) acceptsNothing() bool {
	return v.falseAt != nil || (v.types != nil && len(v.types) == 0) || (v.hasEnum && len(v.enum) == 0)
}

// intersectTypes is the set of types both sets accept; an integer is a number.
func intersectTypes(a, b map[string]bool) map[string]bool {
	out := map[string]bool{}
	for t := range a {
		if b[t] {
			out[t] = true
		}
	}
	if (a["integer"] && b["number"]) || (a["number"] && b["integer"]) {
		out["integer"] = true
	}
	return out
}

func typeSet(raw any) (map[string]bool, bool) {
	valid := map[string]bool{"null": true, "boolean": true, "object": true, "array": true, "number": true, "string": true, "integer": true}
	set := map[string]bool{}
	switch t := raw.(type) {
	case string:
		if !valid[t] {
			return nil, false
		}
		set[t] = true
	case []any:
		for _, e := range t {
			s, ok := e.(string)
			if !ok || !valid[s] {
				return nil, false
			}
			set[s] = true
		}
	default:
		return nil, false
	}
	return set, true
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if r, ok := number(x); ok && r.IsInt() {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	default:
		return "object"
	}
}

// number reads a JSON number exactly; an absurd exponent is refused rather than
// expanded.
func number(raw any) (*big.Rat, bool) {
	n, ok := raw.(json.Number)
	if !ok || len(n) > 100 {
		return nil, false
	}
	s := string(n)
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		exp, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		if err != nil || exp > 400 || exp < -400 {
			return nil, false
		}
	}
	r, ok := new(big.Rat).SetString(s)
	return r, ok
}

func stricterLower(a, b *bound) bool {
	c := a.val.Cmp(b.val)
	return c > 0 || (c == 0 && a.excl && !b.excl)
}

func stricterUpper(a, b *bound) bool {
	c := a.val.Cmp(b.val)
	return c < 0 || (c == 0 && a.excl && !b.excl)
}

// canon writes a JSON value in a canonical form: keys sorted, numbers normalised, so
// that 1, 1.0 and 1e0 compare equal as JSON Schema says.
func canon(v any) string {
	var b strings.Builder
	writeCanon(&b, v)
	return b.String()
}

func writeCanon(b *strings.Builder, v any) {
	switch x := v.(type) {
	case map[string]any:
		b.WriteByte('{')
		for i, k := range sortedKeys(x) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Quote(k))
			b.WriteByte(':')
			writeCanon(b, x[k])
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanon(b, e)
		}
		b.WriteByte(']')
	case json.Number:
		if r, ok := number(x); ok {
			b.WriteString(r.RatString())
		} else {
			b.WriteString(string(x))
		}
	case string:
		b.WriteString(strconv.Quote(x))
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case nil:
		b.WriteString("null")
	default:
		fmt.Fprintf(b, "%v", x)
	}
}

func canonSet(values []any) map[string]bool {
	set := make(map[string]bool, len(values))
	for _, e := range values {
		set[canon(e)] = true
	}
	return set
}
