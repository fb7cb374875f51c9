package genesis

import (
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"passerelle/connectors/connectortest"
	"passerelle/connectors/genesis/sim"
)

// acceptanceWeek is the fixture of the acceptance suite: a small generated week, one
// fiche in ten answering FicheInconnue although its movements are in the feed.
func acceptanceWeek(t *testing.T) *sim.Server {
	t.Helper()
	srv := sim.New(sim.Options{Seed: 21})
	_, err := sim.NewGenerator(sim.GeneratorOptions{Seed: 21, Population: 6, EventsPerDay: 3}).Week(srv.State())
	require.NoError(t, err)
	require.NoError(t, srv.Faults().UnknownFicheFraction(0.1))
	return srv
}

// canaries are the personal data of the fixture: every name, first name, birth date
// and birth place.
func canaries(srv *sim.Server) []string {
	var out []string
	for _, f := range srv.State().Fiches() {
		id := f.Identite
		out = append(out, id.Nom, id.DateNaissance)
		out = append(out, strings.Fields(id.Prenoms)...)
		if id.NomUsage != "" {
			out = append(out, id.NomUsage)
		}
		if id.LieuNaissance != "" {
			out = append(out, id.LieuNaissance)
		}
	}
	return out
}

func TestTheGenesisSourcePassesTheAcceptanceSuite(t *testing.T) {
	connectortest.RunSource(t, connectortest.SourceHarness{
		Spec: Spec,
		Start: func(t *testing.T) connectortest.System {
			srv := acceptanceWeek(t)
			ts := httptest.NewServer(srv.Handler())
			t.Cleanup(ts.Close)
			return connectortest.System{
				Settings: map[string]any{
					"url": ts.URL + sim.DefaultPath, "pageSize": 7, "timeout": "5s",
					"retryWaitMin": "1ms", "retryWaitMax": "5ms",
				},
				Calls: func() int64 {
					c := srv.Counters()
					return c.ListerMouvements + c.ConsulterFichePenale + c.WSDL + c.Other
				},
				SetLatency: func(d time.Duration) { _ = srv.Faults().SetLatency(d, 0) },
			}
		},
		BadSettings: []connectortest.BadSettings{
			{Name: "a missing url", Settings: map[string]any{}, Path: "url"},
			{Name: "a url that is not http", Settings: map[string]any{"url": "genesis:8081"}, Path: "url"},
			{Name: "a page size above GENESIS's 1000", Settings: map[string]any{"url": "http://genesis/ws", "pageSize": 5000}, Path: "pageSize"},
			{Name: "more concurrent fiche reads than GENESIS should bear", Settings: map[string]any{"url": "http://genesis/ws", "concurrency": 64}, Path: "concurrency"},
			{Name: "retries without bound", Settings: map[string]any{"url": "http://genesis/ws", "maxRetries": 1000}, Path: "maxRetries"},
			{Name: "an unknown setting", Settings: map[string]any{"url": "http://genesis/ws", "endpoint": "x"}},
		},
		Canaries: canaries(acceptanceWeek(t)),
		Golden:   filepath.Join("testdata", "acceptance.golden.json"),
		Update:   *update,
	})
}
