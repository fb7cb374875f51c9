package compat_test

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/schemas/compat"
)

func kinds(bs []compat.Breaking) []compat.Kind {
	out := make([]compat.Kind, 0, len(bs))
	seen := map[compat.Kind]bool{}
	for _, b := range bs {
		if !seen[b.Kind] {
			seen[b.Kind] = true
			out = append(out, b.Kind)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func check(t *testing.T, old, new string, opts ...compat.Option) []compat.Breaking {
	t.Helper()
	got, err := compat.Check([]byte(old), []byte(new), opts...)
	require.NoError(t, err)
	return got
}

// person is an open object with two optional properties.
const person = `{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"}}}`

func TestCheckCatchesEveryKindOfBreakingChange(t *testing.T) {
	cases := []struct {
		name     string
		old, new string
		want     compat.Kind
		pointer  string // JSON pointer expected on the first finding, when given
		instance string
	}{
		{
			name:    "a property that becomes required is breaking",
			old:     person,
			new:     `{"type":"object","required":["age"],"properties":{"name":{"type":"string"},"age":{"type":"integer"}}}`,
			want:    compat.KindRequiredAdded,
			pointer: "/required/0",
		},
		{
			name:    "a property removed from a closed object is breaking",
			old:     `{"type":"object","additionalProperties":false,"properties":{"name":{"type":"string"},"age":{"type":"integer"}}}`,
			new:     `{"type":"object","additionalProperties":false,"properties":{"name":{"type":"string"}}}`,
			want:    compat.KindPropertyRemoved,
			pointer: "/additionalProperties",
		},
		{
			name:    "an object closed with additionalProperties false is breaking",
			old:     person,
			new:     `{"type":"object","additionalProperties":false,"properties":{"name":{"type":"string"},"age":{"type":"integer"}}}`,
			want:    compat.KindObjectClosed,
			pointer: "/additionalProperties",
		},
		{
			name:    "an object closed with unevaluatedProperties false is breaking",
			old:     `{"type":"object","allOf":[{"properties":{"a":true}}]}`,
			new:     `{"type":"object","allOf":[{"properties":{"a":true}}],"unevaluatedProperties":false}`,
			want:    compat.KindObjectClosed,
			pointer: "/unevaluatedProperties",
		},
		{
			name: "a property removed from an allOf under unevaluatedProperties false is breaking",
			old:  `{"type":"object","allOf":[{"properties":{"a":true,"b":true}}],"unevaluatedProperties":false}`,
			new:  `{"type":"object","allOf":[{"properties":{"a":true}}],"unevaluatedProperties":false}`,
			want: compat.KindPropertyRemoved,
		},
		{
			name:     "an enum that loses a value is breaking",
			old:      `{"type":"object","properties":{"sex":{"enum":["M","F"]}}}`,
			new:      `{"type":"object","properties":{"sex":{"enum":["M"]}}}`,
			want:     compat.KindEnumNarrowed,
			pointer:  "/properties/sex/enum",
			instance: "/sex",
		},
		{
			name: "an enum narrowed to a const is breaking",
			old:  `{"enum":["1.0","1.1"]}`,
			new:  `{"const":"1.0"}`,
			want: compat.KindEnumNarrowed,
		},
		{
			name: "a const that changes value is breaking",
			old:  `{"const":"fr.justice.report.v1"}`,
			new:  `{"const":"fr.justice.report.v2"}`,
			want: compat.KindEnumNarrowed,
		},
		{
			name: "a const added to a string is breaking",
			old:  `{"type":"string"}`,
			new:  `{"type":"string","const":"x"}`,
			want: compat.KindEnumNarrowed,
		},
		{
			name:    "a number narrowed to an integer is breaking",
			old:     `{"type":"number"}`,
			new:     `{"type":"integer"}`,
			want:    compat.KindTypeNarrowed,
			pointer: "/type",
		},
		{
			name: "a type removed from a union is breaking",
			old:  `{"type":["string","null"]}`,
			new:  `{"type":"string"}`,
			want: compat.KindTypeNarrowed,
		},
		{
			name: "a type added where any value was accepted is breaking",
			old:  `{"description":"anything"}`,
			new:  `{"type":"object"}`,
			want: compat.KindTypeNarrowed,
		},
		{
			name:    "a pattern added is breaking",
			old:     `{"type":"string"}`,
			new:     `{"type":"string","pattern":"^[0-9]+$"}`,
			want:    compat.KindPatternChanged,
			pointer: "/pattern",
		},
		{
			name: "a pattern changed, even to a wider one, is breaking (the check does not compare regular expressions)",
			old:  `{"type":"string","pattern":"^[0-9]{5}$"}`,
			new:  `{"type":"string","pattern":"^[0-9]{5,11}$"}`,
			want: compat.KindPatternChanged,
		},
		{
			name: "a format added is breaking",
			old:  `{"type":"string"}`,
			new:  `{"type":"string","format":"date"}`,
			want: compat.KindFormatChanged,
		},
		{
			name: "a format changed is breaking",
			old:  `{"type":"string","format":"date-time"}`,
			new:  `{"type":"string","format":"date"}`,
			want: compat.KindFormatChanged,
		},
		{
			name:    "a minimum raised is breaking",
			old:     `{"type":"integer","minimum":0}`,
			new:     `{"type":"integer","minimum":1}`,
			want:    compat.KindLowerBoundRaised,
			pointer: "/minimum",
		},
		{
			name: "an exclusiveMinimum at the old minimum is breaking",
			old:  `{"type":"number","minimum":0}`,
			new:  `{"type":"number","exclusiveMinimum":0}`,
			want: compat.KindLowerBoundRaised,
		},
		{
			name: "a minLength raised is breaking",
			old:  `{"type":"string","minLength":1}`,
			new:  `{"type":"string","minLength":2}`,
			want: compat.KindLowerBoundRaised,
		},
		{
			name: "a minItems added is breaking",
			old:  `{"type":"array"}`,
			new:  `{"type":"array","minItems":1}`,
			want: compat.KindLowerBoundRaised,
		},
		{
			name: "a maximum lowered is breaking",
			old:  `{"type":"integer","maximum":400}`,
			new:  `{"type":"integer","maximum":399}`,
			want: compat.KindUpperBoundLowered,
		},
		{
			name: "a maxLength lowered is breaking",
			old:  `{"type":"string","maxLength":128}`,
			new:  `{"type":"string","maxLength":64}`,
			want: compat.KindUpperBoundLowered,
		},
		{
			name: "a maxItems added is breaking",
			old:  `{"type":"array"}`,
			new:  `{"type":"array","maxItems":10}`,
			want: compat.KindUpperBoundLowered,
		},
		{
			name: "a multipleOf that the old one is not a multiple of is breaking",
			old:  `{"type":"number","multipleOf":0.5}`,
			new:  `{"type":"number","multipleOf":1}`,
			want: compat.KindMultipleOfChanged,
		},
		{
			name: "uniqueItems added is breaking",
			old:  `{"type":"array","items":{"type":"string"}}`,
			new:  `{"type":"array","items":{"type":"string"},"uniqueItems":true}`,
			want: compat.KindUniqueItemsAdded,
		},
		{
			name:     "an array's items narrowed are breaking at every item",
			old:      `{"type":"object","properties":{"tags":{"type":"array","items":{"type":"string"}}}}`,
			new:      `{"type":"object","properties":{"tags":{"type":"array","items":{"type":"string","minLength":1}}}}`,
			want:     compat.KindLowerBoundRaised,
			instance: "/tags/*",
		},
		{
			name:    "an if/then added is breaking",
			old:     `{"type":"object","properties":{"kind":{"type":"string"}}}`,
			new:     `{"type":"object","properties":{"kind":{"type":"string"}},"if":{"properties":{"kind":{"const":"T"}}},"then":{"required":["to"]}}`,
			want:    compat.KindConditionalChanged,
			pointer: "/if",
		},
		{
			name:    "a then made stricter is breaking",
			old:     `{"type":"object","if":{"properties":{"kind":{"const":"T"}}},"then":{"required":["to"]}}`,
			new:     `{"type":"object","if":{"properties":{"kind":{"const":"T"}}},"then":{"required":["to","from"]}}`,
			want:    compat.KindRequiredAdded,
			pointer: "/then/required/1",
		},
		{
			name: "an if condition changed is breaking",
			old:  `{"type":"object","if":{"properties":{"kind":{"const":"T"}}},"then":{"required":["to"]}}`,
			new:  `{"type":"object","if":{"properties":{"kind":{"enum":["T","U"]}}},"then":{"required":["to"]}}`,
			want: compat.KindConditionalChanged,
		},
		{
			name: "a not added is breaking",
			old:  `{"type":"string"}`,
			new:  `{"type":"string","not":{"const":""}}`,
			want: compat.KindNotChanged,
		},
		{
			name: "a not that excludes more is breaking",
			old:  `{"type":"string","not":{"const":""}}`,
			new:  `{"type":"string","not":{"enum":["","-"]}}`,
			want: compat.KindNotChanged,
		},
		{
			name: "an anyOf branch removed is breaking",
			old:  `{"anyOf":[{"type":"string"},{"type":"integer"}]}`,
			new:  `{"anyOf":[{"type":"string"}]}`,
			want: compat.KindCompositionChanged,
		},
		{
			name: "an anyOf branch made stricter is breaking",
			old:  `{"anyOf":[{"type":"string"},{"type":"integer"}]}`,
			new:  `{"anyOf":[{"type":"string","maxLength":3},{"type":"integer"}]}`,
			want: compat.KindUpperBoundLowered,
		},
		{
			name: "a oneOf branch added is breaking (a value may match two)",
			old:  `{"oneOf":[{"type":"string"},{"type":"integer"}]}`,
			new:  `{"oneOf":[{"type":"string"},{"type":"integer"},{"type":"number"}]}`,
			want: compat.KindCompositionChanged,
		},
		{
			name: "a oneOf branch widened is breaking (a value may match two)",
			old:  `{"oneOf":[{"type":"string"},{"type":"integer"}]}`,
			new:  `{"oneOf":[{"type":"string"},{"type":"number"}]}`,
			want: compat.KindCompositionChanged,
		},
		{
			name:     "a property schema that becomes false is breaking",
			old:      `{"type":"object","properties":{"notes":{"type":"string"}}}`,
			new:      `{"type":"object","properties":{"notes":false}}`,
			want:     compat.KindRejectsAll,
			pointer:  "/properties/notes",
			instance: "/notes",
		},
		{
			name:     "a property of an open object declared false is breaking",
			old:      person,
			new:      `{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"notesEntretien":false}}`,
			want:     compat.KindRejectsAll,
			pointer:  "/properties/notesEntretien",
			instance: "/notesEntretien",
		},
		{
			name:    "an unknown keyword added is breaking",
			old:     `{"type":"object"}`,
			new:     `{"type":"object","dependentRequired":{"a":["b"]}}`,
			want:    compat.KindKeywordChanged,
			pointer: "/dependentRequired",
		},
		{
			name: "an unknown keyword changed is breaking",
			old:  `{"type":"object","patternProperties":{"^x-":{"type":"string"}}}`,
			new:  `{"type":"object","patternProperties":{"^x-":{"type":"integer"}}}`,
			want: compat.KindKeywordChanged,
		},
		{
			name: "an unknown keyword removed is breaking",
			old:  `{"type":"string","x-passerelle-rule":"uppercase"}`,
			new:  `{"type":"string"}`,
			want: compat.KindKeywordChanged,
		},
		{
			name: "a contentEncoding added is breaking (a validator may assert it)",
			old:  `{"type":"string"}`,
			new:  `{"type":"string","contentEncoding":"base64"}`,
			want: compat.KindKeywordChanged,
		},
		{
			name: "a malformed value of a known keyword counts as an unknown keyword",
			old:  `{"type":"string","minLength":1}`,
			new:  `{"type":"string","minLength":"1"}`,
			want: compat.KindKeywordChanged,
		},
		{
			name:    "a definition removed from $defs is breaking",
			old:     `{"$defs":{"Date":{"type":"string"},"Count":{"type":"integer"}}}`,
			new:     `{"$defs":{"Date":{"type":"string"}}}`,
			want:    compat.KindDefinitionRemoved,
			pointer: "/$defs",
		},
		{
			name:     "a definition narrowed that no schema uses yet is breaking",
			old:      `{"$defs":{"Count":{"type":"integer","minimum":0}}}`,
			new:      `{"$defs":{"Count":{"type":"integer","minimum":1}}}`,
			want:     compat.KindLowerBoundRaised,
			pointer:  "/$defs/Count/minimum",
			instance: "$defs/Count",
		},
		{
			name:     "a local $ref's target narrowed is breaking where it is used",
			old:      `{"type":"object","properties":{"d":{"$ref":"#/$defs/D"}},"$defs":{"D":{"type":"string"}}}`,
			new:      `{"type":"object","properties":{"d":{"$ref":"#/$defs/D"}},"$defs":{"D":{"type":"string","format":"date"}}}`,
			want:     compat.KindFormatChanged,
			pointer:  "/$defs/D/format",
			instance: "/d",
		},
		{
			name:    "a $id changed is breaking",
			old:     `{"$id":"urn:x:a:v1"}`,
			new:     `{"$id":"urn:x:b:v1"}`,
			want:    compat.KindIdentityChanged,
			pointer: "/$id",
		},
		{
			name: "a $schema changed is breaking",
			old:  `{"$schema":"https://json-schema.org/draft/2020-12/schema"}`,
			new:  `{"$schema":"http://json-schema.org/draft-07/schema#"}`,
			want: compat.KindIdentityChanged,
		},
		{
			name: "a $ref that cannot be followed is breaking",
			old:  `{"type":"object","properties":{"d":{"type":"string"}}}`,
			new:  `{"type":"object","properties":{"d":{"$ref":"urn:nowhere:v1#/$defs/D"}}}`,
			want: compat.KindUnresolvedRef,
		},
		{
			name: "a subschema that is not a schema is breaking",
			old:  `{"type":"object","properties":{"d":{"type":"string"}}}`,
			new:  `{"type":"object","properties":{"d":"string"}}`,
			want: compat.KindInvalidSchema,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := check(t, tc.old, tc.new)
			require.NotEmpty(t, got, "the change was not caught")
			assert.Contains(t, kinds(got), tc.want, "findings: %v", got)
			var match *compat.Breaking
			for i := range got {
				if got[i].Kind == tc.want {
					match = &got[i]
					break
				}
			}
			require.NotNil(t, match)
			assert.NotEmpty(t, match.Message)
			if tc.pointer != "" {
				assert.Equal(t, tc.pointer, match.Pointer, "finding: %s", match)
			}
			if tc.instance != "" {
				assert.Equal(t, tc.instance, match.Instance, "finding: %s", match)
			}
		})
	}
}

func TestCheckLetsAdditiveChangesThrough(t *testing.T) {
	cases := []struct {
		name     string
		old, new string
	}{
		{"the same schema is compatible with itself", person, person},
		{
			"a description, title, comment or example changed is compatible",
			`{"title":"A","description":"old","$comment":"x","examples":["a"],"type":"string"}`,
			`{"title":"B","description":"new (nouveau)","$comment":"y","examples":["b","c"],"type":"string","deprecated":true}`,
		},
		{
			"a new optional property in an open object is compatible",
			person,
			`{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"nickname":{"type":"string"}}}`,
		},
		{
			"a new optional property in a closed object is compatible",
			`{"type":"object","additionalProperties":false,"properties":{"name":{"type":"string"}}}`,
			`{"type":"object","additionalProperties":false,"properties":{"name":{"type":"string"},"nickname":{"type":"string"}}}`,
		},
		{
			"a closed object opened is compatible",
			`{"type":"object","additionalProperties":false,"properties":{"name":{"type":"string"}}}`,
			`{"type":"object","properties":{"name":{"type":"string"}}}`,
		},
		{
			"a required property made optional is compatible",
			`{"type":"object","required":["name","age"],"properties":{"name":{"type":"string"},"age":{"type":"integer"}}}`,
			`{"type":"object","required":["name"],"properties":{"name":{"type":"string"},"age":{"type":"integer"}}}`,
		},
		{"an enum widened is compatible", `{"enum":["M","F"]}`, `{"enum":["M","F","X"]}`},
		{"a const widened into an enum is compatible", `{"const":"M"}`, `{"enum":["M","F"]}`},
		{"an enum written in another order is compatible", `{"enum":["M","F"]}`, `{"enum":["F","M"]}`},
		{"equal numbers written differently are the same enum value", `{"enum":[1,2]}`, `{"enum":[1.0,2e0]}`},
		{"an integer widened to a number is compatible", `{"type":"integer"}`, `{"type":"number"}`},
		{"a type added to a union is compatible", `{"type":"string"}`, `{"type":["string","null"]}`},
		{"a type that an enum already implied is compatible", `{"enum":["a","b"]}`, `{"type":"string","enum":["a","b"]}`},
		{"a minimum lowered is compatible", `{"type":"integer","minimum":1}`, `{"type":"integer","minimum":0}`},
		{"a maximum raised is compatible", `{"type":"integer","maximum":400}`, `{"type":"integer","maximum":9999}`},
		{"a maxLength removed is compatible", `{"type":"string","maxLength":64}`, `{"type":"string"}`},
		{"a minItems lowered is compatible", `{"type":"array","minItems":2}`, `{"type":"array","minItems":1}`},
		{"a multipleOf relaxed to a divisor is compatible", `{"type":"number","multipleOf":1}`, `{"type":"number","multipleOf":0.5}`},
		{"a pattern removed is compatible", `{"type":"string","pattern":"^a"}`, `{"type":"string"}`},
		{"a format removed is compatible", `{"type":"string","format":"date"}`, `{"type":"string"}`},
		{"uniqueItems removed is compatible", `{"type":"array","uniqueItems":true}`, `{"type":"array"}`},
		{
			"an if/then removed is compatible",
			`{"type":"object","if":{"properties":{"kind":{"const":"T"}}},"then":{"required":["to"]}}`,
			`{"type":"object"}`,
		},
		{
			"a then made looser is compatible",
			`{"type":"object","if":{"properties":{"kind":{"const":"T"}}},"then":{"required":["to","from"]}}`,
			`{"type":"object","if":{"properties":{"kind":{"const":"T"}}},"then":{"required":["to"]}}`,
		},
		{"an anyOf branch added is compatible", `{"anyOf":[{"type":"string"}]}`, `{"anyOf":[{"type":"string"},{"type":"null"}]}`},
		{"a not that excludes less is compatible", `{"not":{"enum":["","-"]}}`, `{"not":{"const":""}}`},
		{
			"a definition inlined in place of its $ref is compatible",
			`{"type":"object","properties":{"d":{"$ref":"#/$defs/D"}},"$defs":{"D":{"type":"string","format":"date"}}}`,
			`{"type":"object","properties":{"d":{"type":"string","format":"date"}},"$defs":{"D":{"type":"string","format":"date"}}}`,
		},
		{
			"constraints moved into an allOf are compatible",
			`{"type":"object","required":["a"],"properties":{"a":{"type":"string","minLength":1}}}`,
			`{"allOf":[{"type":"object"},{"required":["a"]},{"properties":{"a":{"type":"string"}}},{"properties":{"a":{"minLength":1}}}]}`,
		},
		{"a new definition is compatible", `{"$defs":{"A":{"type":"string"}}}`, `{"$defs":{"A":{"type":"string"},"B":{"type":"integer"}}}`},
		{"a schema that accepted nothing may become anything", `false`, `{"type":"string"}`},
		{"a schema widened to true is compatible", `{"type":"string","minLength":1}`, `true`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := check(t, tc.old, tc.new)
			assert.Empty(t, got, "an additive change was reported as breaking")
		})
	}
}

func TestCheckFollowsReferencesAcrossFiles(t *testing.T) {
	commonOld := `{"$id":"urn:passerelle:schema:common:v1","$defs":{"Date":{"type":"string","pattern":"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}}}`
	commonNew := `{"$id":"urn:passerelle:schema:common:v1","$defs":{"Date":{"type":"string","pattern":"^[0-9]{4}-[0-9]{2}-[0-9]{2}$","format":"date"}}}`
	typ := `{"$id":"urn:passerelle:schema:t:v1","type":"object","properties":{"data":{"type":"object","properties":{"birthDate":{"$ref":"urn:passerelle:schema:common:v1#/$defs/Date"}}}}}`

	t.Run("a change in a shared definition is reported where a type uses it", func(t *testing.T) {
		got := check(t, typ, typ, compat.WithReferences([][]byte{[]byte(commonOld)}, [][]byte{[]byte(commonNew)}))
		require.Len(t, got, 1, "findings: %v", got)
		assert.Equal(t, compat.KindFormatChanged, got[0].Kind)
		assert.Equal(t, "urn:passerelle:schema:common:v1", got[0].Schema)
		assert.Equal(t, "/$defs/Date/format", got[0].Pointer)
		assert.Equal(t, "/data/birthDate", got[0].Instance)
	})
	t.Run("the same shared definitions on both sides change nothing", func(t *testing.T) {
		refs := [][]byte{[]byte(commonOld)}
		assert.Empty(t, check(t, typ, typ, compat.WithReferences(refs, refs)))
	})
	t.Run("a reference missing from the new version is breaking", func(t *testing.T) {
		got := check(t, typ, typ, compat.WithReferences([][]byte{[]byte(commonOld)}, nil))
		assert.Equal(t, []compat.Kind{compat.KindUnresolvedRef}, kinds(got))
	})
	t.Run("the schema itself among the references is skipped", func(t *testing.T) {
		refs := [][]byte{[]byte(commonOld), []byte(typ)}
		assert.Empty(t, check(t, typ, typ, compat.WithReferences(refs, refs)))
	})
}

func TestCheckReportsOnePlaceOnce(t *testing.T) {
	// Two properties use the same narrowed definition: the definition is reported
	// once, at its own pointer.
	old := `{"type":"object","properties":{"a":{"$ref":"#/$defs/D"},"b":{"$ref":"#/$defs/D"}},"$defs":{"D":{"enum":["x","y"]}}}`
	new := `{"type":"object","properties":{"a":{"$ref":"#/$defs/D"},"b":{"$ref":"#/$defs/D"}},"$defs":{"D":{"enum":["x"]}}}`
	got := check(t, old, new)
	require.Len(t, got, 1, "findings: %v", got)
	assert.Equal(t, "/$defs/D/enum", got[0].Pointer)
	assert.Equal(t, "/a", got[0].Instance)
	assert.Contains(t, got[0].Message, `"y"`)
}

func TestCheckEndsOnRecursiveSchemas(t *testing.T) {
	tree := `{"$id":"urn:x:tree:v1","type":"object","properties":{"value":{"type":"integer"},"children":{"type":"array","items":{"$ref":"#"}}}}`
	narrowed := strings.Replace(tree, `{"type":"integer"}`, `{"type":"integer","minimum":0}`, 1)
	assert.Empty(t, check(t, tree, tree))
	got := check(t, tree, narrowed)
	assert.Equal(t, []compat.Kind{compat.KindLowerBoundRaised}, kinds(got))

	loop := `{"$defs":{"A":{"$ref":"#/$defs/B"},"B":{"$ref":"#/$defs/A"}},"$ref":"#/$defs/A"}`
	assert.Empty(t, check(t, loop, loop))
}

func TestCheckStopsAtItsStepBudget(t *testing.T) {
	got, err := compat.Check([]byte(person), []byte(person), compat.WithMaxStepsForTest(1))
	require.NoError(t, err)
	assert.Equal(t, []compat.Kind{compat.KindTooComplex}, kinds(got))
}

func TestCheckRefusesWhatIsNotASchema(t *testing.T) {
	cases := []struct {
		name     string
		old, new string
		refs     []string
		want     error
	}{
		{name: "text that is not JSON", old: `{"type":`, new: `{}`, want: compat.ErrNotJSON},
		{name: "two JSON values", old: `{}`, new: `{} {}`, want: compat.ErrNotJSON},
		{name: "an array", old: `{}`, new: `[]`, want: compat.ErrNotSchema},
		{name: "a $id that is not a string", old: `{"$id":1}`, new: `{}`, want: compat.ErrNotSchema},
		{name: "two references with one $id", old: `{}`, new: `{}`, refs: []string{`{"$id":"urn:a"}`, `{"$id":"urn:a"}`}, want: compat.ErrDuplicateID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var refs [][]byte
			for _, r := range tc.refs {
				refs = append(refs, []byte(r))
			}
			_, err := compat.Check([]byte(tc.old), []byte(tc.new), compat.WithReferences(nil, refs))
			require.ErrorIs(t, err, tc.want)
		})
	}
}

func TestBreakingReadsAsOneLine(t *testing.T) {
	b := compat.Breaking{Kind: compat.KindRequiredAdded, Schema: "urn:passerelle:schema:common:v1", Pointer: "/$defs/Person/required/4", Instance: "/data/person", Message: `property "sex" is now required`}
	assert.Equal(t, `urn:passerelle:schema:common:v1#/$defs/Person/required/4 [required-added] at /data/person: property "sex" is now required`, b.String())
}

// TestCheckCatchesNarrowingsOfTheRealSchemas narrows the released schemas the way an
// engineer might, and proves the released-schema test would fail.
func TestCheckCatchesNarrowingsOfTheRealSchemas(t *testing.T) {
	released := readSchemas(t, filepath.Join("..", "released"))
	require.NotEmpty(t, released)
	common := string(released["common.v1.json"])
	penal := string(released["penal-record.v1.json"])
	require.NotEmpty(t, common)
	require.NotEmpty(t, penal)

	cases := []struct {
		name     string
		file     string
		from, to string
		want     compat.Kind // "" when the change is compatible
		instance string      // expected on a finding of kind want, through penal-record
		schema   string      // the $id every finding must point into
	}{
		{
			name: "sex no longer accepting F is caught through penal-record's reference to Person",
			file: "common.v1.json", from: `"enum": ["M", "F"]`, to: `"enum": ["M"]`,
			want: compat.KindEnumNarrowed, instance: "/data/person/sex", schema: "urn:passerelle:schema:common:v1",
		},
		{
			name: "the sex becoming required is caught",
			file: "common.v1.json", from: `"required": ["lastName", "firstNames", "birthDate", "identifiers"]`, to: `"required": ["lastName", "firstNames", "birthDate", "identifiers", "sex"]`,
			want: compat.KindRequiredAdded, instance: "/data/person", schema: "urn:passerelle:schema:common:v1",
		},
		{
			name: "TIG hours capped lower are caught",
			file: "common.v1.json", from: `"minimum": 1, "maximum": 400`, to: `"minimum": 1, "maximum": 300`,
			want: compat.KindUpperBoundLowered, instance: "/data/convictions/*/sentences/*/hours", schema: "urn:passerelle:schema:common:v1",
		},
		{
			name: "a status removed is caught",
			file: "penal-record.v1.json", from: `"enum": ["PREVENU", "CONDAMNE", "MIXTE"]`, to: `"enum": ["PREVENU", "CONDAMNE"]`,
			want: compat.KindEnumNarrowed, instance: "/data/status", schema: "urn:passerelle:schema:penal-record:v1",
		},
		{
			name: "an envelope attribute made required is caught through the allOf",
			file: "envelope.v1.json", from: "\"required\": [\n        \"specversion\",", to: "\"required\": [\n        \"datacontenttype\",\n        \"specversion\",",
			want: compat.KindRequiredAdded, instance: "", schema: "urn:passerelle:schema:envelope:v1",
		},
		{
			name: "an envelope attribute the type schema names as true, and the envelope still checks, may go from the type schema",
			file: "penal-record.v1.json", from: `"datacontenttype": true,`, to: ``,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := string(released[tc.file])
			require.Contains(t, src, tc.from, "the released schema changed: update this test's text")
			narrowed := strings.Replace(src, tc.from, tc.to, 1)
			current := map[string][]byte{}
			for k, v := range released {
				current[k] = v
			}
			current[tc.file] = []byte(narrowed)
			got, err := compat.Check(released["penal-record.v1.json"], current["penal-record.v1.json"],
				compat.WithReferences(values(released), values(current)))
			require.NoError(t, err)
			if tc.want == "" {
				assert.Empty(t, got)
				return
			}
			var found bool
			for _, b := range got {
				if b.Kind == tc.want && b.Instance == tc.instance {
					found = true
				}
				assert.Equal(t, tc.schema, b.Schema, "the pointer names the file that changed: %s", b)
			}
			assert.True(t, found, "want %s at %q, got %v", tc.want, tc.instance, got)
		})
	}
}
