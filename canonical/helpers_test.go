package canonical

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// schemasDir is where the JSON Schemas and their examples live, from this package.
const schemasDir = "../schemas"

// validExamples returns the valid example files, sorted, and fails when there are none.
func validExamples(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(schemasDir, "examples", "*", "valid", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no valid example found under %s", schemasDir)
	sort.Strings(files)
	return files
}

// exampleName returns <type name>/<file> for a test name.
func exampleName(path string) string {
	return filepath.Base(filepath.Dir(filepath.Dir(path))) + "/" + strings.TrimSuffix(filepath.Base(path), ".json")
}

// readFile reads a file the test needs.
func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// jsonValue decodes a JSON document into a generic value, numbers kept exact.
func jsonValue(t testing.TB, raw []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	require.NoError(t, dec.Decode(&v))
	return v
}

// loadSchema returns the decoded schemas/<name>.v1.json.
func loadSchema(t testing.TB, name string) map[string]any {
	t.Helper()
	var s map[string]any
	require.NoError(t, json.Unmarshal(readFile(t, filepath.Join(schemasDir, name+".v1.json")), &s))
	return s
}

// schemaDef returns $defs/<def> of schemas/<name>.v1.json.
func schemaDef(t testing.TB, name, def string) map[string]any {
	t.Helper()
	defs, ok := loadSchema(t, name)["$defs"].(map[string]any)
	require.True(t, ok, "%s has no $defs", name)
	d, ok := defs[def].(map[string]any)
	require.True(t, ok, "%s has no $defs/%s", name, def)
	return d
}

// penalRecordExample returns the largest penal record example, as a message.
func penalRecordExample(t testing.TB) *Message {
	t.Helper()
	m, err := DecodeMessage(readFile(t, filepath.Join(schemasDir, "examples", NamePenalRecord, "valid", "mixte-plusieurs-condamnations.json")))
	require.NoError(t, err)
	return m
}
