package genesis

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"passerelle/connectors/genesis/sim"
)

// startSim serves a simulator holding a generated week over real HTTP.
func startSim(t testing.TB) (*sim.Server, *httptest.Server) {
	t.Helper()
	srv := sim.New(sim.Options{Seed: 7})
	_, err := sim.NewGenerator(sim.GeneratorOptions{Seed: 7}).Week(srv.State())
	require.NoError(t, err)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return srv, ts
}

// newClient returns a client of url (a server root: the service path is added) with
// fast retries, changed by mod.
func newClient(t testing.TB, root string, mod func(*Options)) *Client {
	t.Helper()
	opts := Options{
		URL:          root + sim.DefaultPath,
		RetryWaitMin: time.Millisecond,
		RetryWaitMax: 5 * time.Millisecond,
		Timeout:      5 * time.Second,
	}
	if mod != nil {
		mod(&opts)
	}
	c, err := New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// soapCall posts a raw SOAP request to h and returns the response body, without a
// network: the simulator's own output, for seeds and crafted responses.
func soapCall(t testing.TB, h http.Handler, action, body string) (int, []byte) {
	t.Helper()
	env := `<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` +
		body + `</soap:Body></soap:Envelope>`
	req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, sim.DefaultPath, strings.NewReader(env))
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"urn:justice:genesis:fichepenale:v1#`+action+`"`)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	out, err := io.ReadAll(rec.Result().Body)
	require.NoError(t, err)
	return rec.Code, out
}

// listerBody is a ListerMouvements request body.
func listerBody(depuis, max string) string {
	return `<ListerMouvements xmlns="urn:justice:genesis:fichepenale:v1"><depuisSequence>` + depuis +
		`</depuisSequence><nombreMax>` + max + `</nombreMax></ListerMouvements>`
}

// consulterBody is a ConsulterFichePenale request body.
func consulterBody(numero, code string) string {
	return `<ConsulterFichePenale xmlns="urn:justice:genesis:fichepenale:v1"><numeroEcrou>` + numero +
		`</numeroEcrou><codeEtablissement>` + code + `</codeEtablissement></ConsulterFichePenale>`
}

// richFiche returns a fiche of the simulator's week that has convictions with a
// suspended part, reductions and a projected release date, released (with dateLevee)
// or not, and its SOAP response.
func richFiche(t testing.TB, srv *sim.Server, released bool) (sim.FichePenale, []byte) {
	t.Helper()
	for _, f := range srv.State().Fiches() {
		if len(f.Reductions) == 0 || f.DateLiberationPrevisionnelle == "" || f.Identite.LieuNaissance == "" ||
			(f.DateLevee != "") != released {
			continue
		}
		for _, c := range f.Condamnations {
			for _, p := range c.Peines {
				if p.PartieSursis != nil {
					code, raw := soapCall(t, srv.Handler(), "ConsulterFichePenale", consulterBody(f.NumeroEcrou, f.CodeEtablissement))
					require.Equal(t, http.StatusOK, code)
					return f, raw
				}
			}
		}
	}
	t.Fatal("the generated week has no fiche with a suspended part and reductions")
	return sim.FichePenale{}, nil
}

// itoa formats n in base 10.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// fixedServer answers every request with status, Content-Type text/xml and body, and
// counts the requests.
func fixedServer(t testing.TB, status int, body []byte, header map[string]string) (*httptest.Server, *int) {
	t.Helper()
	calls := new(int)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*calls++
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(ts.Close)
	return ts, calls
}

// replaceOnce replaces the first old in raw by new, failing if old is absent.
func replaceOnce(t testing.TB, raw []byte, old, new string) []byte {
	t.Helper()
	require.True(t, bytes.Contains(raw, []byte(old)), "response has no %q", old)
	return bytes.Replace(raw, []byte(old), []byte(new), 1)
}

// expectedFiche is what the client must return for a simulator fiche: every field,
// optional ones absent where the simulator omits them.
func expectedFiche(f sim.FichePenale, raw []byte) *FichePenale {
	out := &FichePenale{
		NumeroEcrou:          f.NumeroEcrou,
		CodeEtablissement:    f.CodeEtablissement,
		LibelleEtablissement: f.LibelleEtablissement,
		Version:              f.Version,
		Identite: Identite{
			Nom: f.Identite.Nom, NomUsage: f.Identite.NomUsage, Prenoms: f.Identite.Prenoms,
			Sexe: Sexe(f.Identite.Sexe), DateNaissance: Date(f.Identite.DateNaissance),
			LieuNaissance: f.Identite.LieuNaissance, Nationalite: f.Identite.Nationalite,
		},
		DateEcrou:                    Date(f.DateEcrou),
		Statut:                       StatutDetenu(f.Statut),
		FinPeriodeSurete:             Date(f.FinPeriodeSurete),
		DateLiberationPrevisionnelle: Date(f.DateLiberationPrevisionnelle),
		DateLevee:                    Date(f.DateLevee),
		Raw:                          raw,
	}
	for _, c := range f.Condamnations {
		cc := Condamnation{ReferenceDecision: c.ReferenceDecision, Juridiction: c.Juridiction,
			DateDecision: Date(c.DateDecision), NatureDecision: c.NatureDecision, NumeroParquet: c.NumeroParquet,
			Infractions: []Infraction{}, Peines: []Peine{}}
		for _, i := range c.Infractions {
			cc.Infractions = append(cc.Infractions, Infraction{CodeNatinf: i.CodeNatinf, Libelle: i.Libelle, DateFaits: Date(i.DateFaits)})
		}
		for _, p := range c.Peines {
			pp := Peine{Nature: NaturePeine(p.Nature), Quantum: Quantum(p.Quantum),
				DateDebutExecution: Date(p.DateDebutExecution), DateFinPeine: Date(p.DateFinPeine)}
			if p.PartieSursis != nil {
				q := Quantum(*p.PartieSursis)
				pp.PartieSursis = &q
			}
			cc.Peines = append(cc.Peines, pp)
		}
		out.Condamnations = append(out.Condamnations, cc)
	}
	for _, r := range f.Reductions {
		out.Reductions = append(out.Reductions, Reduction{Type: TypeReduction(r.Type), Jours: r.Jours, DateDecision: Date(r.DateDecision)})
	}
	return out
}
