package pipeline

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/internal/jsonstrict"
	"passerelle/pipeline/pipelinetest"
	"passerelle/pipeline/store"
)

// identifiersByUnmarshal is how the identifiers were read before the Ingester passed
// its decoded data: a second decode of the bytes with encoding/json. identifiersOf must
// agree with it on every input both decoders accept and whose keys match exactly.
func identifiersByUnmarshal(data []byte) []store.Identifier {
	var p struct {
		Person *struct {
			LastName    string   `json:"lastName"`
			FirstNames  []string `json:"firstNames"`
			BirthDate   string   `json:"birthDate"`
			Identifiers struct {
				CommittalNumber   string `json:"committalNumber"`
				EstablishmentCode string `json:"establishmentCode"`
				AppiFileNumber    string `json:"appiFileNumber"`
				PrismeFileID      string `json:"prismeFileId"`
			} `json:"identifiers"`
		} `json:"person"`
	}
	if err := json.Unmarshal(data, &p); err != nil || p.Person == nil {
		return nil
	}
	var ids []store.Identifier
	idf := p.Person.Identifiers
	if idf.CommittalNumber != "" && idf.EstablishmentCode != "" {
		ids = append(ids, store.Identifier{System: IDEcrou, Value: idf.CommittalNumber + "@" + idf.EstablishmentCode})
	}
	if idf.AppiFileNumber != "" {
		ids = append(ids, store.Identifier{System: IDAppi, Value: idf.AppiFileNumber})
	}
	if idf.PrismeFileID != "" {
		ids = append(ids, store.Identifier{System: IDPrisme, Value: idf.PrismeFileID})
	}
	if p.Person.LastName != "" && p.Person.BirthDate != "" {
		ids = append(ids, store.Identifier{System: IDPersonKey, Value: PersonKey(p.Person.LastName, p.Person.FirstNames, p.Person.BirthDate)})
	}
	return ids
}

var identitySeeds = []string{
	`{"person":{"lastName":"DUPONT","firstNames":["Jean","Marc"],"birthDate":"1980-01-02","identifiers":{"committalNumber":"24-0412","establishmentCode":"0750101","appiFileNumber":"A1","prismeFileId":"P1"}}}`,
	`{"person":{"lastName":"DUPONT","birthDate":"1980-01-02","identifiers":{}}}`,
	`{"person":{"lastName":"DUPONT","firstNames":null,"birthDate":"1980-01-02","identifiers":null}}`,
	`{"person":{"lastName":"DUPONT","firstNames":["Jean",null],"birthDate":"1980-01-02","identifiers":{"committalNumber":"24-0412"}}}`,
	`{"person":{"lastName":1,"birthDate":"1980-01-02","identifiers":{"appiFileNumber":"A1"}}}`,
	`{"person":{"lastName":"DUPONT","firstNames":"Jean","birthDate":"1980-01-02"}}`,
	`{"person":{"lastName":"DUPONT","firstNames":[1],"birthDate":"1980-01-02"}}`,
	`{"person":{"lastName":"DUPONT","birthDate":"1980-01-02","identifiers":[]}}`,
	`{"person":{"lastName":"DUPONT","birthDate":"1980-01-02","identifiers":{"prismeFileId":true}}}`,
	`{"person":{"lastName":"DUPONT","birthDate":"1980-01-02","other":{"x":[1,2]}}}`,
	`{"person":null}`,
	`{"person":"DUPONT"}`,
	`{"nobody":{}}`,
	`[1,2]`,
	`null`,
	`"text"`,
}

func TestIdentifiersOfReadsTheDecodedDataAsASecondDecodeDid(t *testing.T) {
	for _, s := range identitySeeds {
		data, err := jsonstrict.Decode([]byte(s))
		require.NoError(t, err, s)
		assert.Equal(t, identifiersByUnmarshal([]byte(s)), identifiersOf(data), s)
	}
	for _, line := range pipelinetest.PenalRecords(200, 1) {
		var m struct {
			Data json.RawMessage `json:"data"`
		}
		require.NoError(t, json.Unmarshal(line, &m))
		data, err := jsonstrict.Decode(m.Data)
		require.NoError(t, err)
		ids := identifiersOf(data)
		require.NotEmpty(t, ids)
		assert.Equal(t, identifiersByUnmarshal(m.Data), ids)
	}
}

func TestIdentifiersOfKnowsNoPersonWhenAFieldHasTheWrongType(t *testing.T) {
	data, err := jsonstrict.Decode([]byte(`{"person":{"lastName":"DUPONT","birthDate":"1980-01-02","identifiers":{"committalNumber":7,"establishmentCode":"0750101"}}}`))
	require.NoError(t, err)
	assert.Nil(t, identifiersOf(data))
}

func FuzzIdentifiersOf(f *testing.F) {
	for _, s := range identitySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		data, err := jsonstrict.Decode(b)
		if err != nil {
			return
		}
		if !exactKeys(data) {
			return // encoding/json also matches keys regardless of case: a documented difference
		}
		assert.Equal(t, identifiersByUnmarshal(b), identifiersOf(data))
	})
}

// exactKeys reports whether no key of data's person differs from a field name only by
// case, the one place where encoding/json and identifiersOf may read differently.
func exactKeys(data any) bool {
	fields := map[string]string{
		"person": "person", "lastname": "lastName", "firstnames": "firstNames", "birthdate": "birthDate",
		"identifiers": "identifiers", "committalnumber": "committalNumber", "establishmentcode": "establishmentCode",
		"appifilenumber": "appiFileNumber", "prismefileid": "prismeFileId",
	}
	var walk func(v any) bool
	walk = func(v any) bool {
		switch t := v.(type) {
		case map[string]any:
			for k, c := range t {
				if want, ok := fields[lower(k)]; ok && want != k {
					return false
				}
				if !walk(c) {
					return false
				}
			}
		case []any:
			for _, c := range t {
				if !walk(c) {
					return false
				}
			}
		}
		return true
	}
	return walk(data)
}

// lower folds case as encoding/json's key matching does (ASCII, and the Kelvin and
// long-s signs that fold to k and s).
func lower(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		switch {
		case r >= 'A' && r <= 'Z':
			r += 'a' - 'A'
		case r == '\u212a':
			r = 'k'
		case r == '\u017f':
			r = 's'
		}
		out = append(out, r)
	}
	return string(out)
}
