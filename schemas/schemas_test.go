package schemas_test

import (
	"encoding/json"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/internal/jsonstrict"
	"passerelle/schemas"
)

// exampleDoc decodes one valid example, freshly, so a test may change it.
func exampleDoc(t *testing.T, typeName, name string) map[string]any {
	t.Helper()
	raw, err := fs.ReadFile(schemas.Files(), path.Join("examples", typeName, "valid", name+".json"))
	require.NoError(t, err)
	doc, err := jsonstrict.Decode(raw)
	require.NoError(t, err)
	return doc.(map[string]any)
}

// set replaces the value at a JSON pointer of the form /a/0/b (no escapes); nil
// removes an object member.
func set(t *testing.T, doc any, ptr string, value any) {
	t.Helper()
	toks := strings.Split(ptr, "/")[1:]
	cur := doc
	for i, tok := range toks {
		last := i == len(toks)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				if value == nil {
					delete(c, tok)
				} else {
					c[tok] = value
				}
				return
			}
			cur = c[tok]
		case []any:
			n, err := strconv.Atoi(tok)
			require.NoError(t, err)
			if last {
				c[n] = value
				return
			}
			cur = c[n]
		default:
			t.Fatalf("no container at %s", ptr)
		}
	}
}

func violations(t *testing.T, err error) []schemas.Violation {
	t.Helper()
	require.ErrorIs(t, err, schemas.ErrInvalid)
	var verr *schemas.ValidationError
	require.ErrorAs(t, err, &verr)
	require.NotEmpty(t, verr.Violations)
	return verr.Violations
}

func TestLoadCompilesOnceAndListsTheSixTypes(t *testing.T) {
	reg := mustLoad(t)
	again := mustLoad(t)
	assert.Same(t, reg, again, "Load compiles once and shares the registry")

	var got []string
	for _, ti := range reg.Types() {
		got = append(got, ti.Name+" "+ti.Type+" "+ti.ID+" "+ti.File)
		assert.Equal(t, 1, ti.Version)
	}
	assert.Equal(t, []string{
		"case-transfer fr.justice.case-transfer.v1 urn:passerelle:schema:case-transfer:v1 case-transfer.v1.json",
		"custody-event fr.justice.custody-event.v1 urn:passerelle:schema:custody-event:v1 custody-event.v1.json",
		"judgment fr.justice.judgment.v1 urn:passerelle:schema:judgment:v1 judgment.v1.json",
		"measure fr.justice.measure.v1 urn:passerelle:schema:measure:v1 measure.v1.json",
		"penal-record fr.justice.penal-record.v1 urn:passerelle:schema:penal-record:v1 penal-record.v1.json",
		"report fr.justice.report.v1 urn:passerelle:schema:report:v1 report.v1.json",
	}, got)
}

func TestLookupAndSchemaFindEveryNameOfAType(t *testing.T) {
	reg := mustLoad(t)
	for _, q := range []string{"penal-record", "penal-record.v1", "fr.justice.penal-record.v1", "urn:passerelle:schema:penal-record:v1", "penal-record.v1.json"} {
		ti, ok := reg.Lookup(q)
		require.True(t, ok, q)
		assert.Equal(t, "fr.justice.penal-record.v1", ti.Type, q)
		raw, ok := reg.Schema(q)
		require.True(t, ok, q)
		var s map[string]any
		require.NoError(t, json.Unmarshal(raw, &s))
		assert.Equal(t, "urn:passerelle:schema:penal-record:v1", s["$id"])
	}
	for _, shared := range []string{"envelope", "common"} {
		_, ok := reg.Lookup(shared)
		assert.False(t, ok, "%s is not a message type", shared)
		raw, ok := reg.Schema(shared)
		require.True(t, ok, "the shared file %s can be shown", shared)
		assert.Contains(t, string(raw), "urn:passerelle:schema:"+shared+":v1")
	}
	for _, unknown := range []string{"", "penal", "fr.justice.penal-record.v2", "penal-record.v2"} {
		_, ok := reg.Lookup(unknown)
		assert.False(t, ok, unknown)
		_, ok = reg.Schema(unknown)
		assert.False(t, ok, unknown)
	}
}

func TestSchemaReturnsACopy(t *testing.T) {
	reg := mustLoad(t)
	raw, _ := reg.Schema("report")
	raw[0] = 'X'
	again, _ := reg.Schema("report")
	assert.Equal(t, byte('{'), again[0])
}

func TestValidateChoosesTheSchemaFromTheType(t *testing.T) {
	reg := mustLoad(t)
	cases := []struct {
		name    string
		doc     any
		pointer string
		keyword string
		message string
	}{
		{name: "a list is not a message", doc: []any{}, pointer: "", keyword: "type", message: "expected a message (a JSON object), got a list"},
		{name: "a missing type", doc: map[string]any{"id": "x"}, pointer: "/type", keyword: "required", message: `missing required field "type" (the message type, e.g. fr.justice.case-transfer.v1)`},
		{name: "a type that is not a string", doc: map[string]any{"type": json.Number("3")}, pointer: "/type", keyword: "type", message: "expected a text in double quotes, got the number 3"},
		{name: "an unknown type", doc: map[string]any{"type": "fr.justice.x.v1"}, pointer: "/type", keyword: "enum", message: `"fr.justice.x.v1" is not a known message type; known types: fr.justice.case-transfer.v1, fr.justice.custody-event.v1, fr.justice.judgment.v1, fr.justice.measure.v1, fr.justice.penal-record.v1, fr.justice.report.v1`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vs := violations(t, reg.Validate(tc.doc))
			require.Len(t, vs, 1)
			assert.Equal(t, schemas.Violation{Pointer: tc.pointer, Keyword: tc.keyword, Message: tc.message}, vs[0])
		})
	}
}

func TestValidateAsRefusesAnUnknownTypeAsTheCallersMistake(t *testing.T) {
	reg := mustLoad(t)
	err := reg.ValidateAs("fiche-penale", map[string]any{})
	require.ErrorIs(t, err, schemas.ErrUnknownType)
	assert.NotErrorIs(t, err, schemas.ErrInvalid)
}

func TestFormatAssertionsRefuseImpossibleDates(t *testing.T) {
	reg := mustLoad(t)
	doc := exampleDoc(t, "penal-record", "reclusion-periode-surete-levee")
	set(t, doc, "/data/committalDate", "2024-02-31")
	set(t, doc, "/time", "2024-02-30T10:00:00Z")
	vs := violations(t, reg.Validate(doc))
	assert.Equal(t, []schemas.Violation{
		{Pointer: "/data/committalDate", Keyword: "format", Message: `"2024-02-31" is not a valid date (YYYY-MM-DD, a real calendar day)`},
		{Pointer: "/time", Keyword: "format", Message: `"2024-02-30T10:00:00Z" is not a valid date and time (RFC 3339 with its offset, e.g. 2024-03-01T08:30:00Z, a real calendar day)`},
	}, vs)
}

func TestOneViolationPerValueAndPerMissingField(t *testing.T) {
	reg := mustLoad(t)
	doc := exampleDoc(t, "penal-record", "reclusion-periode-surete-levee")
	set(t, doc, "/data/person/birthDate", "14/02/1970") // breaks both pattern and format
	set(t, doc, "/data/person/lastName", nil)
	set(t, doc, "/data/person/firstNames", nil)
	set(t, doc, "/data/person/foo", "bar")
	set(t, doc, "/data/person/zzz", "bar")
	vs := violations(t, reg.Validate(doc))
	var got []string
	for _, v := range vs {
		got = append(got, v.String())
	}
	assert.Equal(t, []string{
		`/data/person/birthDate: "14/02/1970" is not a valid date (YYYY-MM-DD, a real calendar day) (rule format)`,
		`/data/person/firstNames: missing required field "firstNames" (rule required)`,
		`/data/person/foo: unknown field "foo" (this object accepts only the fields its schema names) (rule additionalProperties)`,
		`/data/person/lastName: missing required field "lastName" (rule required)`,
		`/data/person/zzz: unknown field "zzz" (this object accepts only the fields its schema names) (rule additionalProperties)`,
	}, got)
}

func TestViolationsAreOrderedByPointerWithIndexesInNumericOrder(t *testing.T) {
	reg := mustLoad(t)
	doc := exampleDoc(t, "measure", "sursis-probatoire-en-cours")
	obligations := make([]any, 12)
	for i := range obligations {
		obligations[i] = "SOINS"
	}
	obligations[2], obligations[10] = "X2", "X10"
	set(t, doc, "/data/obligations", obligations)
	set(t, doc, "/data/kind", "NOPE")
	vs := violations(t, reg.Validate(doc))
	var got []string
	for _, v := range vs {
		got = append(got, v.Pointer)
	}
	assert.Equal(t, []string{"/data/kind", "/data/obligations/2", "/data/obligations/10"}, got)
}

func TestIntegersAreComparedExactlyBeyond2To53(t *testing.T) {
	reg := mustLoad(t)
	doc := exampleDoc(t, "penal-record", "reclusion-periode-surete-levee")
	set(t, doc, "/factversion", json.Number("9007199254740991"))
	require.NoError(t, reg.Validate(doc), "2^53-1 is the largest factversion")
	set(t, doc, "/factversion", json.Number("9007199254740992"))
	vs := violations(t, reg.Validate(doc))
	assert.Equal(t, []schemas.Violation{{Pointer: "/factversion", Keyword: "maximum", Message: "9007199254740992 is more than the maximum 9007199254740991"}}, vs)
}

func TestTheErrorTextIsRedacted(t *testing.T) {
	reg := mustLoad(t)
	doc := exampleDoc(t, "penal-record", "reclusion-periode-surete-levee")
	set(t, doc, "/data/person/birthDate", "1970-02-30")
	err := reg.Validate(doc)
	vs := violations(t, err)
	assert.Contains(t, vs[0].Message, "1970-02-30", "the sender's message quotes the value")
	assert.Equal(t, "schemas: fr.justice.penal-record.v1: document does not match its schema: /data/person/birthDate (rule format)", err.Error())
	assert.Equal(t, "/data/person/birthDate (rule format)", vs[0].Redacted())
	assert.Equal(t, vs[0].Redacted(), vs[0].LogString())
}

func TestValidateIsSafeForConcurrentUse(t *testing.T) {
	reg := mustLoad(t)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			doc := exampleDoc(t, "judgment", "sursis-probatoire-obligations")
			if i%2 == 1 {
				set(t, doc, "/data/decisionDate", "2024-02-31")
			}
			for range 50 {
				errs[i] = reg.Validate(doc)
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if i%2 == 1 {
			assert.Len(t, violations(t, err), 1)
		} else {
			assert.NoError(t, err)
		}
	}
}
