package main

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// repoRoot is the repository this test runs in.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	return root
}

// copyRepo copies the repository's files — tracked and not ignored, as git lists them,
// without .git — into a temporary folder and returns it.
func copyRepo(t *testing.T) string {
	t.Helper()
	src := repoRoot(t)
	cmd := exec.CommandContext(t.Context(), "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = src
	out, err := cmd.Output()
	require.NoError(t, err, "git ls-files")
	dst := t.TempDir()
	for _, rel := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		from := filepath.Join(src, rel)
		st, err := os.Lstat(from)
		if err != nil || !st.Mode().IsRegular() {
			continue // listed but deleted in the work tree, or not a plain file
		}
		to := filepath.Join(dst, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(to), 0o750))
		copyFile(t, from, to, st.Mode().Perm())
	}
	return dst
}

func copyFile(t *testing.T, from, to string, perm os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	require.NoError(t, err)
	defer func() { _ = in.Close() }()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
}

// overlayOf writes a go command overlay (go help build, -overlay) replacing, in the
// repository, every file of the copy that is new or changed there by the copy's
// version, and returns its path. Building the repository with it builds the copy's
// tree, with the build cache of the repository's own builds: only what the
// generation changed compiles again.
func overlayOf(t *testing.T, repo, copyRoot string) string {
	t.Helper()
	replace := map[string]string{}
	require.NoError(t, filepath.WalkDir(copyRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") {
			return err
		}
		rel, err := filepath.Rel(copyRoot, p)
		if err != nil {
			return err
		}
		mine, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if theirs, err := os.ReadFile(filepath.Join(repo, rel)); err != nil || !bytes.Equal(mine, theirs) {
			replace[filepath.Join(repo, rel)] = p
		}
		return nil
	}))
	raw, err := json.Marshal(map[string]any{"Replace": replace})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "overlay.json")
	require.NoError(t, os.WriteFile(path, raw, 0o600))
	return path
}

// goIn runs the go command in dir and returns its combined output.
func goIn(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", args...)
	cmd.Dir = dir
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	start := time.Now()
	err := cmd.Run()
	t.Logf("go %s: %s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	return buf.String(), err
}

// The proof of `passerelle connector new`: generated into a copy of the repository,
// a source, a sink and a both connector are registered, the whole module builds, the
// new packages pass vet, golangci-lint and their tests as generated (what make test
// runs on them, right after generation); and once scaffolded is turned off, the
// acceptance suite fails, saying what is left to do. The build of the whole module
// runs in the repository with an overlay of the copy's changed files, so that it
// reuses the repository's build cache and the test stays well under a minute.
func TestConnectorNewGeneratesRegisteredPackagesThatBuildAndPass(t *testing.T) {
	root := copyRepo(t)
	for name, kind := range map[string]string{"alpha": "source", "beta": "sink", "gamma": "both"} {
		res := runCLI(t, nil, "connector", "new", name, "--kind", kind, "--dir", root)
		require.NoError(t, res.err, res.stdout+res.stderr)
		assert.Contains(t, res.stdout, "connectors/"+name+"/mapper.go")
	}
	registry, err := os.ReadFile(filepath.Join(root, "connectors", "builtin", "builtin.go"))
	require.NoError(t, err)
	for _, name := range []string{"alpha", "beta", "gamma"} {
		assert.Contains(t, string(registry), `"passerelle/connectors/`+name+`"`)
		assert.Contains(t, string(registry), "\t\t"+name+".Spec,")
	}
	assert.FileExists(t, filepath.Join(root, "connectors", "alpha", "source.go"))
	assert.NoFileExists(t, filepath.Join(root, "connectors", "alpha", "sink.go"))
	assert.FileExists(t, filepath.Join(root, "connectors", "beta", "sink.go"))
	assert.NoFileExists(t, filepath.Join(root, "connectors", "beta", "source.go"))
	assert.FileExists(t, filepath.Join(root, "connectors", "gamma", "sim", "sim.go"))
	assert.FileExists(t, filepath.Join(root, "connectors", "gamma", "testdata", "records.json"))

	pkgs := []string{"./connectors/alpha/...", "./connectors/beta/...", "./connectors/gamma/...", "./connectors/builtin/..."}
	repo, overlay := repoRoot(t), overlayOf(t, repoRoot(t), root)
	out, err := goIn(t, repo, "build", "-overlay", overlay, "./...")
	require.NoError(t, err, "go build ./... of the copy after generation:\n%s", out)
	out, err = goIn(t, repo, "run", "-overlay", overlay, "./cmd/passerelle", "connectors")
	require.NoError(t, err, out)
	assert.Contains(t, out, "gamma")
	// vet and the tests work in the packages' folders: they run in the copy.
	out, err = goIn(t, root, append([]string{"vet"}, pkgs...)...)
	require.NoError(t, err, "go vet:\n%s", out)
	out, err = goIn(t, root, append([]string{"test", "-count=1"}, pkgs...)...)
	require.NoError(t, err, "the generated packages' tests, as generated:\n%s", out)
	out, err = goIn(t, root, append([]string{"tool", "golangci-lint", "run"}, pkgs...)...)
	require.NoError(t, err, "golangci-lint (make lint) on the generated packages:\n%s", out)

	t.Run("once scaffolded is off, the acceptance suite fails until the TODOs are filled, and says so", func(t *testing.T) {
		todo := filepath.Join(root, "connectors", "gamma", "todo.go")
		raw, err := os.ReadFile(todo)
		require.NoError(t, err)
		armed := strings.Replace(string(raw), "const scaffolded = true", "const scaffolded = false", 1)
		require.NotEqual(t, string(raw), armed)
		require.NoError(t, os.WriteFile(todo, []byte(armed), 0o600))
		out, err := goIn(t, root, "test", "-count=1", "./connectors/gamma/")
		require.Error(t, err, "the acceptance suite passed a connector whose TODOs are not filled:\n%s", out)
		assert.Contains(t, out, "TODO: generated code not written yet: mapper.go")
		assert.Contains(t, out, "FAIL: TestGammaSourcePassesTheAcceptanceSuite")
		assert.Contains(t, out, "FAIL: TestGammaSinkPassesTheAcceptanceSuite")
	})
}

func TestConnectorNewRefuses(t *testing.T) {
	root := t.TempDir()
	for name, args := range map[string][]string{
		"a name with capitals":      {"connector", "new", "Saphir", "--kind", "source", "--dir", root},
		"a name with a dash":        {"connector", "new", "sa-phir", "--kind", "source", "--dir", root},
		"a Go keyword":              {"connector", "new", "func", "--kind", "source", "--dir", root},
		"an unknown kind":           {"connector", "new", "saphir", "--kind", "both-ways", "--dir", root},
		"an unknown type":           {"connector", "new", "saphir", "--kind", "source", "--type", "mesure", "--dir", root},
		"a folder without repo":     {"connector", "new", "saphir", "--kind", "source", "--dir", root},
		"no name":                   {"connector", "new", "--kind", "source"},
		"a missing kind is refused": {"connector", "new", "saphir", "--dir", root},
	} {
		t.Run(name, func(t *testing.T) {
			res := runCLI(t, nil, args...)
			require.Error(t, res.err)
			assert.NotZero(t, res.code)
		})
	}
}

const builtinSample = `package builtin

import (
	"passerelle/connectors"
	"passerelle/connectors/genesis"
	"passerelle/connectors/jsonl"
	"passerelle/connectors/webhook"
)

// Specs lists the built-in connectors.
func Specs() []connectors.Spec {
	return []connectors.Spec{
		genesis.Spec,
		jsonl.Spec,
		webhook.Spec,
	}
}
`

func TestRegisteringAConnectorAddsItsImportAndSpecInOrder(t *testing.T) {
	out, err := registerConnector([]byte(builtinSample), "saphir")
	require.NoError(t, err)
	assert.Contains(t, string(out), "\t\"passerelle/connectors/jsonl\"\n\t\"passerelle/connectors/saphir\"\n\t\"passerelle/connectors/webhook\"\n")
	assert.Contains(t, string(out), "\t\tjsonl.Spec,\n\t\tsaphir.Spec,\n\t\twebhook.Spec,\n")

	_, err = registerConnector(out, "saphir")
	require.Error(t, err, "a connector registered twice")
}
