package policy

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const penalRecord = `{
 "committalNumber": "24-0412", "establishmentCode": "FR0690", "version": 3,
 "person": {"lastName": "CANARY", "firstNames": ["Jean", "Paul"], "birthDate": "1990-01-01", "address": "1 rue X",
            "identifiers": {"committalNumber": "24-0412", "establishmentCode": "FR0690", "newId": "x"}},
 "convictions": [
   {"court": "TJ LYON", "offences": [{"natinf": "7875", "label": "Vol"}],
    "sentences": [{"kind": "EMPRISONNEMENT", "duration": {"years": 1, "months": 0, "days": 0}, "obligationDetails": "free text"}]}
 ],
 "futureField": {"nested": true}
}`

func TestApply(t *testing.T) {
	p, err := Compile("fr.justice.penal-record.v1", Other, []string{
		"committalNumber", "person.lastName", "person.firstNames", "person.identifiers.committalNumber",
		"convictions[].offences[].natinf", "convictions[].sentences[].kind", "convictions[].sentences[].duration.years",
	})
	require.NoError(t, err)
	out, err := p.Apply([]byte(penalRecord))
	require.NoError(t, err)
	assert.JSONEq(t, `{
	  "committalNumber": "24-0412",
	  "person": {"lastName": "CANARY", "firstNames": ["Jean", "Paul"], "identifiers": {"committalNumber": "24-0412"}},
	  "convictions": [{"offences": [{"natinf": "7875"}], "sentences": [{"kind": "EMPRISONNEMENT", "duration": {"years": 1}}]}]
	}`, string(out), "only the named fields remain: unknown and new fields are denied by default")

	t.Run("a leaf never lets a whole object through", func(t *testing.T) {
		p, err := Compile("fr.justice.penal-record.v1", Other, []string{"person.identifiers", "futureField"})
		require.NoError(t, err)
		out, err := p.Apply([]byte(penalRecord))
		require.NoError(t, err)
		assert.JSONEq(t, `{"person": {}}`, string(out))
	})
	t.Run("an array path over a non-array keeps nothing", func(t *testing.T) {
		p, err := Compile("fr.justice.penal-record.v1", Other, []string{"person[].lastName"})
		require.NoError(t, err)
		out, err := p.Apply([]byte(penalRecord))
		require.NoError(t, err)
		assert.JSONEq(t, `{}`, string(out))
	})
	t.Run("data that is not an object is an error", func(t *testing.T) {
		_, err := p.Apply([]byte(`[1]`))
		require.Error(t, err)
	})
}

// Every hard rule has a case here that fails when the rule is removed: the test below
// checks that each rule is exercised.
var mustDeny = []struct {
	typ, path, recipient string
}{
	{"fr.justice.judgment.v1", "person.address", Prosecution},
	{"fr.justice.judgment.v1", "person.address", Enforcement},
	{"fr.justice.judgment.v1", "sentences[].obligationDetails", Enforcement},
	{"fr.justice.penal-record.v1", "convictions[].sentences[].obligationDetails", Prison},
	{"fr.justice.case-transfer.v1", "nextAppointment", Prosecution},
	{"fr.justice.case-transfer.v1", "nextAppointment", Other},
	{"fr.justice.report.v1", "document.contentBase64", Prosecution},
	{"fr.justice.report.v1", "kind", Other},
	{"fr.justice.measure.v1", "observations", Probation},
	{"fr.justice.measure.v1", "observations", Enforcement},
}

var mayReceive = []struct {
	typ, path, recipient string
}{
	{"fr.justice.judgment.v1", "person.address", Probation},
	{"fr.justice.judgment.v1", "sentences[].obligationDetails", Probation},
	{"fr.justice.case-transfer.v1", "nextAppointment", Enforcement},
	{"fr.justice.report.v1", "kind", Enforcement},
	{"fr.justice.judgment.v1", "person.lastName", Prosecution},
}

func TestHardRules(t *testing.T) {
	for _, c := range mustDeny {
		t.Run(c.path+" never reaches a "+c.recipient+" recipient", func(t *testing.T) {
			assert.NotEmpty(t, Denied(c.typ, c.path, c.recipient))
			_, err := Compile(c.typ, c.recipient, []string{c.path})
			require.Error(t, err, "a policy naming it cannot be built")
			assert.Contains(t, err.Error(), c.path)
		})
	}
	for _, c := range mayReceive {
		t.Run(c.path+" may reach a "+c.recipient+" recipient", func(t *testing.T) {
			assert.Empty(t, Denied(c.typ, c.path, c.recipient))
			_, err := Compile(c.typ, c.recipient, []string{c.path})
			require.NoError(t, err)
		})
	}
	t.Run("every hard rule is exercised by a case that fails without it", func(t *testing.T) {
		for i, r := range hardRules {
			covered := false
			for _, c := range mustDeny {
				if (r.typ == "" || r.typ == c.typ) && (r.path == "*" || r.path == c.path) {
					// Without rule i, would this case still be denied by another rule?
					others := append(append([]rule(nil), hardRules[:i]...), hardRules[i+1:]...)
					saved := hardRules
					hardRules = others
					stillDenied := Denied(c.typ, c.path, c.recipient) != ""
					hardRules = saved
					if !stillDenied {
						covered = true
					}
				}
			}
			assert.True(t, covered, "hard rule %q on %q has no case that fails when it is removed", r.why, r.path)
		}
	})
}

// BenchmarkApply compares the byte walk the deliverer runs with the tree filter it
// replaced (decode into maps, filter, encode), on the penal record above and the
// allow-list of TestApply.
func BenchmarkApply(b *testing.B) {
	p, err := Compile("fr.justice.penal-record.v1", Other, []string{
		"committalNumber", "person.lastName", "person.firstNames", "person.identifiers.committalNumber",
		"convictions[].offences[].natinf", "convictions[].sentences[].kind", "convictions[].sentences[].duration.years",
	})
	require.NoError(b, err)
	data := []byte(penalRecord)
	b.Run("bytes", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := p.Apply(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tree", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var v map[string]any
			if err := json.Unmarshal(data, &v); err != nil {
				b.Fatal(err)
			}
			if _, err := json.Marshal(filterObject(v, p.root)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzApply checks the byte walk against the tree filter on any input: where the input
// is a JSON object Apply keeps exactly what the tree filter keeps (compared decoded:
// the walk keeps the input's order and spelling), and it refuses everything else
// without panicking. Only an object naming a kept field twice may differ: the tree
// keeps the last value, Apply refuses it.
func FuzzApply(f *testing.F) {
	p, err := Compile("fr.justice.penal-record.v1", Other, []string{
		"committalNumber", "person.lastName", "person.firstNames", "person.identifiers.committalNumber",
		"convictions[].offences[].natinf", "convictions[].sentences[].kind", "convictions[].sentences[].duration.years",
	})
	require.NoError(f, err)
	for _, seed := range []string{
		penalRecord, `{}`, `[]`, `null`, `"x"`, `{"person":null}`, `{"person":{"firstNames":[["a"],{"b":1}]}}`,
		`{"committalNumber":1e400}`, `{"committalNumber":"a\"b\\u00e9"}`, `{"\u0063ommittalNumber":"escaped key"}`,
		`{"convictions":[1,"x",{"offences":[{"natinf":"7875","label":"Vol"}]},null]}`,
		`{"committalNumber":"1","committalNumber":"2"}`, `{"person":{"lastName":"A"}} trailing`, `{"a":`,
	} {
		f.Add([]byte(seed))
	}
	// Numbers stay json.Number: 1e400 is valid JSON that a float64 cannot hold.
	decode := func(b []byte) (any, error) {
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var v any
		return v, d.Decode(&v)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := p.Apply(data)
		if !json.Valid(data) {
			require.Error(t, err, "invalid JSON is refused")
			return
		}
		tree, derr := decode(data)
		require.NoError(t, derr)
		obj, isObject := tree.(map[string]any)
		if !isObject {
			require.Error(t, err, "only an object is filtered")
			return
		}
		if err != nil {
			require.Contains(t, err.Error(), "appears twice", "an object is refused only for a repeated field")
			return
		}
		want, err := json.Marshal(filterObject(obj, p.root))
		require.NoError(t, err)
		require.True(t, json.Valid(out), "Apply writes valid JSON: %s", out)
		got, err := decode(out)
		require.NoError(t, err)
		expected, err := decode(want)
		require.NoError(t, err)
		require.Equal(t, expected, got)
	})
}
