package schemas

import (
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// The validator pays for every subschema it enters: a scope, a record of unevaluated
// properties and a validator, allocated at each step. A `$ref` is one step more, and
// the canonical types reach their shared definitions (a date, a person, a sentence)
// through one at almost every field: about a third of the steps of a penal record.
// inline gives the compiler each message type with those references replaced by the
// definitions they name, and with the envelope's attributes, which each type reaches
// through an `allOf`, folded into the type's own keywords (foldAllOf), so that the
// same checks run in fewer steps. The files served by Schema and published in docs
// stay as they are written.

// annotations are the keywords that assert nothing: where a `$ref` sits beside them,
// the definition's keywords can be merged in (the referring schema's own annotation
// wins, as a reader of the file would expect).
var annotations = map[string]bool{
	"description": true, "title": true, "$comment": true, "examples": true,
	"default": true, "deprecated": true, "readOnly": true, "writeOnly": true,
}

// inliner resolves references between the embedded schema documents.
type inliner struct {
	docs map[string]any // $id → decoded document
}

// inline returns a copy of doc, the document whose $id is base, where every `$ref`
// that names a subschema of an embedded document by a JSON pointer is replaced by that
// subschema (itself inlined), when the replacement keeps the meaning: the referring
// schema holds nothing but annotations beside its `$ref`, and the definition carries
// no identity of its own ($id, $anchor, $dynamicAnchor, $defs). Any other reference
// is kept, made absolute so that it still resolves from wherever it now stands.
func (in inliner) inline(doc any, base string) any {
	return in.walk(doc, base, nil)
}

// walk copies one schema (or keyword value) found in the document whose $id is base;
// stack holds the references being inlined, so that a cycle keeps its reference.
func (in inliner) walk(v any, base string, stack []string) any {
	switch v := v.(type) {
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = in.walk(e, base, stack)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			switch k {
			case "$ref":
				if s, ok := e.(string); ok {
					out[k] = absolute(s, base)
					continue
				}
			case "enum", "const", "examples", "default":
				// Values, not schemas: copied as they are.
				out[k] = e
				continue
			}
			out[k] = in.walk(e, base, stack)
		}
		in.inlineRef(out, stack)
		foldAllOf(out)
		return out
	default:
		return v
	}
}

// inlineRef replaces out's `$ref` by the definition it names, itself inlined, when
// nothing but annotations stands beside it and the definition has no identity of its
// own; otherwise the reference stays.
func (in inliner) inlineRef(out map[string]any, stack []string) {
	ref, ok := out["$ref"].(string)
	if !ok {
		return
	}
	for k := range out {
		if k != "$ref" && !annotations[k] {
			return
		}
	}
	target, targetBase, ok := in.resolve(ref)
	if !ok || slices.Contains(stack, ref) {
		return
	}
	for _, k := range identities {
		if _, has := target[k]; has {
			return
		}
	}
	merged, ok := in.walk(target, targetBase, append(stack, ref)).(map[string]any)
	if !ok {
		return
	}
	delete(out, "$ref")
	for k, e := range merged {
		if _, own := out[k]; !own {
			out[k] = e
		}
	}
}

// identities are the keywords that give a schema a name of its own, or change how its
// references resolve: such a schema is never moved.
var identities = []string{"$id", "$anchor", "$dynamicAnchor", "$recursiveAnchor", "$defs", "definitions", "$schema"}

// unmovable are the keywords that keep a subschema where it stands when an allOf is
// folded: an identity, a reference, or what its siblings left unevaluated.
var unmovable = append(slices.Clone(identities), "$ref", "$dynamicRef", "$recursiveRef",
	"unevaluatedProperties", "unevaluatedItems")

// resolve finds the subschema an absolute reference names: a document's $id, then a
// JSON pointer (RFC 6901) inside it. Anything else (an anchor, an unknown document,
// a pointer into a value that is not an object) is not resolved.
func (in inliner) resolve(ref string) (map[string]any, string, bool) {
	docID, frag, _ := strings.Cut(ref, "#")
	doc, ok := in.docs[docID]
	if !ok || (frag != "" && !strings.HasPrefix(frag, "/")) {
		return nil, "", false
	}
	cur := doc
	if frag != "" {
		for _, tok := range strings.Split(frag[1:], "/") {
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
			switch c := cur.(type) {
			case map[string]any:
				cur, ok = c[tok]
			case []any:
				i, err := strconv.Atoi(tok)
				ok = err == nil && i >= 0 && i < len(c)
				if ok {
					cur = c[i]
				}
			default:
				ok = false
			}
			if !ok {
				return nil, "", false
			}
		}
	}
	obj, ok := cur.(map[string]any)
	if !ok {
		return nil, "", false
	}
	return obj, docID, true
}

// absolute makes a reference found in the document base absolute: `#…` is relative to
// it; the embedded schemas name the others by their URN.
func absolute(ref, base string) string {
	if strings.HasPrefix(ref, "#") {
		return base + ref
	}
	return ref
}

// Each subschema of an `allOf` costs the validator a walk of its own over the same
// value, and the message types reach the envelope's attributes through one: the root
// object is walked twice, once for the envelope and once for the type. foldAllOf moves
// a subschema of s's allOf into s itself when s with it asserts exactly what s and it
// did apart, with the same violations: their keywords are different, or equal, or
// `properties` and `required`, which combine property by property. Anything else (an
// identity, a reference, a keyword whose meaning depends on its siblings) keeps the
// subschema where it is.
func foldAllOf(s map[string]any) {
	all, ok := s["allOf"].([]any)
	if !ok {
		return
	}
	var kept []any
	for _, sub := range all {
		m, ok := sub.(map[string]any)
		if !ok || !foldable(s, m) {
			kept = append(kept, sub)
			continue
		}
		merged, ok := conjoin(s, m)
		if !ok {
			kept = append(kept, sub)
			continue
		}
		for k, v := range merged {
			s[k] = v
		}
	}
	if len(kept) == 0 {
		delete(s, "allOf")
	} else {
		s["allOf"] = kept
	}
}

// foldable says whether sub may leave parent's allOf: it has no identity, no
// reference and no keyword that sees its siblings' annotations, and whatever it marks
// evaluated for the parent's `unevaluatedProperties` the parent already marks itself
// (an allOf's subschema that fails marks nothing: folded, it would).
func foldable(parent, sub map[string]any) bool {
	if hasAny(sub, unmovable...) || hasAny(sub, "allOf", "anyOf", "oneOf", "not", "if", "then", "else",
		"dependentSchemas", "additionalProperties", "patternProperties", "prefixItems", "items", "additionalItems", "contains") {
		return false
	}
	if _, has := parent["unevaluatedProperties"]; has {
		own, _ := parent["properties"].(map[string]any)
		subProps, _ := sub["properties"].(map[string]any)
		for name := range subProps {
			if _, ok := own[name]; !ok {
				return false
			}
		}
	}
	if _, has := parent["unevaluatedItems"]; has {
		return false
	}
	return true
}

// conjoin returns the keywords of a schema that holds exactly when both a and b
// hold, with the same violations, as a's keywords to set (annotations are a's), or
// false when it cannot say so keyword by keyword. One difference is left, on purpose:
// the validator checks nothing else in a schema whose `type` fails, so a value of the
// wrong type gets one violation where a and b apart could give one each at the same
// pointer; a pointer keeps only its best-ranked violation, and `type` ranks first.
func conjoin(a, b map[string]any) (map[string]any, bool) {
	out := map[string]any{}
	for k, bv := range b {
		av, has := a[k]
		switch {
		case annotations[k]:
			// a's describe the whole; b's described b, which is gone.
		case !has:
			if siblingsMatter(k, a) {
				return nil, false
			}
			out[k] = bv
		case reflect.DeepEqual(av, bv):
		case k == "properties":
			ap, ok1 := av.(map[string]any)
			bp, ok2 := bv.(map[string]any)
			if !ok1 || !ok2 {
				return nil, false
			}
			if !sameNames(ap, bp) && (hasAny(a, "additionalProperties", "patternProperties") ||
				hasAny(b, "additionalProperties", "patternProperties")) {
				return nil, false // what is additional would change
			}
			props := maps.Clone(ap)
			for name, bs := range bp {
				as, has := ap[name]
				if !has {
					props[name] = bs
					continue
				}
				both, ok := conjoinSchemas(as, bs)
				if !ok {
					return nil, false
				}
				props[name] = both
			}
			out[k] = props
		case k == "required":
			ar, ok1 := av.([]any)
			br, ok2 := bv.([]any)
			if !ok1 || !ok2 {
				return nil, false
			}
			req := slices.Clone(ar)
			for _, name := range br {
				if !slices.Contains(req, name) {
					req = append(req, name)
				}
			}
			out[k] = req
		default:
			return nil, false
		}
	}
	return out, true
}

// conjoinSchemas is the conjunction of two subschemas, `true` or objects; anything
// else (`false`, which never needs folding) is refused.
func conjoinSchemas(a, b any) (any, bool) {
	if a == true {
		return b, true
	}
	if b == true {
		return a, true
	}
	am, ok1 := a.(map[string]any)
	bm, ok2 := b.(map[string]any)
	if !ok1 || !ok2 {
		return nil, false
	}
	if hasAny(am, unmovable...) || hasAny(bm, unmovable...) {
		return nil, false
	}
	set, ok := conjoin(am, bm)
	if !ok {
		return nil, false
	}
	out := maps.Clone(am)
	maps.Copy(out, set)
	return out, true
}

// siblingsMatter says whether keyword k, moved beside the keywords of s, would judge
// differently: what `additionalProperties` and `patternProperties` leave to each
// other and to `properties`, and what `items` leaves to `prefixItems`.
func siblingsMatter(k string, s map[string]any) bool {
	switch k {
	case "properties", "patternProperties", "additionalProperties":
		return hasAny(s, "patternProperties", "additionalProperties") || (k != "properties" && hasAny(s, "properties"))
	case "prefixItems", "items", "additionalItems", "contains", "minContains", "maxContains":
		return hasAny(s, "prefixItems", "items", "additionalItems", "contains", "minContains", "maxContains")
	}
	return false
}

// hasAny says whether s has one of the keywords.
func hasAny(s map[string]any, keywords ...string) bool {
	for _, k := range keywords {
		if _, ok := s[k]; ok {
			return true
		}
	}
	return false
}

// sameNames says whether two `properties` name the same properties.
func sameNames(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for name := range a {
		if _, ok := b[name]; !ok {
			return false
		}
	}
	return true
}
