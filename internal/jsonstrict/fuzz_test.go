package jsonstrict_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/internal/jsonstrict"
)

// schemaExamples returns every example document of the canonical schemas.
func schemaExamples(tb testing.TB) [][]byte {
	tb.Helper()
	paths, err := filepath.Glob("../../schemas/examples/*/*/*.json")
	require.NoError(tb, err)
	var docs [][]byte
	for _, p := range paths {
		if strings.HasSuffix(p, ".expect.json") {
			continue
		}
		b, err := os.ReadFile(p)
		require.NoError(tb, err)
		docs = append(docs, b)
	}
	return docs
}

// hostileSeeds are inputs that a careless decoder gets wrong.
var hostileSeeds = []string{
	`{"a":1,"a":2}`,
	`{"a":1,"\u0061":2}`,
	"{\"a\":\"\xff\"}",
	`"\ud800"`,
	`"\ud83d\ude00"`,
	"\xef\xbb\xbf{}",
	`{} {}`,
	`[1e401, 1e400, -0, 9007199254740993]`,
	strings.Repeat("[", 70) + strings.Repeat("]", 70),
	strings.Repeat(`{"a":`, 70),
	"\x00\x01\x02\xff\xfe",
	`{"a":"\u0000\n\t\\\/"}`,
	`[01]`,
	`"`,
	``,
}

// FuzzDecode checks that Decode never panics, that every refusal is an *Error inside
// the input, and that whatever it accepts encoding/json accepts too, with the same
// value. Where encoding/json accepts and Decode refuses, the reason must be one of the
// strict rules (duplicate keys, UTF-8, number range, depth), never a syntax disagreement.
func FuzzDecode(f *testing.F) {
	for _, doc := range schemaExamples(f) {
		f.Add(doc)
	}
	for _, s := range hostileSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := jsonstrict.Decode(data)
		want, stdErr := stdDecode(t, data)
		if err != nil {
			var e *jsonstrict.Error
			require.ErrorAs(t, err, &e)
			require.GreaterOrEqual(t, e.Offset, int64(0))
			require.LessOrEqual(t, e.Offset, int64(len(data)))
			if stdErr == nil {
				strict := errors.Is(err, jsonstrict.ErrDuplicateKey) || errors.Is(err, jsonstrict.ErrInvalidUTF8) ||
					errors.Is(err, jsonstrict.ErrNumberOutOfRange) || errors.Is(err, jsonstrict.ErrTooDeep)
				require.True(t, strict, "encoding/json accepts what Decode refuses for another reason: %v", err)
			}
			return
		}
		require.NoError(t, stdErr, "Decode accepted what encoding/json refuses")
		assert.Equal(t, want, got)
	})
}
