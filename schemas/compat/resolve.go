package compat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
)

// document is one parsed schema file, known by its $id.
type document struct {
	id   string
	root any
}

// registry holds the documents of one version (old or new): the schema being checked
// and the schemas its $refs may point to.
type registry struct {
	label string // "old" or "new", for messages
	docs  map[string]*document
}

// node is a schema value at a place in a document of a registry.
type node struct {
	reg *registry
	doc *document
	ptr string // JSON pointer of the value inside doc
	val any
}

// loc names the node's place: the document's $id and the pointer.
func (n node) loc() string { return n.doc.id + "#" + n.ptr }

// child is the node of a keyword (or a deeper token path) inside n.
func (n node) child(val any, tokens ...string) node {
	p := n.ptr
	for _, t := range tokens {
		p += "/" + escapeToken(t)
	}
	return node{reg: n.reg, doc: n.doc, ptr: p, val: val}
}

func escapeToken(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func unescapeToken(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}

// decode reads one JSON value, keeping numbers exact.
func decode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotJSON, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the top-level value", ErrNotJSON)
	}
	return v, nil
}

// parseDocument decodes a schema document; fallbackID names it when it has no $id.
func parseDocument(b []byte, fallbackID string) (*document, error) {
	v, err := decode(b)
	if err != nil {
		return nil, err
	}
	switch root := v.(type) {
	case bool:
		return &document{id: fallbackID, root: root}, nil
	case map[string]any:
		id := fallbackID
		if raw, ok := root["$id"]; ok {
			s, ok := raw.(string)
			if !ok || s == "" {
				return nil, fmt.Errorf("%w: $id is not a non-empty string", ErrNotSchema)
			}
			id = strings.TrimSuffix(s, "#")
		}
		return &document{id: id, root: root}, nil
	default:
		return nil, fmt.Errorf("%w: the top-level value is a %T, not an object or a boolean", ErrNotSchema, v)
	}
}

func newRegistry(label string) *registry {
	return &registry{label: label, docs: map[string]*document{}}
}

func (r *registry) add(d *document) error {
	if _, dup := r.docs[d.id]; dup {
		return fmt.Errorf("%w: %s (%s version)", ErrDuplicateID, d.id, r.label)
	}
	r.docs[d.id] = d
	return nil
}

func (r *registry) rootNode(d *document) node {
	return node{reg: r, doc: d, ptr: "", val: d.root}
}

// resolve finds the target of a $ref written in the document of from. It knows
// same-document references ("#/$defs/X", "#anchor"), absolute references by $id
// ("urn:passerelle:schema:common:v1#/$defs/Date") and references relative to a
// hierarchical $id. A nested $id inside a document does not change the base.
func (n node) resolve(ref string) (node, error) {
	docPart, frag, _ := strings.Cut(ref, "#")
	doc := n.doc
	if docPart != "" {
		target := docPart
		if base, err := url.Parse(n.doc.id); err == nil && base.Opaque == "" {
			if rel, err := url.Parse(docPart); err == nil {
				target = base.ResolveReference(rel).String()
			}
		}
		d, ok := n.reg.docs[target]
		if !ok {
			d, ok = n.reg.docs[docPart]
		}
		if !ok {
			return node{}, fmt.Errorf("no schema with $id %q in the %s version", docPart, n.reg.label)
		}
		doc = d
	}
	root := n.reg.rootNode(doc)
	if frag == "" {
		return root, nil
	}
	if !strings.HasPrefix(frag, "/") {
		if found, ok := findAnchor(root, frag); ok {
			return found, nil
		}
		return node{}, fmt.Errorf("no $anchor %q in %s", frag, doc.id)
	}
	unescaped, err := url.PathUnescape(frag)
	if err != nil {
		return node{}, fmt.Errorf("bad fragment %q: %w", frag, err)
	}
	cur := root
	for _, tok := range strings.Split(unescaped, "/")[1:] {
		tok = unescapeToken(tok)
		switch v := cur.val.(type) {
		case map[string]any:
			next, ok := v[tok]
			if !ok {
				return node{}, fmt.Errorf("nothing at %s#%s", doc.id, frag)
			}
			cur = cur.child(next, tok)
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(v) {
				return node{}, fmt.Errorf("nothing at %s#%s", doc.id, frag)
			}
			cur = cur.child(v[i], tok)
		default:
			return node{}, fmt.Errorf("nothing at %s#%s", doc.id, frag)
		}
	}
	return cur, nil
}

// findAnchor looks for a subschema declaring $anchor name, depth first.
func findAnchor(n node, name string) (node, bool) {
	switch v := n.val.(type) {
	case map[string]any:
		if a, ok := v["$anchor"].(string); ok && a == name {
			return n, true
		}
		for _, k := range sortedKeys(v) {
			if found, ok := findAnchor(n.child(v[k], k), name); ok {
				return found, true
			}
		}
	case []any:
		for i, e := range v {
			if found, ok := findAnchor(n.child(e, strconv.Itoa(i)), name); ok {
				return found, true
			}
		}
	}
	return node{}, false
}

// conjunct is one schema object that must hold, found by flattening $ref and allOf.
type conjunct struct {
	node
	obj map[string]any
}

// expansion is a list of schemas flattened into the conjuncts that all must hold.
type expansion struct {
	conj       []conjunct
	falseAt    *node    // a false schema among them: nothing is accepted
	unresolved []string // $refs that could not be followed, with their place
	notSchema  []node   // values that are not schemas (neither object nor boolean)
}

// expand flattens schemas through $ref and allOf. Cycles of $ref stop at the first
// repeat: a conjunct already present adds nothing.
func expand(schemas []node) expansion {
	var e expansion
	seen := map[string]bool{}
	var walk func(n node)
	walk = func(n node) {
		if seen[n.loc()] {
			return
		}
		seen[n.loc()] = true
		switch v := n.val.(type) {
		case bool:
			if !v && e.falseAt == nil {
				nn := n
				e.falseAt = &nn
			}
		case map[string]any:
			e.conj = append(e.conj, conjunct{node: n, obj: v})
			if ref, ok := v["$ref"].(string); ok {
				target, err := n.resolve(ref)
				if err != nil {
					e.unresolved = append(e.unresolved, fmt.Sprintf("%s: %v", n.child(ref, "$ref").loc(), err))
				} else {
					walk(target)
				}
			}
			if all, ok := v["allOf"].([]any); ok {
				for i, s := range all {
					walk(n.child(s, "allOf", strconv.Itoa(i)))
				}
			}
		default:
			e.notSchema = append(e.notSchema, n)
		}
	}
	for _, s := range schemas {
		walk(s)
	}
	return e
}
