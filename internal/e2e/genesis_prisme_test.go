package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"passerelle/connectors/genesis"
	gensim "passerelle/connectors/genesis/sim"
	prismesim "passerelle/connectors/prisme/sim"
	"passerelle/internal/pgtest"
	"passerelle/pipeline/store"
)

// exampleConfig is config/examples/demo.yaml reduced to the connectors named and the
// routes between them, pointed at the test's systems (settings replaces or adds each
// named connector's settings): the routes, legal bases and field policies under test
// are the example's own.
func exampleConfig(t testing.TB, settings map[string]map[string]any, delivery string) string {
	t.Helper()
	return exampleConfigFrom(t, "demo.yaml", settings, delivery)
}

// exampleConfigFrom is exampleConfig of another file of config/examples.
func exampleConfigFrom(t testing.TB, file string, settings map[string]map[string]any, delivery string) string {
	t.Helper()
	raw, err := os.ReadFile("../../config/examples/" + file)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	conns, _ := doc["connectors"].(map[string]any)
	for name := range conns {
		set, keep := settings[name]
		if !keep {
			delete(conns, name)
			continue
		}
		c, _ := conns[name].(map[string]any)
		for k, v := range set {
			c[k] = v
		}
	}
	delete(doc, "console")
	if pol, ok := doc["policies"].(string); ok && !filepath.IsAbs(pol) {
		abs, err := filepath.Abs(filepath.Join("../../config/examples", pol))
		require.NoError(t, err)
		doc["policies"] = abs // the file is read again from elsewhere
	}
	var routes []any
	for _, r := range doc["routes"].([]any) {
		route, _ := r.(map[string]any)
		if _, keep := conns[route["destination"].(string)]; keep {
			routes = append(routes, route)
		}
	}
	doc["routes"] = routes
	doc["http"] = map[string]any{"listen": "127.0.0.1:0"}
	doc["log"] = map[string]any{"format": "console", "level": "error"}
	doc["kafka"] = map[string]any{"partitions": 4, "sessionTimeout": "2s", "heartbeatInterval": "500ms"}
	var d map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(delivery), &d))
	doc["delivery"] = d
	out, err := yaml.Marshal(doc)
	require.NoError(t, err)
	return string(out)
}

// A prison's busy week — 5,000 movements with GENESIS's faults on (503 bursts,
// repeated movements, versions bumped behind the feed's back, fiches GENESIS does not
// know) — goes through the hub to PRISME, which answers 503 to a fifth of the writes
// and whose tokens are revoked under the hub's feet. At the end PRISME holds exactly
// the newest version of every fiche and one custody event per movement it has a type
// for; the hub never sent an older fiche after a newer one; the quarantine holds
// exactly the movements of the unknown fiches, each with its reason.
func TestAFaultyWeekFromGenesisReachesPrismeOnceAndNewestLast(t *testing.T) {
	const movements = 5000
	gen := gensim.New(gensim.Options{Seed: 23})
	week := gensim.NewGenerator(gensim.GeneratorOptions{Seed: 23, Population: 300, EventsPerDay: 650})
	require.NoError(t, week.Populate(gen.State()))
	for gen.State().LastSequence() < movements {
		_, err := week.Next(gen.State())
		require.NoError(t, err)
	}
	require.NoError(t, gen.Faults().Set(gensim.Fault{
		UnavailableFraction: 0.03, RepeatFraction: 0.3, VersionBumpFraction: 0.05, UnknownFicheFraction: 0.02,
	}))
	genesisTS := serve(t, gen.Handler())

	secret := "e2e-" + fmt.Sprint(time.Now().UnixNano())
	prisme := prismesim.New(prismesim.Options{Seed: 23, Clients: []prismesim.Client{
		{ID: "passerelle-demo", Secret: secret, Scopes: []string{prismesim.ScopeEcriture}},
	}})
	for _, ep := range []prismesim.Endpoint{prismesim.EndpointFichesPenales, prismesim.EndpointEvenementsDetention} {
		require.NoError(t, prisme.Faults().FailFraction(ep, 0.2, 503, 0))
	}
	prismeTS := serve(t, prisme.Handler())

	yml := exampleConfig(t, map[string]map[string]any{
		"genesis": {"url": genesisTS.URL + "/genesis/ws/fichepenale"},
		"prisme":  {"url": prismeTS.URL, "events": map[string]any{"enabled": false}},
	}, "{backoffMin: 20ms, backoffMax: 300ms, timeout: 3s}")
	env := map[string]string{"DATABASE_URL": pgtest.NewDatabase(t), "PRISME_CLIENT_SECRET": secret}
	h := startHub(t, yml, func(k string) string { return env[k] })

	// Tokens revoked while the week flows: the sink must take a new one and go on.
	revoked := 0
	ctx, stopRevoking := context.WithCancel(t.Context())
	revoking := make(chan struct{})
	go func() {
		defer close(revoking)
		tick := time.NewTicker(700 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				revoked += prisme.RevokeTokens()
			}
		}
	}()

	last := gen.State().LastSequence()
	st := h.run.Store
	waitFor(t, 4*time.Minute, "the whole feed ingested and every delivery settled", func() bool {
		pos, _, err := st.Checkpoint(t.Context(), "genesis")
		if err != nil || pos != fmt.Sprint(last) {
			return false
		}
		b, err := st.Backlog(t.Context())
		return err == nil && b.Unpublished == 0 && b.Unsettled == 0
	})
	stopRevoking()
	<-revoking
	require.Positive(t, revoked, "tokens were revoked during the flow")

	feed := gen.State().Mouvements()
	require.GreaterOrEqual(t, len(feed), movements)
	unknown := unknownFiches(t, gen, feed)
	require.NotEmpty(t, unknown, "some fiches are unknown to GENESIS")
	c := gen.Counters()
	require.Positive(t, c.Repeats, "GENESIS repeated movements")
	require.Positive(t, c.VersionBumps, "GENESIS bumped versions")

	t.Run("PRISME holds the newest version of every known fiche", func(t *testing.T) {
		current := prisme.Current(prismesim.FichePenale)
		want := 0
		for _, f := range gen.State().Fiches() {
			key := f.NumeroEcrou + "/" + f.CodeEtablissement
			if unknown[key] || !announced(feed, f.NumeroEcrou, f.CodeEtablissement) {
				assert.NotContains(t, current, prismesim.FicheKey(f.NumeroEcrou, f.CodeEtablissement))
				continue
			}
			want++
			item, ok := current[prismesim.FicheKey(f.NumeroEcrou, f.CodeEtablissement)]
			if assert.True(t, ok, "fiche %s reached PRISME", key) {
				assert.Equal(t, f.Version, item.Version, "fiche %s is at its newest version", key)
			}
		}
		assert.Len(t, current, want)
	})
	t.Run("PRISME holds one custody event per movement it has a type for", func(t *testing.T) {
		want := map[string]bool{}
		for _, m := range feed {
			if m.Type != gensim.MajFichePenale && !unknown[m.NumeroEcrou+"/"+m.CodeEtablissement] {
				want[prismesim.EvenementDetentionKey(m.Sequence)] = true
			}
		}
		got := map[string]bool{}
		for k := range prisme.Current(prismesim.EvenementDetention) {
			got[k] = true
		}
		assert.Equal(t, want, got)
		assert.Len(t, prisme.History(prismesim.EvenementDetention), len(want), "no custody event was stored twice")
	})
	t.Run("the hub never sent an older fiche after a newer one", func(t *testing.T) {
		sent := map[string]int64{}
		requests := 0
		for _, r := range prisme.Requests() {
			if r.Endpoint != prismesim.EndpointFichesPenales || r.Version == nil {
				continue
			}
			requests++
			require.GreaterOrEqual(t, *r.Version, sent[r.ItemKey], "request %d sent fiche %s at version %d after version %d",
				r.Seq, r.ItemKey, *r.Version, sent[r.ItemKey])
			sent[r.ItemKey] = *r.Version
		}
		require.Positive(t, requests)
	})
	t.Run("the quarantine holds exactly the movements of unknown fiches, with the reason", func(t *testing.T) {
		items, err := st.ListQuarantine(t.Context(), store.QuarantineFilter{Limit: 100000})
		require.NoError(t, err)
		want := map[string]bool{}
		for _, m := range feed {
			if unknown[m.NumeroEcrou+"/"+m.CodeEtablissement] {
				want[fmt.Sprintf("mouvement/%d", m.Sequence)] = true
			}
		}
		got := map[string]bool{}
		for _, q := range items {
			assert.Equal(t, "map", q.Stage)
			assert.Contains(t, q.Reason, "FicheInconnue")
			assert.NotEmpty(t, q.Raw, "the movement is kept, replayable")
			got[q.FactRef] = true
		}
		assert.Equal(t, want, got)
	})
	t.Run("the audit chain holds", func(t *testing.T) {
		v, err := st.VerifyAudit(t.Context())
		require.NoError(t, err)
		assert.Nil(t, v.Problem)
	})
}

// announced reports whether the feed announces the fiche.
func announced(feed []gensim.Mouvement, numero, code string) bool {
	for _, m := range feed {
		if m.NumeroEcrou == numero && m.CodeEtablissement == code {
			return true
		}
	}
	return false
}

// unknownFiches asks GENESIS, through the client with the other faults off, which
// fiches of the feed it answers FicheInconnue for.
func unknownFiches(t testing.TB, srv *gensim.Server, feed []gensim.Mouvement) map[string]bool {
	t.Helper()
	f := srv.Faults().Get()
	f.UnavailableNext, f.UnavailableFraction, f.VersionBumpFraction, f.VersionBumpNext = 0, 0, 0, 0
	require.NoError(t, srv.Faults().Set(f))
	ts := serve(t, srv.Handler())
	client, err := genesis.New(genesis.Options{URL: ts.URL + "/genesis/ws/fichepenale"})
	require.NoError(t, err)
	defer func() { _ = client.Close() }()
	seen, out := map[string]bool{}, map[string]bool{}
	for _, m := range feed {
		key := m.NumeroEcrou + "/" + m.CodeEtablissement
		if seen[key] {
			continue
		}
		seen[key] = true
		_, err := client.ConsulterFichePenale(t.Context(), m.NumeroEcrou, m.CodeEtablissement)
		if errors.Is(err, genesis.ErrFicheInconnue) {
			out[key] = true
		} else {
			require.NoError(t, err)
		}
	}
	return out
}
