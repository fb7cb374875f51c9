package schemas_test

import (
	"io/fs"
	"path"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/internal/jsonstrict"
	"passerelle/schemas"
)

// example is one example document of the embedded examples folder.
type example struct {
	typeName string // penal-record
	name     string // file name without .json
	valid    bool
	doc      []byte
	expect   []byte // invalid only: the .expect.json
}

// examples reads every example, failing on a folder or file that breaks the layout
// (an invalid case without its .expect.json, an expect file without its case).
func examples(tb testing.TB) []example {
	tb.Helper()
	fsys := schemas.Files()
	var out []example
	dirs, err := fs.ReadDir(fsys, "examples")
	require.NoError(tb, err)
	for _, d := range dirs {
		require.True(tb, d.IsDir(), "examples/%s is not a folder", d.Name())
		for _, kind := range []string{"valid", "invalid"} {
			dir := path.Join("examples", d.Name(), kind)
			entries, err := fs.ReadDir(fsys, dir)
			require.NoError(tb, err)
			for _, e := range entries {
				name := e.Name()
				if strings.HasSuffix(name, ".expect.json") {
					require.Equal(tb, "invalid", kind, "%s/%s: an expect file among valid examples", dir, name)
					_, err := fs.Stat(fsys, path.Join(dir, strings.TrimSuffix(name, ".expect.json")+".json"))
					require.NoError(tb, err, "%s/%s has no case", dir, name)
					continue
				}
				ex := example{typeName: d.Name(), name: strings.TrimSuffix(name, ".json"), valid: kind == "valid"}
				ex.doc, err = fs.ReadFile(fsys, path.Join(dir, name))
				require.NoError(tb, err)
				if !ex.valid {
					ex.expect, err = fs.ReadFile(fsys, path.Join(dir, ex.name+".expect.json"))
					require.NoError(tb, err, "%s/%s has no .expect.json", dir, name)
				}
				out = append(out, ex)
			}
		}
	}
	require.NotEmpty(tb, out)
	return out
}

func mustLoad(tb testing.TB) *schemas.Registry {
	tb.Helper()
	reg, err := schemas.Load()
	require.NoError(tb, err)
	return reg
}

func TestEveryValidExampleValidates(t *testing.T) {
	reg := mustLoad(t)
	n := 0
	for _, ex := range examples(t) {
		if !ex.valid {
			continue
		}
		n++
		t.Run(ex.typeName+"/"+ex.name, func(t *testing.T) {
			doc, err := jsonstrict.Decode(ex.doc)
			require.NoError(t, err)
			require.NoError(t, reg.Validate(doc))
			info, ok := reg.Lookup(ex.typeName)
			require.True(t, ok, "the example folder %s names a known type", ex.typeName)
			require.NoError(t, reg.ValidateAs(info.Type, doc))
		})
	}
	assert.NotZero(t, n)
}

func TestEveryInvalidExampleGivesExactlyItsExpectedViolation(t *testing.T) {
	reg := mustLoad(t)
	n := 0
	for _, ex := range examples(t) {
		if ex.valid {
			continue
		}
		n++
		t.Run(ex.typeName+"/"+ex.name, func(t *testing.T) {
			expDoc, err := jsonstrict.Decode(ex.expect)
			require.NoError(t, err, "the expect file is strict JSON")
			expObj, ok := expDoc.(map[string]any)
			require.True(t, ok, "the expect file is an object")
			require.Len(t, expObj, 2, "the expect file has exactly pointer and keyword")
			p, ok := expObj["pointer"].(string)
			require.True(t, ok, "the expect file's pointer is a string")
			k, ok := expObj["keyword"].(string)
			require.True(t, ok, "the expect file's keyword is a string")

			doc, err := jsonstrict.Decode(ex.doc)
			require.NoError(t, err, "invalid examples are valid JSON")
			require.ErrorIs(t, reg.Validate(doc), schemas.ErrInvalid, "refused when its own type attribute chooses the schema")
			// The example belongs to its folder's schema, as ajv checks it: validated as
			// that type, a wrong type attribute is a const violation at /type.
			err = reg.ValidateAs(ex.typeName, doc)
			require.ErrorIs(t, err, schemas.ErrInvalid)
			var verr *schemas.ValidationError
			require.ErrorAs(t, err, &verr)
			got := make([]string, len(verr.Violations))
			for i, v := range verr.Violations {
				got[i] = v.Pointer + " " + v.Keyword
				assert.NotEmpty(t, v.Message)
			}
			assert.Equal(t, []string{p + " " + k}, got, "violations: %v", verr.Violations)
		})
	}
	assert.NotZero(t, n)
}
