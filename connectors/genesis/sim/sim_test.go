package sim_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/connectors/genesis"
	"passerelle/connectors/genesis/sim"
)

// serve starts srv over real HTTP and returns a client of it with fast retries.
func serve(t *testing.T, srv *sim.Server) (*genesis.Client, *httptest.Server) {
	t.Helper()
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	c, err := genesis.New(genesis.Options{URL: ts.URL + sim.DefaultPath,
		RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c, ts
}

// week returns a simulator holding a generated week.
func week(t *testing.T, seed uint64) *sim.Server {
	t.Helper()
	srv := sim.New(sim.Options{Seed: seed})
	_, err := sim.NewGenerator(sim.GeneratorOptions{Seed: seed}).Week(srv.State())
	require.NoError(t, err)
	return srv
}

func TestPaginationFromDepuisSequenceDeliversEveryMovementDespiteRepeats(t *testing.T) {
	srv := week(t, 11)
	require.NoError(t, srv.Faults().RepeatFraction(0.5))
	c, _ := serve(t, srv)
	feed := srv.State().Mouvements()
	require.Greater(t, len(feed), 200)

	seen := map[int64]genesis.Mouvement{}
	repeats := 0
	depuis := int64(0)
	for pages := 0; ; pages++ {
		require.Less(t, pages, 1000, "the feed must end")
		ms, dernier, err := c.ListerMouvements(t.Context(), depuis, 37)
		require.NoError(t, err)
		require.LessOrEqual(t, len(ms), 37, "a page holds at most nombreMax movements")
		if len(ms) == 0 {
			assert.Equal(t, depuis, dernier, "an empty page answers dernierSequence = depuisSequence")
			break
		}
		assert.Equal(t, ms[len(ms)-1].Sequence, dernier)
		for i, m := range ms {
			require.NoError(t, m.Err)
			if i > 0 {
				assert.LessOrEqual(t, ms[i-1].Sequence, m.Sequence, "sequences never go down within a page")
			}
			if first, ok := seen[m.Sequence]; ok {
				repeats++
				assert.Equal(t, first, m, "a repeated sequence is the same movement")
				continue
			}
			assert.Greater(t, m.Sequence, depuis, "a new movement comes after depuisSequence")
			seen[m.Sequence] = m
		}
		depuis = dernier
	}
	assert.Len(t, seen, len(feed), "every movement is delivered")
	for _, m := range feed {
		got, ok := seen[m.Sequence]
		require.True(t, ok, "sequence %d delivered", m.Sequence)
		assert.Equal(t, string(m.Type), string(got.Type))
		assert.True(t, m.Horodatage.Equal(got.Horodatage))
		assert.Equal(t, m.NumeroEcrou, got.NumeroEcrou)
	}
	assert.Positive(t, repeats)
	assert.Equal(t, int64(repeats), srv.Counters().Repeats)

	// A page started in the middle of the feed starts right after depuisSequence.
	ms, _, err := c.ListerMouvements(t.Context(), feed[99].Sequence, 3)
	require.NoError(t, err)
	require.NotEmpty(t, ms)
	assert.GreaterOrEqual(t, ms[0].Sequence, feed[99].Sequence)
}

func TestTheGeneratedWeekIsConsistent(t *testing.T) {
	srv := sim.New(sim.Options{})
	c, _ := serve(t, srv)
	g := sim.NewGenerator(sim.GeneratorOptions{Seed: 5})
	require.NoError(t, g.Populate(srv.State()))
	end := g.Now().AddDate(0, 0, 7)

	versions := map[string]int64{}
	key := func(numero, code string) string { return numero + "@" + code }
	kinds := map[sim.TypeMouvement]int{}
	var pendingArrival *genesis.Mouvement
	for g.Now().Before(end) {
		ms, err := g.Next(srv.State())
		require.NoError(t, err)
		for _, raw := range ms {
			kinds[raw.Type]++
			page, _, err := c.ListerMouvements(t.Context(), raw.Sequence-1, 1)
			require.NoError(t, err)
			require.Len(t, page, 1)
			m := page[0]
			require.NoError(t, m.Err)

			if pendingArrival != nil {
				assert.Equal(t, genesis.MouvementEcrou, m.Type, "a TRANSFERT is followed by an ECROU")
				assert.Equal(t, pendingArrival.CodeEtablissementDestination, m.CodeEtablissement)
				assert.Equal(t, pendingArrival.NumeroEcrouDestination, m.NumeroEcrou)
				pendingArrival = nil
			}

			f, err := c.ConsulterFichePenale(t.Context(), m.NumeroEcrou, m.CodeEtablissement)
			require.NoError(t, err, "the fiche of movement %d is readable", m.Sequence)
			k := key(m.NumeroEcrou, m.CodeEtablissement)
			last, known := versions[k]
			assert.Greater(t, f.Version, last, "a change gives the fiche a higher version")
			versions[k] = f.Version
			day := genesis.Date(m.Horodatage.Format(time.DateOnly))

			switch m.Type {
			case genesis.MouvementEcrou:
				assert.False(t, known, "a committal gives a numéro d'écrou never used at the establishment")
				assert.Equal(t, int64(1), f.Version, "a committal creates the fiche")
				assert.Equal(t, day, f.DateEcrou)
				assert.True(t, f.DateLevee.IsZero())
			case genesis.MouvementTransfert:
				assert.NotEmpty(t, m.CodeEtablissementDestination)
				assert.NotEqual(t, m.CodeEtablissement, m.CodeEtablissementDestination, "a transfer goes elsewhere")
				assert.NotEmpty(t, m.NumeroEcrouDestination)
				_, reused := versions[key(m.NumeroEcrouDestination, m.CodeEtablissementDestination)]
				assert.False(t, reused, "the destination gives a new numéro d'écrou")
				assert.Equal(t, day, f.DateLevee, "the transfer closes the origin écrou")
				pendingArrival = &m
			case genesis.MouvementLeveeEcrou:
				assert.Equal(t, day, f.DateLevee, "a release sets dateLevee")
			case genesis.MouvementMajFichePenale:
				assert.True(t, f.DateLevee.IsZero(), "updates concern open écrous")
			}
			checkFiche(t, f)
		}
	}
	assert.Nil(t, pendingArrival)
	for _, typ := range []sim.TypeMouvement{sim.Ecrou, sim.MajFichePenale, sim.Transfert, sim.LeveeEcrou} {
		assert.Positive(t, kinds[typ], "the week has %s movements", typ)
	}
}

// checkFiche checks a fiche's internal consistency.
func checkFiche(t *testing.T, f *genesis.FichePenale) {
	t.Helper()
	assert.NotEmpty(t, f.Identite.Nom)
	assert.NotEmpty(t, f.Identite.ListePrenoms())
	assert.Less(t, string(f.Identite.DateNaissance), string(f.DateEcrou))
	assert.NotEmpty(t, f.LibelleEtablissement)
	if f.Statut == genesis.StatutPrevenu {
		assert.Empty(t, f.Condamnations, "a person on remand has no conviction")
	} else {
		assert.NotEmpty(t, f.Condamnations)
		assert.False(t, f.DateLiberationPrevisionnelle.IsZero())
	}
	for _, c := range f.Condamnations {
		assert.Regexp(t, `^[0-9]{5,11}$|^$`, c.NumeroParquet)
		for _, i := range c.Infractions {
			assert.Regexp(t, `^[0-9]{1,6}$`, i.CodeNatinf)
			assert.NotEmpty(t, i.Libelle)
		}
		for _, p := range c.Peines {
			if p.PartieSursis != nil {
				total := p.Quantum.Annees*12 + p.Quantum.Mois
				assert.Less(t, p.PartieSursis.Annees*12+p.PartieSursis.Mois, total, "the suspended part is part of the sentence")
			}
		}
	}
	for _, r := range f.Reductions {
		assert.Contains(t, []genesis.TypeReduction{genesis.ReductionRP, genesis.ReductionRPS, genesis.ReductionRetrait}, r.Type)
		assert.Positive(t, r.Jours)
	}
}

func TestTheSameSeedMakesTheSameWeek(t *testing.T) {
	a, b, other := week(t, 21), week(t, 21), week(t, 22)
	assert.Equal(t, a.State().Mouvements(), b.State().Mouvements())
	assert.Equal(t, a.State().Fiches(), b.State().Fiches())
	assert.NotEqual(t, a.State().Mouvements(), other.State().Mouvements())
}

func TestTwoReadsOfOneVersionAreIdentical(t *testing.T) {
	srv := week(t, 3)
	c, _ := serve(t, srv)
	f := srv.State().Fiches()[7]
	first, err := c.ConsulterFichePenale(t.Context(), f.NumeroEcrou, f.CodeEtablissement)
	require.NoError(t, err)
	second, err := c.ConsulterFichePenale(t.Context(), f.NumeroEcrou, f.CodeEtablissement)
	require.NoError(t, err)
	assert.Equal(t, first.Version, second.Version)
	assert.Equal(t, first.Raw, second.Raw)
}

func TestAVersionBumpWithoutAMovementIsServed(t *testing.T) {
	srv := week(t, 3)
	c, _ := serve(t, srv)
	f := srv.State().Fiches()[0]
	last := srv.State().LastSequence()
	require.NoError(t, srv.Faults().VersionBumpNext(1))

	bumped, err := c.ConsulterFichePenale(t.Context(), f.NumeroEcrou, f.CodeEtablissement)
	require.NoError(t, err)
	assert.Equal(t, f.Version+1, bumped.Version)
	again, err := c.ConsulterFichePenale(t.Context(), f.NumeroEcrou, f.CodeEtablissement)
	require.NoError(t, err)
	assert.Equal(t, bumped.Version, again.Version, "the fault bumps one read only")
	assert.Equal(t, last, srv.State().LastSequence(), "no movement announces the bump")
	assert.Equal(t, int64(1), srv.Counters().VersionBumps)
}

func TestAMovementsFicheCanBeUnknown(t *testing.T) {
	srv := week(t, 3)
	c, _ := serve(t, srv)
	m, err := srv.State().AddMovement(sim.Mouvement{NumeroEcrou: "4242", CodeEtablissement: "FR0690",
		Type: sim.MajFichePenale, Horodatage: time.Date(2024, 3, 12, 9, 0, 0, 0, time.UTC)})
	require.NoError(t, err)

	page, _, err := c.ListerMouvements(t.Context(), m.Sequence-1, 10)
	require.NoError(t, err)
	require.Len(t, page, 1)
	_, err = c.ConsulterFichePenale(t.Context(), page[0].NumeroEcrou, page[0].CodeEtablissement)
	assert.ErrorIs(t, err, genesis.ErrFicheInconnue)

	// The fraction fault: every fiche unknown, consistently; none when cleared.
	f := srv.State().Fiches()[0]
	require.NoError(t, srv.Faults().UnknownFicheFraction(1))
	for range 2 {
		_, err = c.ConsulterFichePenale(t.Context(), f.NumeroEcrou, f.CodeEtablissement)
		assert.ErrorIs(t, err, genesis.ErrFicheInconnue)
	}
	srv.Faults().Clear()
	_, err = c.ConsulterFichePenale(t.Context(), f.NumeroEcrou, f.CodeEtablissement)
	assert.NoError(t, err)

	// A removed fiche is unknown too.
	require.True(t, srv.State().RemoveFiche(f.NumeroEcrou, f.CodeEtablissement))
	_, err = c.ConsulterFichePenale(t.Context(), f.NumeroEcrou, f.CodeEtablissement)
	assert.ErrorIs(t, err, genesis.ErrFicheInconnue)
}

func TestAFractionOfFichesIsUnknownAndAlwaysTheSame(t *testing.T) {
	srv := week(t, 3)
	c, _ := serve(t, srv)
	require.NoError(t, srv.Faults().UnknownFicheFraction(0.3))
	fiches := srv.State().Fiches()
	unknown := func() map[string]bool {
		out := map[string]bool{}
		for _, f := range fiches {
			_, err := c.ConsulterFichePenale(t.Context(), f.NumeroEcrou, f.CodeEtablissement)
			out[f.NumeroEcrou+f.CodeEtablissement] = err != nil
		}
		return out
	}
	first := unknown()
	assert.Equal(t, first, unknown())
	n := 0
	for _, u := range first {
		if u {
			n++
		}
	}
	assert.Greater(t, n, len(fiches)/10)
	assert.Less(t, n, len(fiches)/2)
}

func TestTheWSDLIsServedWithThisServersAddress(t *testing.T) {
	srv := sim.New(sim.Options{})
	_, ts := serve(t, srv)
	for _, q := range []string{"?wsdl", "?WSDL"} {
		resp, err := http.Get(ts.URL + sim.DefaultPath + q)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, resp.Body.Close())
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Contains(t, resp.Header.Get("Content-Type"), "text/xml")
		assert.Contains(t, string(body), `<soap:address location="`+ts.URL+sim.DefaultPath+`"/>`)
		assert.Contains(t, string(body), `name="ConsulterFichePenale"`)
	}
	assert.Equal(t, int64(2), srv.Counters().WSDL)
}

func TestEmbeddedWSDLIsTheConnectorsCopy(t *testing.T) {
	connectors, err := os.ReadFile("../fiche-penale.wsdl")
	require.NoError(t, err)
	assert.True(t, bytes.Equal(connectors, sim.WSDL), "sim/fiche-penale.wsdl must equal connectors/genesis/fiche-penale.wsdl")
}

func TestRequestsAreReadStrictly(t *testing.T) {
	srv := week(t, 3)
	_, ts := serve(t, srv)
	envelope := func(body string) string {
		return `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` + body + `</soap:Body></soap:Envelope>`
	}
	lister := func(depuis, max string) string {
		return envelope(`<ListerMouvements xmlns="urn:justice:genesis:fichepenale:v1"><depuisSequence>` + depuis +
			`</depuisSequence><nombreMax>` + max + `</nombreMax></ListerMouvements>`)
	}
	const action = "urn:justice:genesis:fichepenale:v1#ListerMouvements"
	tests := []struct {
		name, method, contentType, action, body string
		status                                  int
		contains                                string
	}{
		{"a valid request is answered", "POST", "text/xml; charset=utf-8", `"` + action + `"`, lister("0", "2"), 200, "<dernierSequence>2</dernierSequence>"},
		{"an unquoted SOAPAction is accepted", "POST", "text/xml", action, lister("0", "1"), 200, "<dernierSequence>1</dernierSequence>"},
		{"nombreMax 0 is a soap:Client fault", "POST", "text/xml", action, lister("0", "0"), 500, "<faultcode>soap:Client</faultcode>"},
		{"nombreMax 1001 is a soap:Client fault", "POST", "text/xml", action, lister("0", "1001"), 500, "<faultcode>soap:Client</faultcode>"},
		{"a missing depuisSequence is a soap:Client fault", "POST", "text/xml", action,
			envelope(`<ListerMouvements xmlns="urn:justice:genesis:fichepenale:v1"><nombreMax>5</nombreMax></ListerMouvements>`), 500, "soap:Client"},
		{"unqualified children are not the WSDL's elements", "POST", "text/xml", action,
			envelope(`<g:ListerMouvements xmlns:g="urn:justice:genesis:fichepenale:v1"><depuisSequence>0</depuisSequence><nombreMax>5</nombreMax></g:ListerMouvements>`), 500, "soap:Client"},
		{"a depuisSequence that is not a number is a soap:Client fault", "POST", "text/xml", action, lister("x", "5"), 500, "soap:Client"},
		{"a missing SOAPAction is a soap:Client fault", "POST", "text/xml", "", lister("0", "5"), 500, "soap:Client"},
		{"a SOAPAction that does not match the body is a soap:Client fault", "POST", "text/xml",
			"urn:justice:genesis:fichepenale:v1#ConsulterFichePenale", lister("0", "5"), 500, "soap:Client"},
		{"malformed XML is a soap:Client fault", "POST", "text/xml", action, "<soap:Envelope", 500, "soap:Client"},
		{"an entity reference is not expanded", "POST", "text/xml", action,
			`<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>` + lister("&e;", "5"), 500, "soap:Client"},
		{"SOAP 1.2's media type is refused", "POST", "application/soap+xml", action, lister("0", "5"), 415, ""},
		{"a body above 1 MiB is refused", "POST", "text/xml", action, strings.Repeat(" ", sim.MaxRequestBytes+1), 413, ""},
		{"GET without ?wsdl is not found", "GET", "", "", "", 404, ""},
		{"PUT is not allowed", "PUT", "text/xml", action, lister("0", "5"), 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tt.method, ts.URL+sim.DefaultPath, strings.NewReader(tt.body))
			require.NoError(t, err)
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			if tt.action != "" {
				req.Header.Set("SOAPAction", tt.action)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, resp.Body.Close())
			require.NoError(t, err)
			assert.Equal(t, tt.status, resp.StatusCode)
			assert.Contains(t, string(body), tt.contains)
		})
	}

	resp, err := http.Get(ts.URL + "/elsewhere")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestA503CarriesAServiceIndisponibleFaultAndRetryAfter(t *testing.T) {
	srv := sim.New(sim.Options{})
	_, ts := serve(t, srv)
	require.NoError(t, srv.Faults().UnavailableNext(1, 1500*time.Millisecond))
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+sim.DefaultPath, strings.NewReader("<x/>"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "text/xml")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	require.NoError(t, err)

	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "2", resp.Header.Get("Retry-After"), "whole seconds, rounded up")
	assert.Contains(t, string(body), "<faultcode>soap:Server</faultcode>")
	assert.Contains(t, string(body), `<ServiceIndisponible xmlns="urn:justice:genesis:fichepenale:v1"><message>`)
	assert.Zero(t, srv.Faults().Get().UnavailableNext, "the counter is consumed")
}

func TestStateRefusesWhatGenesisWouldNot(t *testing.T) {
	s := sim.NewState()
	at := time.Date(2024, 3, 4, 10, 0, 0, 0, time.UTC)
	f := sim.FichePenale{NumeroEcrou: "1", CodeEtablissement: "FR0690", Statut: sim.Prevenu}
	_, err := s.Ecrou(f, at)
	require.NoError(t, err)
	_, err = s.Ecrou(f, at)
	assert.ErrorIs(t, err, sim.ErrFicheExists)

	_, err = s.Transfert("1", "FR0690", sim.Etablissement{Code: "FR0690"}, "2", at)
	assert.ErrorIs(t, err, sim.ErrInvalidFiche, "a transfer goes to another establishment")
	ms, err := s.Transfert("1", "FR0690", sim.Etablissement{Code: "FR0130", Libelle: "CP MARSEILLE"}, "77", at)
	require.NoError(t, err)
	require.Len(t, ms, 2)
	_, err = s.Transfert("1", "FR0690", sim.Etablissement{Code: "FR0130"}, "78", at)
	assert.ErrorIs(t, err, sim.ErrEcrouLeve)
	_, err = s.LeveeEcrou("1", "FR0690", at)
	assert.ErrorIs(t, err, sim.ErrEcrouLeve)
	_, err = s.MajFichePenale("nope", "FR0690", at, nil)
	assert.ErrorIs(t, err, sim.ErrFicheInconnue)

	_, err = s.AddMovement(sim.Mouvement{Sequence: 2, NumeroEcrou: "1", CodeEtablissement: "FR0690", Type: sim.Ecrou, Horodatage: at})
	assert.ErrorIs(t, err, sim.ErrInvalidMovement, "sequences increase")
	_, err = s.AddMovement(sim.Mouvement{NumeroEcrou: "1", CodeEtablissement: "FR0690", Type: "EVASION", Horodatage: at})
	assert.ErrorIs(t, err, sim.ErrInvalidMovement)
	m, err := s.AddMovement(sim.Mouvement{Sequence: 10, NumeroEcrou: "1", CodeEtablissement: "FR0690", Type: sim.MajFichePenale, Horodatage: at})
	require.NoError(t, err)
	assert.Equal(t, int64(10), m.Sequence, "gaps are allowed")

	dest, ok := s.Fiche("77", "FR0130")
	require.True(t, ok)
	assert.Equal(t, "CP MARSEILLE", dest.LibelleEtablissement)
	assert.Equal(t, int64(1), dest.Version)
	origin, _ := s.Fiche("1", "FR0690")
	assert.Equal(t, int64(2), origin.Version)
	assert.Equal(t, "2024-03-04", origin.DateLevee)

	// What State hands out is a copy.
	origin.Identite.Nom = "CHANGED"
	again, _ := s.Fiche("1", "FR0690")
	assert.NotEqual(t, "CHANGED", again.Identite.Nom)
}

func TestFaultsRefuseNonsense(t *testing.T) {
	p := sim.New(sim.Options{}).Faults()
	assert.ErrorIs(t, p.UnavailableNext(-1, 0), sim.ErrInvalidFault)
	assert.ErrorIs(t, p.UnavailableFraction(1.5, 0), sim.ErrInvalidFault)
	assert.ErrorIs(t, p.SetLatency(-time.Second, 0), sim.ErrInvalidFault)
	assert.ErrorIs(t, p.RepeatFraction(-0.1), sim.ErrInvalidFault)
	assert.ErrorIs(t, p.Set(sim.Fault{VersionBumpNext: -2}), sim.ErrInvalidFault)
	assert.Equal(t, sim.Fault{}, p.Get(), "a refused change leaves the faults as they were")
}
