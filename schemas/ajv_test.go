package schemas_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"passerelle/internal/jsonstrict"
	"passerelle/schemas"
)

// ajvFix is the command that installs what this test needs.
const ajvFix = "run `make schemas-check`, which installs ajv with `npm ci --prefix tools/ajv --no-audit --no-fund` (Node.js itself: `apt-get install -y nodejs npm`)"

// ajvVerdict is one line of tools/ajv/check.mjs.
type ajvVerdict struct {
	File   string `json:"file"`
	Valid  *bool  `json:"valid"`
	Errors []struct {
		Pointer string `json:"pointer"`
		Keyword string `json:"keyword"`
	} `json:"errors"`
}

// ajvModuleRoot finds the folder of go.mod above the test's folder.
func ajvModuleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "no go.mod above the test's folder")
		dir = parent
	}
}

// ajvCommand is `node tools/ajv/check.mjs [args]`, run from the module root; it fails
// the test, saying how to fix it, when node or ajv is not installed.
func ajvCommand(t *testing.T, root string, args ...string) *exec.Cmd {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed, and this test needs ajv: %s", ajvFix)
	}
	if _, err := os.Stat(filepath.Join(root, "tools", "ajv", "node_modules", "ajv", "package.json")); err != nil {
		t.Fatalf("ajv is not installed in tools/ajv/node_modules: %s", ajvFix)
	}
	cmd := exec.CommandContext(t.Context(), node, append([]string{filepath.Join("tools", "ajv", "check.mjs")}, args...)...)
	cmd.Dir = root
	return cmd
}

// runAjv runs the independent validator on schemasDir (the module's schemas when
// empty) and returns its verdicts by file (relative to the module root, with slashes).
func runAjv(t *testing.T, root, schemasDir string) map[string]ajvVerdict {
	t.Helper()
	var args []string
	if schemasDir != "" {
		args = append(args, schemasDir)
	}
	cmd := ajvCommand(t, root, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node tools/ajv/check.mjs failed (%v): %s", err, strings.TrimSpace(stderr.String()))
	}
	t.Log(strings.TrimSpace(stderr.String()))

	out := map[string]ajvVerdict{}
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var v ajvVerdict
		require.NoError(t, json.Unmarshal(sc.Bytes(), &v), "a line of check.mjs is not its JSON verdict: %s", sc.Text())
		require.NotNil(t, v.Valid, "a line of check.mjs has no verdict: %s", sc.Text())
		require.NotContains(t, out, v.File, "check.mjs reported %s twice", v.File)
		out[v.File] = v
	}
	require.NoError(t, sc.Err())
	return out
}

// ajvExample is one example document on disk.
type ajvExample struct {
	rel    string // schemas/examples/<folder>/<valid|invalid>/<name>.json
	folder string // the type's name as the registry looks it up: judgment, or judgment.v2
	valid  bool   // the folder's verdict
	expect string // "pointer keyword" of the .expect.json, for an invalid example that has one
}

// ajvExampleFiles lists the examples under schemas/examples, as ajv reads them.
func ajvExampleFiles(t *testing.T, root string) []ajvExample {
	t.Helper()
	var out []ajvExample
	base := filepath.Join(root, "schemas", "examples")
	folders, err := os.ReadDir(base)
	require.NoError(t, err)
	for _, f := range folders {
		if !f.IsDir() {
			continue
		}
		for _, kind := range []string{"valid", "invalid"} {
			paths, err := filepath.Glob(filepath.Join(base, f.Name(), kind, "*.json"))
			require.NoError(t, err)
			for _, p := range paths {
				if strings.HasSuffix(p, ".expect.json") {
					continue
				}
				rel, err := filepath.Rel(root, p)
				require.NoError(t, err)
				ex := ajvExample{rel: filepath.ToSlash(rel), folder: f.Name(), valid: kind == "valid"}
				if b, err := os.ReadFile(strings.TrimSuffix(p, ".json") + ".expect.json"); err == nil {
					var e struct{ Pointer, Keyword string }
					require.NoError(t, json.Unmarshal(b, &e), "%s.expect.json", ex.rel)
					ex.expect = e.Pointer + " " + e.Keyword
				}
				out = append(out, ex)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rel < out[j].rel })
	return out
}

func verdictWord(valid bool) string {
	if valid {
		return "accepts"
	}
	return "refuses"
}

// goVerdictOf validates an example with the Go registry: against its folder's type (as
// ajv does) and against the type its own `type` attribute names (as the hub does). It
// returns both verdicts and the redacted violations.
func goVerdictOf(reg *schemas.Registry, ex ajvExample, raw []byte) (asFolder, asOwnType bool, detail string) {
	doc, err := jsonstrict.Decode(raw)
	if err != nil {
		return false, false, "not strict JSON: " + err.Error()
	}
	errFolder := reg.ValidateAs(ex.folder, doc)
	errOwn := reg.Validate(doc)
	var verr *schemas.ValidationError
	switch {
	case errFolder == nil:
	case errors.As(errFolder, &verr):
		detail = strings.Join(verr.Redacted(), "; ")
	default:
		detail = errFolder.Error()
	}
	return errFolder == nil, errOwn == nil, detail
}

// TestAjvAndGoAgreeOnEveryExample validates every example under schemas/examples with
// ajv (an independent implementation of draft 2020-12, in strict mode, formats
// asserted) and with the Go registry, and requires both to give the verdict of the
// folder the example sits in (valid/ or invalid/). The valid examples are the released
// examples too: together with TestReleasedSchemasStayCompatible (schemas/compat) this
// proves the current schemas still accept what the released ones did. For an invalid
// example, ajv must also report the violation its .expect.json names.
func TestAjvAndGoAgreeOnEveryExample(t *testing.T) {
	root := ajvModuleRoot(t)
	ajv := runAjv(t, root, "")
	reg, err := schemas.Load()
	require.NoError(t, err, "the Go registry loads")
	examples := ajvExampleFiles(t, root)
	require.NotEmpty(t, examples, "no example under schemas/examples")

	var disagreements []string
	seen := map[string]bool{}
	for _, ex := range examples {
		seen[ex.rel] = true
		raw, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(ex.rel)))
		require.NoError(t, err)
		a, ok := ajv[ex.rel]
		if !ok {
			disagreements = append(disagreements, ex.rel+": ajv gave no verdict")
			continue
		}
		goFolder, goOwn, goDetail := goVerdictOf(reg, ex, raw)
		var ajvErrs []string
		for _, e := range a.Errors {
			ajvErrs = append(ajvErrs, e.Pointer+" "+e.Keyword)
		}
		folder := "valid/"
		if !ex.valid {
			folder = "invalid/"
		}
		if *a.Valid != ex.valid || goFolder != ex.valid || goOwn != ex.valid {
			disagreements = append(disagreements, fmt.Sprintf(
				"%s (in %s): ajv %s [%s]; Go %s as %s [%s]; Go %s by its own type attribute",
				ex.rel, folder, verdictWord(*a.Valid), strings.Join(ajvErrs, "; "),
				verdictWord(goFolder), ex.folder, goDetail, verdictWord(goOwn)))
			continue
		}
		if ex.expect != "" {
			found := false
			for _, e := range ajvErrs {
				found = found || e == ex.expect
			}
			if !found {
				disagreements = append(disagreements, fmt.Sprintf(
					"%s: its .expect.json names %q, ajv reports [%s] (Go: [%s])",
					ex.rel, ex.expect, strings.Join(ajvErrs, "; "), goDetail))
			}
		}
	}
	for file := range ajv {
		if !seen[file] {
			disagreements = append(disagreements, file+": ajv validated an example this test did not find")
		}
	}
	sort.Strings(disagreements)
	for _, d := range disagreements {
		t.Error(d)
	}
	t.Logf("%d examples compared, %d disagreements", len(examples), len(disagreements))
}

// writeAjvFixture writes files (path relative to dir → content) under dir.
func writeAjvFixture(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	}
}

const ajvFixtureSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "urn:passerelle:schema:fixture:v1",
  "type": "object",
  "additionalProperties": false,
  "required": ["day"],
  "properties": { "day": { "$ref": "urn:passerelle:schema:fixture-common:v1#/$defs/Date" } }
}`

const ajvFixtureCommon = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "urn:passerelle:schema:fixture-common:v1",
  "$defs": { "Date": { "type": "string", "format": "date" } }
}`

// TestAjvCheckAssertsCalendarDatesAcrossFiles runs check.mjs on a small fixture: a
// cross-file $ref resolves by $id, and format date refuses a day that does not exist.
func TestAjvCheckAssertsCalendarDatesAcrossFiles(t *testing.T) {
	root := ajvModuleRoot(t)
	dir := filepath.Join(t.TempDir(), "schemas")
	writeAjvFixture(t, dir, map[string]string{
		"fixture.v1.json":                             ajvFixtureSchema,
		"fixture-common.v1.json":                      ajvFixtureCommon,
		"examples/fixture/valid/leap-day.json":        `{"day": "2024-02-29"}`,
		"examples/fixture/invalid/no-leap-day.json":   `{"day": "2023-02-29"}`,
		"examples/fixture/invalid/unknown-field.json": `{"day": "2024-01-01", "extra": 1}`,
		"examples/fixture/invalid/not-json.json":      `{"day": `,
	})
	got := runAjv(t, root, dir)
	require.Len(t, got, 4)
	errorsOf := func(file string) []string {
		v, ok := got[file]
		require.True(t, ok, "no verdict for %s in %v", file, got)
		var out []string
		for _, e := range v.Errors {
			out = append(out, e.Pointer+" "+e.Keyword)
		}
		return out
	}
	require.True(t, *got["schemas/examples/fixture/valid/leap-day.json"].Valid)
	require.Empty(t, errorsOf("schemas/examples/fixture/valid/leap-day.json"))
	require.False(t, *got["schemas/examples/fixture/invalid/no-leap-day.json"].Valid)
	require.Equal(t, []string{"/day format"}, errorsOf("schemas/examples/fixture/invalid/no-leap-day.json"))
	require.Equal(t, []string{"/extra additionalProperties"}, errorsOf("schemas/examples/fixture/invalid/unknown-field.json"))
	require.Equal(t, []string{" json"}, errorsOf("schemas/examples/fixture/invalid/not-json.json"))
}

// TestAjvCheckRefusesSchemasThatDoNotCompileInStrictMode: check.mjs exits with status
// 2 and names the schema and the definition when ajv's strict mode refuses a schema.
func TestAjvCheckRefusesSchemasThatDoNotCompileInStrictMode(t *testing.T) {
	root := ajvModuleRoot(t)
	cases := []struct {
		name   string
		common string
		want   string
	}{
		{
			name:   "an unknown keyword in a shared definition is named at that definition",
			common: strings.Replace(ajvFixtureCommon, `"format": "date"`, `"format": "date", "x-rule": 1`, 1),
			want:   `urn:passerelle:schema:fixture-common:v1#/$defs/Date does not compile in ajv strict mode: strict mode: unknown keyword: "x-rule"`,
		},
		{
			name:   "an unknown format is refused",
			common: strings.Replace(ajvFixtureCommon, `"format": "date"`, `"format": "french-date"`, 1),
			want:   `unknown format "french-date"`,
		},
		{
			name:   "a keyword applied to a type the schema does not declare is refused (strictTypes)",
			common: strings.Replace(ajvFixtureCommon, `"type": "string", "format": "date"`, `"format": "date", "minLength": 10`, 1),
			want:   `missing type "string" for keyword "minLength"`,
		},
		{
			name:   "a file without $id is refused",
			common: strings.Replace(ajvFixtureCommon, `"$id": "urn:passerelle:schema:fixture-common:v1",`, ``, 1),
			want:   "fixture-common.v1.json: no $id",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.NotEqual(t, ajvFixtureCommon, tc.common, "the case changes the fixture")
			dir := filepath.Join(t.TempDir(), "schemas")
			writeAjvFixture(t, dir, map[string]string{"fixture.v1.json": ajvFixtureSchema, "fixture-common.v1.json": tc.common})
			cmd := ajvCommand(t, root, dir)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "check.mjs must fail; stderr: %s", stderr.String())
			require.Equal(t, 2, exit.ExitCode(), "stderr: %s", stderr.String())
			require.Contains(t, stderr.String(), tc.want)
		})
	}
}
