package schemas_test

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/internal/jsonstrict"
	"passerelle/schemas"
)

// TestTheInlinedSchemasGiveTheSameVerdicts validates every example, and thousands of
// variants of the valid ones (each field emptied, negated, retyped, removed, or joined
// by an unknown one), with the registry the hub uses and with the schemas compiled as
// written: the same verdict and the same violations, word for word, every time.
func TestTheInlinedSchemasGiveTheSameVerdicts(t *testing.T) {
	inlined, err := schemas.Load()
	require.NoError(t, err)
	written, err := schemas.LoadAsWritten()
	require.NoError(t, err)
	docs, refusals := 0, 0
	check := func(name string, doc any) {
		t.Helper()
		docs++
		got, want := inlined.Validate(doc), written.Validate(doc)
		if want != nil {
			refusals++
		}
		require.Equal(t, want == nil, got == nil, "%s: inlined %v, as written %v", name, got, want)
		if want != nil {
			var g, w *schemas.ValidationError
			require.True(t, errors.As(got, &g) && errors.As(want, &w), "%s", name)
			assert.Equal(t, w.Violations, g.Violations, "%s", name)
		}
	}
	for _, ex := range examples(t) {
		doc, err := jsonstrict.Decode(ex.doc)
		require.NoError(t, err)
		check(ex.typeName+"/"+ex.name, doc)
		if !ex.valid {
			continue
		}
		for _, v := range variants(ex.doc) {
			check(ex.typeName+"/"+ex.name+" "+v.name, v.doc)
		}
	}
	t.Logf("%d documents, %d refused", docs, refusals)
	assert.Greater(t, refusals, docs/2, "most variants are refused: the comparison covers the violations, not only acceptance")
}

// TestTheMessageTypesAreInlinedWhole is what makes validation cheaper: no `$ref` and
// no `allOf` is left in a message type, so the validator never takes the extra step of
// one, nor walks the message twice.
func TestTheMessageTypesAreInlinedWhole(t *testing.T) {
	reg, err := schemas.Load()
	require.NoError(t, err)
	docs, err := schemas.CompiledDocs(true)
	require.NoError(t, err)
	for _, ti := range reg.Types() {
		out, err := json.Marshal(docs[ti.ID])
		require.NoError(t, err)
		top := map[string]any{}
		require.NoError(t, json.Unmarshal(out, &top))
		delete(top, "$defs") // kept as written; the validator reaches them no more
		flat, err := json.Marshal(top)
		require.NoError(t, err)
		assert.NotContains(t, string(flat), `"$ref"`, "%s", ti.Type)
		assert.NotContains(t, string(flat), `"allOf"`, "%s", ti.Type)
	}
}

// TestTheInlinerKeepsWhatItCannotReplace: a reference beside an assertion, a cycle,
// an anchor or an unknown document stays a reference, made absolute.
func TestTheInlinerKeepsWhatItCannotReplace(t *testing.T) {
	decode := func(s string) any {
		v, err := jsonstrict.Decode([]byte(s))
		require.NoError(t, err)
		return v
	}
	docs := map[string]any{
		"urn:a": decode(`{"$id":"urn:a","$defs":{
			"Date":{"type":"string","format":"date"},
			"Tree":{"type":"object","properties":{"kids":{"type":"array","items":{"$ref":"#/$defs/Tree"}}}},
			"Named":{"$anchor":"n","type":"string"}}}`),
	}
	doc := decode(`{"$id":"urn:b","type":"object","properties":{
		"d":{"description":"mine","$ref":"urn:a#/$defs/Date"},
		"beside":{"$ref":"urn:a#/$defs/Date","minLength":10},
		"tree":{"$ref":"urn:a#/$defs/Tree"},
		"anchor":{"$ref":"urn:a#n"},
		"named":{"$ref":"urn:a#/$defs/Named"},
		"elsewhere":{"$ref":"urn:c#/$defs/X"},
		"local":{"$ref":"#/$defs/L"},
		"enum":{"enum":[{"$ref":"#/not/a/schema"}]}},
		"$defs":{"L":{"$ref":"#/$defs/M"},"M":{"type":"integer"}}}`)
	docs["urn:b"] = doc
	out := schemas.Inline(docs, doc, "urn:b").(map[string]any)
	props := out["properties"].(map[string]any)
	assert.Equal(t, map[string]any{"description": "mine", "type": "string", "format": "date"}, props["d"])
	assert.Equal(t, map[string]any{"$ref": "urn:a#/$defs/Date", "minLength": json.Number("10")}, props["beside"])
	tree := props["tree"].(map[string]any)
	assert.Equal(t, "object", tree["type"])
	kids := tree["properties"].(map[string]any)["kids"].(map[string]any)
	assert.Equal(t, map[string]any{"$ref": "urn:a#/$defs/Tree"}, kids["items"], "the cycle keeps its reference")
	assert.Equal(t, map[string]any{"$ref": "urn:a#n"}, props["anchor"])
	assert.Equal(t, map[string]any{"$ref": "urn:a#/$defs/Named"}, props["named"])
	assert.Equal(t, map[string]any{"$ref": "urn:c#/$defs/X"}, props["elsewhere"])
	assert.Equal(t, map[string]any{"type": "integer"}, props["local"], "a chain of references is followed")
	assert.Equal(t, map[string]any{"enum": []any{map[string]any{"$ref": "#/not/a/schema"}}}, props["enum"], "values are not schemas")
}

// TestTheInlinerFoldsAnAllOfOnlyWhereTheMeaningStays: the envelope's attributes join
// the type's own keywords, property by property; a subschema whose keywords would
// judge differently beside the parent's stays in the allOf.
func TestTheInlinerFoldsAnAllOfOnlyWhereTheMeaningStays(t *testing.T) {
	decode := func(s string) map[string]any {
		v, err := jsonstrict.Decode([]byte(s))
		require.NoError(t, err)
		return v.(map[string]any)
	}
	inline := func(s string) map[string]any {
		doc := decode(s)
		return schemas.Inline(map[string]any{"urn:t": doc}, doc, "urn:t").(map[string]any)
	}

	out := inline(`{"$id":"urn:t","type":"object",
		"allOf":[{"description":"envelope","type":"object","required":["a","b"],
			"properties":{"a":{"type":"string","pattern":"^x"},"b":{"type":"integer"},"c":{"type":"object"}}}],
		"required":["c"],
		"properties":{"a":{"description":"mine","type":"string","const":"xy"},"b":true,"c":{"type":"object","required":["d"]}},
		"unevaluatedProperties":false}`)
	assert.NotContains(t, out, "allOf")
	assert.Nil(t, out["description"], "the subschema's annotations do not become the parent's")
	assert.Equal(t, []any{"c", "a", "b"}, out["required"])
	assert.Equal(t, map[string]any{
		"a": map[string]any{"description": "mine", "type": "string", "pattern": "^x", "const": "xy"},
		"b": map[string]any{"type": "integer"},
		"c": map[string]any{"type": "object", "required": []any{"d"}},
	}, out["properties"])

	for name, doc := range map[string]string{
		"a property the parent would call additional": `{"$id":"urn:t","properties":{"x":true},"additionalProperties":false,
			"allOf":[{"properties":{"y":{"type":"string"}}}]}`,
		"additional properties of its own": `{"$id":"urn:t","properties":{"x":true},
			"allOf":[{"properties":{"x":true},"additionalProperties":false}]}`,
		"a property the parent does not mark evaluated": `{"$id":"urn:t","properties":{"x":true},"unevaluatedProperties":false,
			"allOf":[{"properties":{"x":true,"y":{"type":"string"}}}]}`,
		"a keyword the parent has with another value": `{"$id":"urn:t","maxLength":5,"allOf":[{"maxLength":3}]}`,
		"two values of one property that do not combine": `{"$id":"urn:t","properties":{"x":{"minimum":1}},
			"allOf":[{"properties":{"x":{"minimum":2}}}]}`,
		"a reference":   `{"$id":"urn:t","allOf":[{"$ref":"urn:elsewhere#/$defs/X"}]}`,
		"a conditional": `{"$id":"urn:t","allOf":[{"if":{"required":["x"]},"then":{"required":["y"]}}]}`,
	} {
		out := inline(doc)
		assert.Len(t, out["allOf"], 1, "%s: the subschema stays", name)
	}
}

// FuzzInlinedAgreesWithWritten: on any document, the registry the hub uses and the
// schemas compiled as written give the same verdict and the same violations.
func FuzzInlinedAgreesWithWritten(f *testing.F) {
	for _, ex := range examples(f) {
		f.Add(ex.doc)
	}
	inlined, err := schemas.Load()
	require.NoError(f, err)
	written, err := schemas.LoadAsWritten()
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := jsonstrict.Decode(data)
		if err != nil {
			return
		}
		got, want := inlined.Validate(doc), written.Validate(doc)
		require.Equal(t, want == nil, got == nil, "inlined %v, as written %v", got, want)
		if want != nil {
			var g, w *schemas.ValidationError
			require.True(t, errors.As(got, &g) && errors.As(want, &w))
			require.Equal(t, w.Violations, g.Violations)
		}
	})
}

type variant struct {
	name string
	doc  any
}

// variants returns copies of a valid document, each changed in one place: every value
// replaced by an empty string, a negative number, a string of the wrong kind, null,
// or removed, and every object given an unknown field.
func variants(raw []byte) []variant {
	var out []variant
	fresh := func() any {
		v, err := jsonstrict.Decode(raw)
		if err != nil {
			panic(err)
		}
		return v
	}
	var paths [][]string
	var walk func(v any, at []string)
	walk = func(v any, at []string) {
		paths = append(paths, append([]string(nil), at...))
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				walk(e, append(at, k))
			}
		case []any:
			for i, e := range v {
				walk(e, append(at, strconv.Itoa(i)))
			}
		}
	}
	walk(fresh(), nil)
	replacements := []struct {
		name string
		v    any
	}{{"empty", ""}, {"negative", json.Number("-1")}, {"fraction", json.Number("1.5")}, {"text", "2024-02-31"}, {"null", nil}, {"object", map[string]any{}}}
	for _, p := range paths {
		if len(p) == 0 {
			continue
		}
		name := "/" + strings.Join(p, "/")
		for _, r := range replacements {
			doc := fresh()
			setAt(doc, p, r.v, false)
			out = append(out, variant{name + " " + r.name, doc})
		}
		doc := fresh()
		setAt(doc, p, nil, true)
		out = append(out, variant{name + " removed", doc})
		doc = fresh()
		if obj, ok := getAt(doc, p).(map[string]any); ok {
			obj["unknownField"] = "x"
			out = append(out, variant{name + " unknown field", doc})
		}
	}
	return out
}

func getAt(doc any, p []string) any {
	for _, tok := range p {
		switch c := doc.(type) {
		case map[string]any:
			doc = c[tok]
		case []any:
			doc = c[atoi(tok)]
		}
	}
	return doc
}

func setAt(doc any, p []string, v any, remove bool) {
	parent := getAt(doc, p[:len(p)-1])
	last := p[len(p)-1]
	switch c := parent.(type) {
	case map[string]any:
		if remove {
			delete(c, last)
		} else {
			c[last] = v
		}
	case []any:
		if remove { // an array keeps its length: the element becomes a text
			c[atoi(last)] = "removed"
		} else {
			c[atoi(last)] = v
		}
	}
}

func atoi(s string) int {
	i, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return i
}
