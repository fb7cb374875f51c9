package declarative

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"passerelle/config"
	"passerelle/connectors"
	"passerelle/schemas"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// examplePath is the worked example's configuration.
var examplePath = filepath.Join("..", "..", "config", "examples", "appi-csv.yaml")

// exampleSettings returns the settings of the appi-csv connector of the worked
// example, reading files from dir: the test runs the very configuration the guide
// documents.
func exampleSettings(t testing.TB, dir string) map[string]any {
	t.Helper()
	f, err := os.Open(examplePath)
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	cfg, err := config.ReadIn(f, func(k string) string {
		if k == "PRISME_CLIENT_SECRET" {
			return "test-secret"
		}
		return ""
	}, filepath.Dir(examplePath))
	require.NoError(t, err, "the worked example's configuration is valid")
	cc := cfg.Connectors["appi-csv"]
	require.Equal(t, "declarative", cc.Kind)
	settings := map[string]any{}
	for k, v := range cc.Settings {
		settings[k] = v
	}
	files := map[string]any{}
	for k, v := range settings["files"].(map[string]any) {
		files[k] = v
	}
	files["dir"] = dir
	settings["files"] = files
	return settings
}

// newSource builds the declarative source from settings, failing the test on problems.
func newSource(t testing.TB, settings map[string]any) *connectors.Instance {
	t.Helper()
	inst, ps := Spec.New(connectors.Env{Name: "appi-csv", Logger: zap.NewNop()}, settings, "connectors.appi-csv")
	require.Empty(t, ps)
	return inst
}

// mustRegistry loads the canonical schemas.
func mustRegistry(t testing.TB) *schemas.Registry {
	t.Helper()
	reg, err := schemas.Load()
	require.NoError(t, err)
	return reg
}
