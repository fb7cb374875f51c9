package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	gensim "passerelle/connectors/genesis/sim"
	prismesim "passerelle/connectors/prisme/sim"
	"passerelle/internal/pgtest"
)

// BenchmarkGenesisToPrisme is flow 1 end to end with both simulators on this machine:
// a prison's week of 5,000 movements already in GENESIS, polled by the hub (SOAP over
// HTTP), ingested in PostgreSQL, relayed through Kafka (the embedded broker over TCP)
// and delivered to PRISME (REST, OAuth2). The clock runs from the hub's start to the
// moment every delivery is settled. It reports fiches/s (penal records PRISME
// acknowledged, the flow's unit) and movements/s; one iteration is the whole week:
// run it with -benchtime 1x (make bench-e2e).
func BenchmarkGenesisToPrisme(b *testing.B) {
	const movements = 5000
	var elapsed time.Duration
	var fiches, moved int
	for range b.N {
		b.StopTimer()
		gen := gensim.New(gensim.Options{Seed: 5})
		week := gensim.NewGenerator(gensim.GeneratorOptions{Seed: 5, Population: 300, EventsPerDay: 650})
		require.NoError(b, week.Populate(gen.State()))
		for gen.State().LastSequence() < movements {
			_, err := week.Next(gen.State())
			require.NoError(b, err)
		}
		genesisTS := serve(b, gen.Handler())
		secret := fmt.Sprint("bench-", time.Now().UnixNano())
		prisme := prismesim.New(prismesim.Options{Seed: 5, Clients: []prismesim.Client{
			{ID: "passerelle-demo", Secret: secret, Scopes: []string{prismesim.ScopeEcriture}},
		}})
		prismeTS := serve(b, prisme.Handler())
		yml := exampleConfig(b, map[string]map[string]any{
			"genesis": {"url": genesisTS.URL + "/genesis/ws/fichepenale"},
			"prisme":  {"url": prismeTS.URL, "events": map[string]any{"enabled": false}},
		}, "{backoffMin: 20ms, backoffMax: 300ms}")
		env := map[string]string{"DATABASE_URL": pgtest.NewDatabase(b), "PRISME_CLIENT_SECRET": secret}
		last := fmt.Sprint(gen.State().LastSequence())

		b.StartTimer()
		start := time.Now()
		h := startHub(b, yml, func(k string) string { return env[k] })
		waitFor(b, 10*time.Minute, "the week delivered", func() bool {
			pos, _, err := h.run.Store.Checkpoint(b.Context(), "genesis")
			if err != nil || pos != last {
				return false
			}
			bl, err := h.run.Store.Backlog(b.Context())
			return err == nil && bl.Unpublished == 0 && bl.Unsettled == 0
		})
		elapsed += time.Since(start)
		b.StopTimer()
		fiches += len(prisme.History(prismesim.FichePenale))
		moved += int(gen.State().LastSequence())
		h.stop()
	}
	b.ReportMetric(float64(fiches)/elapsed.Seconds(), "fiches/s")
	b.ReportMetric(float64(moved)/elapsed.Seconds(), "movements/s")
}
