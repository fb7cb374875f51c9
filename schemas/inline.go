package schemas

import (
	"slices"
	"strconv"
	"strings"
)

// The validator pays for every subschema it enters: a scope, a record of unevaluated
// properties and a validator, allocated at each step. A `$ref` is one step more, and
// the canonical types reach their shared definitions (a date, a person, a sentence)
// through one at almost every field: about a third of the steps of a penal record.
// inline gives the compiler each message type with those references replaced by the
// definitions they name, so that the same checks run in fewer steps. The files served
// by Schema and published in docs stay as they are written.

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
		ref, ok := out["$ref"].(string)
		if !ok {
			return out
		}
		for k := range out {
			if k != "$ref" && !annotations[k] {
				return out
			}
		}
		target, targetBase, ok := in.resolve(ref)
		if !ok || slices.Contains(stack, ref) {
			return out
		}
		for _, k := range []string{"$id", "$anchor", "$dynamicAnchor", "$recursiveAnchor", "$defs", "definitions", "$schema"} {
			if _, has := target[k]; has {
				return out
			}
		}
		merged, ok := in.walk(target, targetBase, append(stack, ref)).(map[string]any)
		if !ok {
			return out
		}
		delete(out, "$ref")
		for k, e := range merged {
			if _, own := out[k]; !own {
				out[k] = e
			}
		}
		return out
	default:
		return v
	}
}

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
