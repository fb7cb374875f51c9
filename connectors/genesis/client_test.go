package genesis

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/connectors"
	"passerelle/connectors/genesis/sim"
)

func TestAFicheComesBackWithEveryWSDLField(t *testing.T) {
	srv, ts := startSim(t)
	want, _ := richFiche(t, srv, true)
	c := newClient(t, ts.URL, nil)

	got, err := c.ConsulterFichePenale(t.Context(), want.NumeroEcrou, want.CodeEtablissement)
	require.NoError(t, err)
	require.NotEmpty(t, got.Raw)
	assert.Equal(t, expectedFiche(want, got.Raw), got)
	assert.Contains(t, string(got.Raw), "<fichePenale>", "Raw is the response as received")
}

func TestAbsentOptionalElementsAreTellableFromZeroValues(t *testing.T) {
	srv := sim.New(sim.Options{})
	f := sim.FichePenale{
		NumeroEcrou: "100200", CodeEtablissement: "FR0690", LibelleEtablissement: "CP LYON-CORBAS",
		Identite:  sim.Identite{Nom: "DUPONT", Prenoms: "Jean Pierre", Sexe: "M", DateNaissance: "1980-02-29"},
		DateEcrou: "2024-03-04", Statut: sim.Condamne,
		Condamnations: []sim.Condamnation{{
			ReferenceDecision: "TJLYON-2024-000001", Juridiction: "TJ LYON", DateDecision: "2024-01-15", NatureDecision: "JUGEMENT",
			Infractions: []sim.Infraction{{CodeNatinf: "7875", Libelle: "VOL SIMPLE"}},
			Peines: []sim.Peine{
				{Nature: sim.Emprisonnement, Quantum: sim.Quantum{Mois: 18}, PartieSursis: &sim.Quantum{}},
				{Nature: sim.Emprisonnement, Quantum: sim.Quantum{}},
			},
		}},
		Reductions: []sim.Reduction{{Type: sim.ReductionRetrait, Jours: 0, DateDecision: "2024-03-01"}},
	}
	_, err := srv.State().PutFiche(f)
	require.NoError(t, err)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)

	got, err := newClient(t, ts.URL, nil).ConsulterFichePenale(t.Context(), "100200", "FR0690")
	require.NoError(t, err)
	assert.Empty(t, got.Identite.NomUsage)
	assert.True(t, got.DateLevee.IsZero(), "an absent dateLevee is the empty Date")
	assert.True(t, got.Condamnations[0].Infractions[0].DateFaits.IsZero())
	require.NotNil(t, got.Condamnations[0].Peines[0].PartieSursis, "a zero partieSursis that was sent is not nil")
	assert.Equal(t, Quantum{}, *got.Condamnations[0].Peines[0].PartieSursis)
	assert.Nil(t, got.Condamnations[0].Peines[1].PartieSursis, "an absent partieSursis is nil")
	assert.Equal(t, Quantum{Mois: 18}, got.Condamnations[0].Peines[0].Quantum, "18 months stay 18 months")
	assert.Equal(t, Date("1980-02-29"), got.Identite.DateNaissance)
	assert.Equal(t, []string{"Jean", "Pierre"}, got.Identite.ListePrenoms())
	assert.Equal(t, int64(1), got.Version)
}

func TestTheFirstPollSendsDepuisSequenceZero(t *testing.T) {
	// The simulator answers a soap:Client fault to a request without depuisSequence,
	// which is what the generated code alone would send for 0.
	srv, ts := startSim(t)
	ms, dernier, err := newClient(t, ts.URL, nil).ListerMouvements(t.Context(), 0, 10)
	require.NoError(t, err)
	require.Len(t, ms, 10)
	assert.Equal(t, int64(1), ms[0].Sequence)
	assert.Equal(t, ms[9].Sequence, dernier)
	assert.Zero(t, srv.Counters().ClientFaults)
}

func TestConnectionsAreKeptAlive(t *testing.T) {
	srv := sim.New(sim.Options{Seed: 3})
	_, err := sim.NewGenerator(sim.GeneratorOptions{Seed: 3}).Week(srv.State())
	require.NoError(t, err)
	var opened atomic.Int64
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			opened.Add(1)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	c := newClient(t, ts.URL, nil)

	depuis := int64(0)
	for range 10 {
		ms, dernier, err := c.ListerMouvements(t.Context(), depuis, 5)
		require.NoError(t, err)
		for _, m := range ms {
			_, err := c.ConsulterFichePenale(t.Context(), m.NumeroEcrou, m.CodeEtablissement)
			require.NoError(t, err)
		}
		depuis = dernier
	}
	assert.Equal(t, int64(1), opened.Load(), "sixty sequential calls share one connection")
}

func TestFicheInconnueIsAPermanentTypedError(t *testing.T) {
	srv, ts := startSim(t)
	c := newClient(t, ts.URL, nil)

	_, err := c.ConsulterFichePenale(t.Context(), "999999", "FR0690")
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrFicheInconnue)
	var fi *FicheInconnueError
	require.ErrorAs(t, err, &fi)
	assert.Equal(t, &FicheInconnueError{NumeroEcrou: "999999", CodeEtablissement: "FR0690"}, fi)
	assert.False(t, Transient(err))
	assert.True(t, connectors.IsPermanent(err))
	assert.Equal(t, int64(1), srv.Counters().ConsulterFichePenale, "a FicheInconnue fault is not retried")
}

func TestAnUnavailableBurstIsRetriedThenSucceeds(t *testing.T) {
	srv, ts := startSim(t)
	f := srv.State().Fiches()[0]
	require.NoError(t, srv.Faults().UnavailableNext(3, 0))
	c := newClient(t, ts.URL, func(o *Options) { o.MaxRetries = 3 })

	got, err := c.ConsulterFichePenale(t.Context(), f.NumeroEcrou, f.CodeEtablissement)
	require.NoError(t, err)
	assert.Equal(t, f.Version, got.Version)
	n := srv.Counters()
	assert.Equal(t, int64(3), n.Unavailable)
	assert.Equal(t, int64(4), n.ConsulterFichePenale)
}

func TestUnavailabilityBeyondTheRetriesIsTransient(t *testing.T) {
	srv, ts := startSim(t)
	require.NoError(t, srv.Faults().UnavailableFraction(1, 0))
	c := newClient(t, ts.URL, func(o *Options) { o.MaxRetries = 2 })

	_, dernier, err := c.ListerMouvements(t.Context(), 12, 100)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrServiceIndisponible)
	assert.True(t, Transient(err))
	assert.Equal(t, int64(12), dernier, "the position does not move on error")
	assert.Equal(t, int64(3), srv.Counters().ListerMouvements, "one attempt and two retries")
}

func TestARetryAfterLongerThanRetryWaitMaxIsLeftToTheCaller(t *testing.T) {
	srv, ts := startSim(t)
	require.NoError(t, srv.Faults().UnavailableNext(1, 30*time.Second))
	c := newClient(t, ts.URL, nil)

	_, _, err := c.ListerMouvements(t.Context(), 0, 10)
	require.Error(t, err)
	assert.True(t, Transient(err))
	d, ok := connectors.RetryAfter(err)
	require.True(t, ok)
	assert.Equal(t, 30*time.Second, d)
	assert.Equal(t, int64(1), srv.Counters().ListerMouvements, "the client does not wait 30 s itself")
}

func TestARetryAfterWithinRetryWaitMaxIsWaitedOutAndRetried(t *testing.T) {
	srv, ts := startSim(t)
	require.NoError(t, srv.Faults().UnavailableNext(1, time.Second))
	c := newClient(t, ts.URL, func(o *Options) { o.RetryWaitMax = 2 * time.Second })

	_, _, err := c.ListerMouvements(t.Context(), 0, 10)
	require.NoError(t, err)
	assert.Equal(t, int64(2), srv.Counters().ListerMouvements)
}

func TestLatencyBeyondTheClientTimeoutIsTransient(t *testing.T) {
	srv, ts := startSim(t)
	require.NoError(t, srv.Faults().SetLatency(10*time.Second, 0))
	c := newClient(t, ts.URL, func(o *Options) {
		o.Timeout = 50 * time.Millisecond
		o.MaxRetries = 1
	})

	_, _, err := c.ListerMouvements(t.Context(), 0, 10)
	require.Error(t, err)
	assert.True(t, Transient(err))
	assert.Equal(t, int64(2), srv.Counters().Delayed, "the timeout is retried like any transient failure")
}

func TestTheCallersContextBoundsTheRetries(t *testing.T) {
	srv, ts := startSim(t)
	require.NoError(t, srv.Faults().UnavailableFraction(1, 0))
	c := newClient(t, ts.URL, func(o *Options) {
		o.MaxRetries = 1000
		o.RetryWaitMin = 20 * time.Millisecond
		o.RetryWaitMax = 20 * time.Millisecond
	})
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
	defer cancel()

	_, _, err := c.ListerMouvements(ctx, 0, 10)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, err, ErrServiceIndisponible, "the last attempt's failure is kept")
	assert.True(t, Transient(err))
	assert.Less(t, srv.Counters().ListerMouvements, int64(1000))
}

func TestAResponseAboveTheLimitIsRefused(t *testing.T) {
	srv, ts := startSim(t)
	f, _ := richFiche(t, srv, false)
	srv.ResetCounters()
	c := newClient(t, ts.URL, func(o *Options) { o.MaxResponseBytes = 512 })

	_, err := c.ConsulterFichePenale(t.Context(), f.NumeroEcrou, f.CodeEtablissement)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrResponseTooLarge)
	assert.True(t, connectors.IsPermanent(err))
	assert.Equal(t, int64(1), srv.Counters().ConsulterFichePenale, "a response too large is not retried")
}

func TestNombreMaxOutsideItsRangeIsAPermanentClientFault(t *testing.T) {
	for _, max := range []int{0, -5, 1001, 1 << 40} {
		srv, ts := startSim(t)
		_, _, err := newClient(t, ts.URL, nil).ListerMouvements(t.Context(), 0, max)
		require.Error(t, err, "nombreMax %d", max)
		var fe *FaultError
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, "soap:Client", fe.Code)
		assert.False(t, fe.Transient)
		assert.True(t, connectors.IsPermanent(err))
		assert.NotContains(t, err.Error(), fe.String, "the faultstring stays out of the error text")
		assert.Equal(t, int64(1), srv.Counters().ListerMouvements, "a soap:Client fault is not retried")
	}
}

func TestAnUnreachableGenesisIsTransient(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	c := newClient(t, "http://"+addr, func(o *Options) { o.MaxRetries = 1 })

	_, _, err = c.ListerMouvements(t.Context(), 0, 10)
	require.Error(t, err)
	assert.True(t, Transient(err))
}

func TestResponsesAreClassifiedByFaultThenStatus(t *testing.T) {
	fault := func(code, detail string) []byte {
		return []byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>` +
			`<faultcode>` + code + `</faultcode><faultstring>Erreur pour DUPONT Jean</faultstring>` + detail +
			`</soap:Fault></soap:Body></soap:Envelope>`)
	}
	tests := []struct {
		name      string
		status    int
		body      []byte
		transient bool
		is        error
		retried   bool
	}{
		{"a soap:Server fault is transient and retried", 500, fault("soap:Server", ""), true, ErrFault, true},
		{"a soap:Server fault under any prefix is transient", 500, fault("env:Server.Database", ""), true, ErrFault, true},
		{"a soap:Client fault is permanent", 500, fault("soap:Client", ""), false, ErrFault, false},
		{"a VersionMismatch fault is permanent", 500, fault("soap:VersionMismatch", ""), false, ErrFault, false},
		{"a MustUnderstand fault is permanent", 500, fault("soap:MustUnderstand", ""), false, ErrFault, false},
		{"an unknown faultcode with HTTP 500 is transient", 500, fault("x:Whatever", ""), true, ErrFault, true},
		{"ServiceIndisponible with HTTP 500 is transient", 500, fault("soap:Server",
			`<detail><ServiceIndisponible xmlns="urn:justice:genesis:fichepenale:v1"><message>x</message></ServiceIndisponible></detail>`),
			true, ErrServiceIndisponible, true},
		{"FicheInconnue under a prefix is the typed error", 500, fault("soap:Client",
			`<detail><g:FicheInconnue xmlns:g="urn:justice:genesis:fichepenale:v1"><g:numeroEcrou>1</g:numeroEcrou><g:codeEtablissement>FR0690</g:codeEtablissement></g:FicheInconnue></detail>`),
			false, ErrFicheInconnue, false},
		{"a fault sent with HTTP 200 is classified the same", 200, fault("soap:Client",
			`<detail><FicheInconnue xmlns="urn:justice:genesis:fichepenale:v1"><numeroEcrou>1</numeroEcrou><codeEtablissement>FR0690</codeEtablissement></FicheInconnue></detail>`),
			false, ErrFicheInconnue, false},
		{"a 502 page from a proxy is transient", 502, []byte("<html>Bad Gateway</html>"), true, ErrHTTPStatus, true},
		{"a 503 without a SOAP body is transient", 503, nil, true, ErrServiceIndisponible, true},
		{"a 404 is permanent", 404, []byte("not found"), false, ErrHTTPStatus, false},
		{"a redirect is not followed and is permanent", 302, nil, false, ErrHTTPStatus, false},
		{"malformed XML with HTTP 200 is an invalid response", 200, []byte("<soap:Envelope"), false, ErrInvalidResponse, false},
		{"an envelope with attachments is refused without a panic", 200, []byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">` +
			`<attachments><Name>x</Name></attachments><soap:Body></soap:Body></soap:Envelope>`), false, ErrInvalidResponse, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, calls := fixedServer(t, tt.status, tt.body, map[string]string{"Location": "/elsewhere"})
			c := newClient(t, ts.URL, func(o *Options) { o.MaxRetries = 2 })
			_, err := c.ConsulterFichePenale(t.Context(), "1", "FR0690")
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.is)
			assert.Equal(t, tt.transient, Transient(err))
			assert.Equal(t, !tt.transient, connectors.IsPermanent(err))
			assert.NotContains(t, err.Error(), "DUPONT", "no faultstring or body in the error text")
			want := 1
			if tt.retried {
				want = 3
			}
			assert.Equal(t, want, *calls)
		})
	}
}

func TestAnImpossibleOptionalDateIsRefusedNotDropped(t *testing.T) {
	// gowsdl's XSDDate turns 2024-02-31 into the zero value, which would read as "no
	// dateLevee": a released person would stay in custody downstream.
	srv, _ := startSim(t)
	f, raw := richFiche(t, srv, false)
	bad := replaceOnce(t, raw, "<dateLiberationPrevisionnelle>"+f.DateLiberationPrevisionnelle,
		"<dateLiberationPrevisionnelle>2024-02-31")
	ts, _ := fixedServer(t, 200, bad, nil)

	_, err := newClient(t, ts.URL, nil).ConsulterFichePenale(t.Context(), f.NumeroEcrou, f.CodeEtablissement)
	require.Error(t, err)
	var ir *InvalidResponseError
	require.ErrorAs(t, err, &ir)
	assert.Equal(t, "dateLiberationPrevisionnelle is not a valid xs:date", ir.Reason)
	assert.Equal(t, bad, ir.Raw, "the raw response is kept for quarantine")
	assert.True(t, connectors.IsPermanent(err))
}

func TestInvalidFichesAreRefusedWithTheRuleTheyBreak(t *testing.T) {
	srv, _ := startSim(t)
	f, raw := richFiche(t, srv, false)
	version := "<version>" + itoa(f.Version) + "</version>"
	tests := []struct {
		name, old, new, reason string
	}{
		{"a missing version is not version 0", version, "", "version is missing"},
		{"a missing birth date is refused", "<dateNaissance>" + f.Identite.DateNaissance + "</dateNaissance>", "", "identite/dateNaissance is missing"},
		{"a birth date with a time is refused", "<dateNaissance>" + f.Identite.DateNaissance, "<dateNaissance>" + f.Identite.DateNaissance + "T10:00:00", "identite/dateNaissance is not a valid xs:date"},
		{"an unknown status is refused", "<statut>" + string(f.Statut), "<statut>EVADE", "statut is not a StatutDetenu"},
		{"a missing status is refused", "<statut>" + string(f.Statut) + "</statut>", "", "statut is missing"},
		{"an empty dateLevee is refused", "<dateEcrou>", "<dateLevee></dateLevee><dateEcrou>", "dateLevee is not a valid xs:date"},
		{"another fiche than the one asked for is refused", "<numeroEcrou>" + f.NumeroEcrou, "<numeroEcrou>0" + f.NumeroEcrou, "the fiche answered is not the fiche asked for"},
		{"a number that is not one is refused", version, "<version>DUPONT</version>", "a numeric element is not a number of its type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, _ := fixedServer(t, 200, replaceOnce(t, raw, tt.old, tt.new), nil)
			_, err := newClient(t, ts.URL, nil).ConsulterFichePenale(t.Context(), f.NumeroEcrou, f.CodeEtablissement)
			var ir *InvalidResponseError
			require.ErrorAs(t, err, &ir)
			assert.Equal(t, tt.reason, ir.Reason)
			assert.NotContains(t, err.Error(), "DUPONT")
		})
	}
}

func TestNamespacePrefixesDecodeLikeTheDefaultNamespace(t *testing.T) {
	// A Java stack writes <ns2:...> where the simulator writes a default namespace.
	srv, _ := startSim(t)
	f, raw := richFiche(t, srv, false)
	prefixed := strings.NewReplacer(
		`<ConsulterFichePenaleResponse xmlns="urn:justice:genesis:fichepenale:v1">`,
		`<ns2:ConsulterFichePenaleResponse xmlns:ns2="urn:justice:genesis:fichepenale:v1">`,
		`</ConsulterFichePenaleResponse>`, `</ns2:ConsulterFichePenaleResponse>`,
		`soap:`, `S:`, `xmlns:soap=`, `xmlns:S=`,
	).Replace(string(raw))
	prefixed = strings.NewReplacer(`<fichePenale>`, `<ns2:fichePenale>`, `</fichePenale>`, `</ns2:fichePenale>`,
		`<dateLevee>`, `<ns2:dateLevee>`, `</dateLevee>`, `</ns2:dateLevee>`,
		`<version>`, `<ns2:version>`, `</version>`, `</ns2:version>`).Replace(prefixed)
	require.NotEqual(t, string(raw), prefixed)

	got, err := DecodeFichePenale([]byte(prefixed))
	require.NoError(t, err)
	want, err := DecodeFichePenale(raw)
	require.NoError(t, err)
	got.Raw, want.Raw = nil, nil
	assert.Equal(t, want, got)
	assert.Equal(t, f.Version, got.Version)
}

func TestAnInvalidMovementDoesNotBlockThePage(t *testing.T) {
	srv, _ := startSim(t)
	_, raw := soapCall(t, srv.Handler(), "ListerMouvements", listerBody("0", "3"))
	first := srv.State().Mouvements()[0]
	bad := replaceOnce(t, raw, "<type>"+string(first.Type)+"</type>", "<type>EVASION</type>")
	ts, _ := fixedServer(t, 200, bad, nil)

	ms, dernier, err := newClient(t, ts.URL, nil).ListerMouvements(t.Context(), 0, 3)
	require.NoError(t, err)
	require.Len(t, ms, 3)
	require.Error(t, ms[0].Err)
	assert.ErrorIs(t, ms[0].Err, ErrInvalidResponse)
	assert.Contains(t, ms[0].Err.Error(), "type is not a TypeMouvement")
	assert.NoError(t, ms[1].Err)
	assert.NoError(t, ms[2].Err)
	assert.Equal(t, int64(3), dernier)
}

func TestAPageWithoutDernierSequenceIsInvalid(t *testing.T) {
	srv, _ := startSim(t)
	_, raw := soapCall(t, srv.Handler(), "ListerMouvements", listerBody("0", "3"))
	bad := replaceOnce(t, raw, "<dernierSequence>3</dernierSequence>", "")
	ts, _ := fixedServer(t, 200, bad, nil)

	_, dernier, err := newClient(t, ts.URL, nil).ListerMouvements(t.Context(), 0, 3)
	assert.ErrorIs(t, err, ErrInvalidResponse)
	assert.Contains(t, err.Error(), "dernierSequence is missing")
	assert.Zero(t, dernier, "the position stays where it was: a missing dernierSequence must not rewind the feed")
}

func TestNewRefusesUnusableOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"a URL is required", Options{}, "url: required"},
		{"the URL must be http or https", Options{URL: "ftp://genesis/ws"}, "url: must be an absolute http or https URL"},
		{"the URL must be absolute", Options{URL: "/genesis/ws"}, "url: must be an absolute http or https URL"},
		{"waits must be ordered", Options{URL: "http://g/ws", RetryWaitMin: time.Second, RetryWaitMax: time.Millisecond}, "retryWaitMin: must not exceed retryWaitMax"},
		{"the size limit must not be negative", Options{URL: "http://g/ws", MaxResponseBytes: -1}, "maxResponseBytes: must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			require.ErrorIs(t, err, ErrInvalidOptions)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestAnEmptyKeyIsRefusedWithoutACall(t *testing.T) {
	srv, ts := startSim(t)
	_, err := newClient(t, ts.URL, nil).ConsulterFichePenale(t.Context(), " ", "FR0690")
	assert.ErrorIs(t, err, ErrInvalidArgument)
	assert.True(t, connectors.IsPermanent(err))
	assert.Zero(t, srv.Counters().ConsulterFichePenale)
}

func TestALentHTTPClientsTransportIsUsed(t *testing.T) {
	_, ts := startSim(t)
	var used atomic.Int64
	base := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})}
	c := newClient(t, ts.URL, func(o *Options) { o.HTTPClient = base })
	_, _, err := c.ListerMouvements(t.Context(), 0, 1)
	require.NoError(t, err)
	assert.Equal(t, int64(1), used.Load())
}

// roundTripFunc adapts a function to http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
