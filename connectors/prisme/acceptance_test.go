package prisme_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"passerelle/connectors/connectortest"
	"passerelle/connectors/prisme"
	"passerelle/connectors/prisme/sim"
)

// acceptanceFeed is the fixture of the acceptance suite: generated transfers and
// reports with a fixed clock and seed, among them an event of a type the hub skips and
// two broken ones (quarantined at decode and at map).
func acceptanceFeed(t *testing.T) *feedEnv {
	t.Helper()
	e := startFeed(t, 21)
	e.generate(t, 9)
	e.raw(t, `{"id":"EVT-ACC-INCONNU","type":"AUDIENCE_FIXEE","emisLe":"2025-03-10T09:00:00Z","dossierId":"D-ACC"}`)
	e.generate(t, 4)
	e.raw(t, `{"id":"EVT-ACC-CASSE","type":"DESSAISISSEMENT","emisLe":"2025-03-10T09:00:00Z","dossierId":"D-ACC","dessaisissement":{"mesures":{}}}`)
	e.raw(t, transferJSON(t, "EVT-ACC-DATE", func(ev map[string]any) { at(ev, "dessaisissement")["date"] = "2025-13-01" }))
	e.generate(t, 3)
	return e
}

// acceptanceCanaries are the fixture's personal data: names, first names, birth
// dates, the directors who validated reports, the interview notes.
func acceptanceCanaries(t *testing.T) []string {
	t.Helper()
	out := []string{"KLEIN", "WEBER", "Léa", "1990-07-14", noteCanary}
	for _, ev := range acceptanceFeed(t).sim.Events() {
		var p *sim.Personne
		switch {
		case ev.Dessaisissement != nil:
			p = ev.Dessaisissement.Personne
			out = append(out, ev.Dessaisissement.NotesEntretien)
		case ev.Rapport != nil:
			p = ev.Rapport.Personne
			out = append(out, ev.Rapport.ValidePar)
		}
		if p != nil {
			out = append(out, p.Nom, p.DateNaissance)
			for _, f := range p.Prenoms {
				if len(f) > 3 { // "—" and short names would match unrelated text
					out = append(out, f)
				}
			}
		}
	}
	return out
}

func TestThePrismeSourcePassesTheAcceptanceSuite(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(secret, []byte(feedSecret+"\n"), 0o600))
	settings := func(url string) map[string]any {
		return map[string]any{"url": url, "clientId": feedID, "clientSecret": map[string]any{"file": secret},
			"timeout": "5s", "events": map[string]any{"enabled": true, "pageSize": 4}}
	}
	connectortest.RunSource(t, connectortest.SourceHarness{
		Spec: prisme.Spec,
		Start: func(t *testing.T) connectortest.System {
			e := acceptanceFeed(t)
			return connectortest.System{
				Settings: settings(e.ts.URL),
				Calls:    func() int64 { return e.sim.Stats().Requests },
				SetLatency: func(d time.Duration) {
					_ = e.sim.Faults().SetLatency(sim.EndpointEvenements, d)
					_ = e.sim.Faults().SetLatency(sim.EndpointToken, d)
				},
			}
		},
		BadSettings: []connectortest.BadSettings{
			{Name: "a missing url", Settings: map[string]any{"clientId": "x", "clientSecret": map[string]any{"file": secret}}, Path: "url"},
			{Name: "a page size above PRISME's 500", Settings: func() map[string]any {
				s := settings("http://prisme.example")
				s["events"] = map[string]any{"enabled": true, "pageSize": 501}
				return s
			}(), Path: "events.pageSize"},
			{Name: "a page size of 0", Settings: func() map[string]any {
				s := settings("http://prisme.example")
				s["events"] = map[string]any{"enabled": true, "pageSize": 0}
				return s
			}(), Path: "events.pageSize"},
			{Name: "an unknown events setting", Settings: func() map[string]any {
				s := settings("http://prisme.example")
				s["events"] = map[string]any{"enabled": true, "cursor": "x"}
				return s
			}()},
		},
		Canaries: acceptanceCanaries(t),
		Golden:   filepath.Join("testdata", "acceptance.golden.json"),
		Update:   updating(),
	})
}

// updating reports whether the test runs with -update (the flag is the internal test
// package's, mapper_test.go: one binary holds both, so it is looked up, not declared).
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// The golden file must show what the suite proves: both canonical types, both failure
// stages, and no trace of the notes.
func TestTheAcceptanceGoldenShowsBothTypesAndBothFailures(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "acceptance.golden.json"))
	require.NoError(t, err, "run the acceptance test with -update to create it")
	g := string(b)
	for _, want := range []string{`"fr.justice.case-transfer.v1"`, `"fr.justice.report.v1"`, `"nextAppointment"`,
		`"failed": "decode"`, `"failed": "map"`, `evenement/EVT-ACC-CASSE`, `evenement/EVT-ACC-DATE`} {
		require.Contains(t, g, want)
	}
	require.NotContains(t, g, "EVT-ACC-INCONNU", "a type the hub does not carry is skipped")
	require.NotContains(t, strings.ToLower(g), "entretien")
}
