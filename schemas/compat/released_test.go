package compat_test

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"passerelle/schemas/compat"
)

// readSchemas reads the *.json files directly in dir (not in its sub-folders), by name.
func readSchemas(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	require.NoError(t, err)
	out := make(map[string][]byte, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		out[filepath.Base(p)] = b
	}
	return out
}

func sortedNames(m map[string][]byte) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func values(m map[string][]byte) [][]byte {
	var out [][]byte
	for _, k := range sortedNames(m) {
		out = append(out, m[k])
	}
	return out
}

// TestReleasedSchemasStayCompatible compares every schema as last released
// (schemas/released/X.vN.json) with the current schemas/X.vN.json: the current one must
// accept every document the released one accepted. A breaking change is a new major
// version (see doc.go), never an edit of a released one.
func TestReleasedSchemasStayCompatible(t *testing.T) {
	released := readSchemas(t, filepath.Join("..", "released"))
	current := readSchemas(t, "..")
	require.NotEmpty(t, released, "schemas/released holds no schema: cut release 1 by copying schemas/*.v1.json there (see schemas/compat/doc.go)")
	refs := compat.WithReferences(values(released), values(current))

	for _, name := range sortedNames(released) {
		t.Run(name, func(t *testing.T) {
			now, ok := current[name]
			if !ok {
				t.Fatalf("schemas/%s was released but is no longer in schemas/: a released schema stays as long as its type may be sent", name)
			}
			breaking, err := compat.Check(released[name], now, refs)
			require.NoError(t, err)
			for _, b := range breaking {
				t.Errorf("%s", b)
			}
			if len(breaking) > 0 {
				t.Logf("schemas/%s would refuse documents that the released version accepted: keep the change compatible, or make it a new major version (%s → a new .v2.json file and CloudEvents type, see schemas/compat/doc.go)", name, name)
			}
		})
	}
	for _, name := range sortedNames(current) {
		if _, ok := released[name]; !ok {
			t.Logf("schemas/%s is not released yet: it is compared from the next release on", name)
		}
	}
}
