package policy

import (
	"encoding/json"
	"fmt"
	"strings"
)

// SchemaSource returns a schema document by its $id (without fragment).
type SchemaSource func(id string) ([]byte, bool)

// CheckPaths verifies that every allow-list path names a field of the canonical data
// of the type schema typeID, and that it ends at a scalar or an array of scalars: an
// allow-list names leaves, so that a field added later inside an allowed object is not
// allowed with it.
func CheckPaths(src SchemaSource, typeID string, paths []string) []string {
	w := &walker{src: src, docs: map[string]map[string]any{}}
	root, err := w.doc(typeID)
	if err != nil {
		return []string{err.Error()}
	}
	data, ok := w.property(typeID, root, "data")
	if !ok {
		return []string{fmt.Sprintf("schema %s has no data property", typeID)}
	}
	var problems []string
	for _, path := range paths {
		doc, n := data.doc, data.node
		fail := ""
		segs := strings.Split(path, ".")
		for i, seg := range segs {
			name, isArray := strings.CutSuffix(seg, "[]")
			next, ok := w.property(doc, n, name)
			if !ok {
				fail = fmt.Sprintf("%s: no field %q in the %s schema", path, strings.Join(append(segs[:i:i], name), "."), typeID)
				break
			}
			doc, n = w.resolve(next.doc, next.node)
			if isArray {
				items, ok := n["items"].(map[string]any)
				if typeOf(n) != "array" || !ok {
					fail = fmt.Sprintf("%s: %s is not an array", path, name)
					break
				}
				doc, n = w.resolve(doc, items)
			}
			if i == len(segs)-1 {
				if w.isObject(doc, n) {
					fail = fmt.Sprintf("%s: names an object; name its fields one by one", path)
				}
			}
		}
		if fail != "" {
			problems = append(problems, fail)
		}
	}
	return problems
}

type located struct {
	doc  string
	node map[string]any
}

type walker struct {
	src  SchemaSource
	docs map[string]map[string]any
}

func (w *walker) doc(id string) (map[string]any, error) {
	if d, ok := w.docs[id]; ok {
		return d, nil
	}
	raw, ok := w.src(id)
	if !ok {
		return nil, fmt.Errorf("unknown schema %s", id)
	}
	var d map[string]any
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("schema %s: %w", id, err)
	}
	w.docs[id] = d
	return d, nil
}

// resolve follows $ref chains (by $id and JSON pointer fragment), returning the
// document the final node belongs to.
func (w *walker) resolve(doc string, n map[string]any) (string, map[string]any) {
	for range 16 {
		ref, ok := n["$ref"].(string)
		if !ok {
			return doc, n
		}
		id, frag, _ := strings.Cut(ref, "#")
		if id == "" {
			id = doc
		}
		d, err := w.doc(id)
		if err != nil {
			return doc, n
		}
		var cur any = d
		for _, p := range strings.Split(strings.TrimPrefix(frag, "/"), "/") {
			if p == "" {
				continue
			}
			m, _ := cur.(map[string]any)
			cur = m[p]
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return doc, n
		}
		doc, n = id, m
	}
	return doc, n
}

// property finds a property in n, looking through $ref and allOf.
func (w *walker) property(doc string, n map[string]any, name string) (located, bool) {
	doc, n = w.resolve(doc, n)
	if props, ok := n["properties"].(map[string]any); ok {
		if p, ok := props[name].(map[string]any); ok {
			return located{doc: doc, node: p}, true
		}
	}
	if all, ok := n["allOf"].([]any); ok {
		for _, a := range all {
			if m, ok := a.(map[string]any); ok {
				if l, ok := w.property(doc, m, name); ok {
					return l, true
				}
			}
		}
	}
	return located{}, false
}

func typeOf(n map[string]any) string {
	t, _ := n["type"].(string)
	return t
}

func (w *walker) isObject(doc string, n map[string]any) bool {
	doc, n = w.resolve(doc, n)
	if typeOf(n) == "object" || n["properties"] != nil {
		return true
	}
	if typeOf(n) == "array" {
		if items, ok := n["items"].(map[string]any); ok {
			return w.isObject(doc, items)
		}
	}
	return false
}
