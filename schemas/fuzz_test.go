package schemas_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/internal/jsonstrict"
	"passerelle/schemas"
)

// FuzzValidate decodes and validates arbitrary bytes: it must never panic, and every
// refusal must be a well-formed, deterministic list of violations.
func FuzzValidate(f *testing.F) {
	for _, ex := range examples(f) {
		f.Add(ex.doc)
	}
	f.Add([]byte(`{"type":"fr.justice.penal-record.v1"}`))
	f.Add([]byte(`{"type":"fr.justice.custody-event.v1","data":{"kind":"TRANSFERT"}}`))
	f.Add([]byte(`{"type":1}`))
	f.Add([]byte(`[]`))
	reg, err := schemas.Load()
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := jsonstrict.Decode(data)
		if err != nil {
			return
		}
		err = reg.Validate(doc)
		if err == nil {
			return
		}
		var verr *schemas.ValidationError
		require.True(t, errors.As(err, &verr), "a refusal is a *ValidationError: %v", err)
		require.NotEmpty(t, verr.Violations)
		seen := map[string]bool{}
		for _, v := range verr.Violations {
			assert.True(t, v.Pointer == "" || strings.HasPrefix(v.Pointer, "/"), "pointer %q", v.Pointer)
			assert.NotEmpty(t, v.Keyword)
			assert.NotEmpty(t, v.Message)
			assert.False(t, seen[v.Pointer], "one violation per pointer: %q", v.Pointer)
			seen[v.Pointer] = true
		}
		var again *schemas.ValidationError
		require.True(t, errors.As(reg.Validate(doc), &again))
		assert.Equal(t, verr.Violations, again.Violations, "the order is deterministic")
	})
}
