package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/schemas"
)

// cliResult is what one in-process run of the binary produced.
type cliResult struct {
	code   int
	stdout string
	stderr string
	err    error
}

// runCLI runs the root command in-process, as main does, with stdin as its input.
func runCLI(t *testing.T, stdin io.Reader, args ...string) cliResult {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	root.SetIn(stdin)
	err := root.ExecuteContext(t.Context())
	return cliResult{code: cliExitCode(err), stdout: out.String(), stderr: errOut.String(), err: err}
}

// cliExitCode maps an error to an exit code the way exitCode in main.go does, without
// writing to the process's stderr.
func cliExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if isUsage(err) {
		return 2
	}
	return 1
}

// writeFile writes data to name in a fresh temporary folder and returns its path.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, data, 0o600))
	return p
}

// exampleFiles writes the embedded examples of one kind (valid or invalid, without
// the expect files) into a temporary folder and returns their paths.
func exampleFiles(t *testing.T, kind string) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	matches, err := fs.Glob(schemas.Files(), "examples/*/"+kind+"/*.json")
	require.NoError(t, err)
	for _, m := range matches {
		if strings.HasSuffix(m, ".expect.json") {
			continue
		}
		data, err := fs.ReadFile(schemas.Files(), m)
		require.NoError(t, err)
		p := filepath.Join(dir, strings.ReplaceAll(strings.TrimPrefix(m, "examples/"), "/", "_"))
		require.NoError(t, os.WriteFile(p, data, 0o600))
		paths = append(paths, p)
	}
	require.NotEmpty(t, paths)
	return paths
}

func TestValidateAcceptsEveryValidExample(t *testing.T) {
	files := exampleFiles(t, "valid")
	res := runCLI(t, nil, append([]string{"validate"}, files...)...)
	require.Equal(t, 0, res.code, "stdout:\n%s\nerr: %v", res.stdout, res.err)
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	require.Len(t, lines, len(files))
	for i, l := range lines {
		assert.Regexp(t, `^`+regexp.QuoteMeta(files[i])+`: valid \(fr\.justice\.[a-z-]+\.v1\)$`, l)
	}
}

func TestValidateRefusesEveryInvalidExample(t *testing.T) {
	for _, f := range exampleFiles(t, "invalid") {
		res := runCLI(t, nil, "validate", f)
		assert.Equal(t, 1, res.code, f)
		assert.Contains(t, res.stdout, f+": /", "one line per violation, with its pointer")
		assert.Contains(t, res.stdout, "(rule ")
	}
}

// judgmentWith returns a valid judgment example changed by edit, as JSON.
func judgmentWith(t *testing.T, edit func(doc map[string]any)) []byte {
	t.Helper()
	raw, err := fs.ReadFile(schemas.Files(), "examples/judgment/valid/ferme-sursis-partiel-mandat-depot.json")
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	edit(doc)
	out, err := json.Marshal(doc)
	require.NoError(t, err)
	return out
}

func TestValidatePrintsOneLinePerViolation(t *testing.T) {
	bad := judgmentWith(t, func(doc map[string]any) {
		data := doc["data"].(map[string]any)
		data["offences"].([]any)[0].(map[string]any)["natinf"] = "12A"
		delete(data["person"].(map[string]any), "birthDate")
	})
	t.Chdir(t.TempDir())
	require.NoError(t, os.WriteFile("bad.json", bad, 0o600))

	res := runCLI(t, nil, "validate", "bad.json")
	assert.Equal(t, 1, res.code)
	assert.Equal(t, `bad.json: /data/offences/0/natinf: "12A" does not match ^[0-9]{1,6}$ (rule pattern)
bad.json: /data/person/birthDate: missing required field "birthDate" (rule required)
`, res.stdout)
	var ee *exitError
	require.ErrorAs(t, res.err, &ee)
	assert.Equal(t, "1 of 1 file(s) not valid", ee.msg)
}

func TestValidateReportsEachFileOfAMixedList(t *testing.T) {
	good := writeFile(t, "good.json", judgmentWith(t, func(map[string]any) {}))
	bad := writeFile(t, "bad.json", judgmentWith(t, func(doc map[string]any) { doc["data"].(map[string]any)["decisionDate"] = "2024-02-31" }))
	res := runCLI(t, nil, "validate", good, bad)
	assert.Equal(t, 1, res.code)
	assert.Equal(t, good+": valid (fr.justice.judgment.v1)\n"+
		bad+`: /data/decisionDate: "2024-02-31" is not a valid date (YYYY-MM-DD, a real calendar day) (rule format)`+"\n", res.stdout)
}

func TestValidateWithTypeChecksAgainstThatSchema(t *testing.T) {
	judgment := writeFile(t, "judgment.json", judgmentWith(t, func(map[string]any) {}))
	res := runCLI(t, nil, "validate", "--type", "judgment", judgment)
	assert.Equal(t, 0, res.code, res.stdout)

	res = runCLI(t, nil, "validate", "--type", "fr.justice.report.v1", judgment)
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stdout, judgment+`: /type: "fr.justice.judgment.v1" is not the required value "fr.justice.report.v1" (rule const)`)
}

func TestValidateReadsTheStandardInput(t *testing.T) {
	res := runCLI(t, bytes.NewReader(judgmentWith(t, func(map[string]any) {})), "validate", "-")
	assert.Equal(t, 0, res.code)
	assert.Equal(t, "stdin: valid (fr.justice.judgment.v1)\n", res.stdout)
}

func TestValidateRefusesHostileFilesWithAClearReason(t *testing.T) {
	deep := strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{name: "binary bytes", data: []byte{0x00, 0x9f, 0x92, 0x96, 0xff, 0xfe, 0x01}, want: "not accepted: unexpected byte 0x00: expected a value (byte 0)"},
		{name: "a PNG header", data: []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), want: "not accepted: unexpected byte 0x89: expected a value (byte 0)"},
		{name: "100,000-deep nesting", data: []byte(deep), want: "not accepted: nested deeper than 64 levels at /0/0/0/"},
		{name: "a duplicate key", data: []byte(`{"type":"fr.justice.judgment.v1","data":{"x":1,"x":2}}`), want: `not accepted: duplicate key "x" at /data (byte 47)`},
		{name: "invalid UTF-8", data: []byte("{\"type\":\"fr.justice.judgment.v1\",\"subject\":\"Jos\xe9\"}"), want: "not accepted: invalid UTF-8 in a string at /subject (byte 47)"},
		{name: "a byte order mark", data: []byte("\xef\xbb\xbf{}"), want: "not accepted: the document starts with a byte order mark (send UTF-8 without BOM) (byte 0)"},
		{name: "two documents", data: []byte(`{} {}`), want: "not accepted: unexpected character '{' after the end of the JSON value (byte 3)"},
		{name: "an empty file", data: nil, want: "not accepted: empty document: expected a JSON value (byte 0)"},
		{name: "a JSON array", data: []byte(`[]`), want: "(document): expected a message (a JSON object), got a list (rule type)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := writeFile(t, "in.json", tc.data)
			res := runCLI(t, nil, "validate", f)
			assert.Equal(t, 1, res.code)
			assert.True(t, strings.HasPrefix(res.stdout, f+": "+tc.want), "got %q", res.stdout)
			assert.Equal(t, 1, strings.Count(res.stdout, "\n"), "one line")
		})
	}
}

// writeLargeJSON writes a valid JSON array of at least size bytes.
func writeLargeJSON(t *testing.T, size int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "large.json")
	f, err := os.Create(p)
	require.NoError(t, err)
	w := bufio.NewWriterSize(f, 1<<20)
	_, err = w.WriteString(`[`)
	require.NoError(t, err)
	item := `{"lastName":"DUPONT","firstNames":["Jean"]},`
	for n := 1; n < size; n += len(item) {
		_, err = w.WriteString(item)
		require.NoError(t, err)
	}
	_, err = w.WriteString(`{}]`)
	require.NoError(t, err)
	require.NoError(t, w.Flush())
	require.NoError(t, f.Close())
	return p
}

func TestValidateRefusesA50MBFileAtTheSizeLimit(t *testing.T) {
	big := writeLargeJSON(t, 50<<20)
	res := runCLI(t, nil, "validate", big)
	assert.Equal(t, 1, res.code)
	assert.Equal(t, big+": not accepted: document larger than the limit of 10 MiB\n", res.stdout)
}

// endlessJSON is an input that never ends, counting what was read from it.
type endlessJSON struct{ read int }

func (r *endlessJSON) Read(p []byte) (int, error) {
	for i := range p {
		switch {
		case r.read == 0:
			p[i] = '['
		case r.read%2 == 1:
			p[i] = '1'
		default:
			p[i] = ','
		}
		r.read++
	}
	return len(p), nil
}

func TestValidateStopsReadingTheStandardInputAtTheSizeLimit(t *testing.T) {
	in := &endlessJSON{}
	res := runCLI(t, in, "validate", "-")
	assert.Equal(t, 1, res.code)
	assert.Equal(t, "stdin: not accepted: document larger than the limit of 10 MiB\n", res.stdout)
	assert.LessOrEqual(t, in.read, 10<<20+1<<20, "read about the limit, not the stream")
}

func TestValidateUsageErrorsExitWith2(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{name: "no file", args: []string{"validate"}, want: "give at least one FILE"},
		{name: "an unknown type", args: []string{"validate", "--type", "fiche-penale", "x.json"}, want: `unknown --type "fiche-penale"; known types: case-transfer (fr.justice.case-transfer.v1)`},
		{name: "an unknown flag", args: []string{"validate", "--strict", "x.json"}, want: "unknown flag: --strict"},
		{name: "the standard input twice", args: []string{"validate", "-", "-"}, want: "only once"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := runCLI(t, nil, tc.args...)
			assert.Equal(t, 2, res.code)
			require.Error(t, res.err)
			assert.Contains(t, res.err.Error(), tc.want)
			assert.Empty(t, res.stdout)
		})
	}
}

func TestValidateReportsAnUnreadableFileWithExit1(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.json")
	dir := t.TempDir()
	res := runCLI(t, nil, "validate", missing, dir)
	assert.Equal(t, 1, res.code)
	assert.Equal(t, missing+": cannot read: no such file or directory\n"+
		dir+": cannot read: is a directory\n", res.stdout)
}

func TestSchemasListNamesEveryType(t *testing.T) {
	res := runCLI(t, nil, "schemas", "list")
	require.Equal(t, 0, res.code, res.err)
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	assert.Equal(t, []string{"NAME", "TYPE", "SCHEMA", "ID"}, strings.Fields(lines[0]))
	reg, err := schemas.Load()
	require.NoError(t, err)
	require.Len(t, lines, 1+len(reg.Types()))
	for i, ti := range reg.Types() {
		assert.Equal(t, []string{ti.Name, ti.Type, ti.ID}, strings.Fields(lines[1+i]))
	}
}

func TestSchemasShowPrintsTheSchema(t *testing.T) {
	for _, q := range []string{"penal-record", "fr.justice.penal-record.v1", "envelope"} {
		res := runCLI(t, nil, "schemas", "show", q)
		require.Equal(t, 0, res.code, res.err)
		var s map[string]any
		require.NoError(t, json.Unmarshal([]byte(res.stdout), &s), q)
		want := "urn:passerelle:schema:" + path.Base(strings.TrimSuffix(strings.TrimPrefix(q, "fr.justice."), ".v1")) + ":v1"
		assert.Equal(t, want, s["$id"], q)
	}
	res := runCLI(t, nil, "schemas", "show", "fiche-penale")
	assert.Equal(t, 2, res.code)
	assert.Contains(t, res.err.Error(), `unknown schema "fiche-penale"`)
	res = runCLI(t, nil, "schemas", "show")
	assert.Equal(t, 2, res.code)
}
