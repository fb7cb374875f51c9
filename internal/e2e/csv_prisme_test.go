package e2e

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	declsim "passerelle/connectors/declarative/sim"
	prismesim "passerelle/connectors/prisme/sim"
	"passerelle/internal/pgtest"
	"passerelle/pipeline"
	"passerelle/pipeline/store"
)

// The worked example of docs/connectors.md, end to end: a legacy APPI CSV export of
// 10,000 rows in four Latin-1 files, 1 % of them malformed, dropped in the folder of
// config/examples/appi-csv.yaml (the declarative connector, no Go), reaches the PRISME
// simulator: every well-formed row's measure at its newest version, each malformed
// line in rejected/ with its reason and in quarantine, and reconcile finds nothing
// missing for the accepted set.
func TestTheLegacyAPPICSVExportReachesPrismeAndReconciles(t *testing.T) {
	dir := t.TempDir()
	ex := declsim.APPIExport(declsim.ExportOptions{Seed: 2026, Rows: 10_000, MalformedEvery: 100})
	require.Equal(t, 100, ex.Malformed)
	secret := fmt.Sprint("csv-", time.Now().UnixNano())
	prisme := prismesim.New(prismesim.Options{Seed: 5, Clients: []prismesim.Client{
		{ID: "passerelle", Secret: secret, Scopes: []string{prismesim.ScopeEcriture}},
	}})
	require.NoError(t, prisme.Faults().FailFraction(prismesim.EndpointMesures, 0.05, 503, 0))
	ts := serve(t, prisme.Handler())
	yml := exampleConfigFrom(t, "appi-csv.yaml", map[string]map[string]any{
		"appi-csv": {"files": map[string]any{"dir": dir, "pattern": "appi_mesures_*.csv", "format": "csv", "separator": ";",
			"encoding": "latin1", "columns": declsim.APPIColumns}},
		"prisme": {"url": ts.URL},
	}, "{backoffMin: 20ms, backoffMax: 300ms, timeout: 3s}")
	env := map[string]string{"DATABASE_URL": pgtest.NewDatabase(t), "PRISME_CLIENT_SECRET": secret}
	h := startHub(t, yml, func(k string) string { return env[k] })
	require.NoError(t, ex.Drop(dir))

	st := h.run.Store
	rc := &pipeline.Reconciler{Store: st, Source: "appi-csv", Destination: "prisme"}
	waitFor(t, 4*time.Minute, "every file done and every accepted measure delivered", func() bool {
		done, _ := filepath.Glob(filepath.Join(dir, "done", "*.csv"))
		if len(done) != len(ex.Files) {
			return false
		}
		res, err := rc.Run(t.Context())
		return err == nil && res.Clean() && res.OK > 0
	})

	accepted := map[string]int64{}
	require.NoError(t, st.AcceptedFacts(t.Context(), "appi-csv", func(f store.AcceptedFact) error {
		accepted[strings.TrimPrefix(f.Ref, "mesure/")] = f.Version
		return nil
	}))
	current := prisme.Current(prismesim.Mesure)
	assert.Len(t, current, len(accepted), "one measure in PRISME per measure of the accepted rows")
	for numero, v := range accepted {
		assert.Equal(t, v, current[prismesim.MesureKey(numero)].Version, "measure %s at its newest row", numero)
	}
	var rows int
	require.NoError(t, st.Pool().QueryRow(t.Context(), `SELECT count(*) FROM outbox WHERE connector = 'appi-csv'`).Scan(&rows))
	assert.Equal(t, ex.Accepted, rows, "every well-formed row was accepted, once")

	items, err := st.ListQuarantine(t.Context(), store.QuarantineFilter{Connector: "appi-csv", Limit: 1000})
	require.NoError(t, err)
	assert.Len(t, items, ex.Malformed, "each malformed line is in quarantine")
	reasons := 0
	files, _ := filepath.Glob(filepath.Join(dir, "rejected", "*.reasons"))
	for _, f := range files {
		fh, err := os.Open(f)
		require.NoError(t, err)
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) != "" {
				reasons++
			}
		}
		require.NoError(t, fh.Close())
	}
	assert.Equal(t, ex.Malformed, reasons, "rejected/ holds one reason per malformed line")
}
