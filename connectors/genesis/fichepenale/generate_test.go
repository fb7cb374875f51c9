package fichepenale

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// regenerateCommand is what a developer runs when this test fails.
const regenerateCommand = "make generate (or: go generate ./connectors/genesis/...)"

func TestGeneratedCodeIsCurrent(t *testing.T) {
	committed, err := os.ReadFile("fichepenale.go")
	require.NoError(t, err)

	dir := t.TempDir()
	// gowsdl writes <-d>/<-p>/<-o> and does not create the package directory.
	require.NoError(t, os.Mkdir(filepath.Join(dir, "fichepenale"), 0o755))
	wsdl, err := filepath.Abs(filepath.Join("..", "fiche-penale.wsdl"))
	require.NoError(t, err)

	// The same command as gen.go's //go:generate line, with another -d.
	cmd := exec.CommandContext(t.Context(), "go", "tool", "gowsdl",
		"-p", "fichepenale", "-o", "fichepenale.go", "-d", dir, wsdl)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go tool gowsdl failed:\n%s", out)

	fresh, err := os.ReadFile(filepath.Join(dir, "fichepenale", "fichepenale.go"))
	require.NoError(t, err)
	if !bytes.Equal(committed, fresh) {
		t.Fatalf("connectors/genesis/fichepenale/fichepenale.go is not what gowsdl generates "+
			"from connectors/genesis/fiche-penale.wsdl; run: %s", regenerateCommand)
	}
}

func TestGenerateLineMatchesTheCommandThisTestRuns(t *testing.T) {
	src, err := os.ReadFile("gen.go")
	require.NoError(t, err)
	require.Contains(t, string(src),
		"//go:generate go tool gowsdl -p fichepenale -o fichepenale.go -d .. ../fiche-penale.wsdl\n")
}
