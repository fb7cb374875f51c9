package genesis

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"passerelle/connectors/genesis/sim"
)

// simSeeds returns the simulator's own answers: pages of the feed (empty, short, full,
// with repeats), fiches of every kind, and its faults.
func simSeeds(t testing.TB) (pages, fiches [][]byte) {
	t.Helper()
	srv := sim.New(sim.Options{Seed: 9})
	_, err := sim.NewGenerator(sim.GeneratorOptions{Seed: 9, Population: 15, EventsPerDay: 10}).Week(srv.State())
	require.NoError(t, err)
	h := srv.Handler()
	last := itoa(srv.State().LastSequence())
	for _, q := range [][2]string{{"0", "1"}, {"0", "7"}, {"20", "1000"}, {last, "10"}} {
		_, raw := soapCall(t, h, "ListerMouvements", listerBody(q[0], q[1]))
		pages = append(pages, raw)
	}
	require.NoError(t, srv.Faults().RepeatNext(2))
	for _, q := range [][2]string{{"5", "4"}, {"9", "3"}} {
		_, raw := soapCall(t, h, "ListerMouvements", listerBody(q[0], q[1]))
		pages = append(pages, raw)
	}
	_, clientFault := soapCall(t, h, "ListerMouvements", listerBody("0", "0"))
	pages = append(pages, clientFault)

	for i, f := range srv.State().Fiches() {
		if i%4 == 0 {
			_, raw := soapCall(t, h, "ConsulterFichePenale", consulterBody(f.NumeroEcrou, f.CodeEtablissement))
			fiches = append(fiches, raw)
		}
	}
	_, inconnue := soapCall(t, h, "ConsulterFichePenale", consulterBody("0", "FR0000"))
	fiches = append(fiches, inconnue)
	require.NoError(t, srv.Faults().UnavailableNext(1, 0))
	_, unavailable := soapCall(t, h, "ConsulterFichePenale", consulterBody("0", "FR0000"))
	fiches = append(fiches, unavailable, clientFault)

	// Shapes the simulator does not write but a SOAP stack may.
	prefixed := strings.NewReplacer("soap:", "S:", "xmlns:soap", "xmlns:S",
		`<ConsulterFichePenaleResponse xmlns="urn:justice:genesis:fichepenale:v1">`,
		`<ns2:ConsulterFichePenaleResponse xmlns:ns2="urn:justice:genesis:fichepenale:v1">`,
		"</ConsulterFichePenaleResponse>", "</ns2:ConsulterFichePenaleResponse>").Replace(string(fiches[0]))
	fiches = append(fiches, []byte(prefixed),
		[]byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><attachments><Name>a</Name></attachments><soap:Body/></soap:Envelope>`),
		[]byte(`<!DOCTYPE x [<!ENTITY e "x">]><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&e;</soap:Body></soap:Envelope>`),
		nil)
	pages = append(pages, bytes.ReplaceAll(pages[1], []byte("+01:00"), nil), nil)
	return pages, fiches
}

// payloadKey carries the bytes the in-memory transport answers.
type payloadKey struct{}

// payload is what the in-memory transport answers for one call.
type payload struct {
	status int
	body   []byte
}

// fuzzClient returns a Client whose transport answers, without a network, the
// payload in the request's context: the fuzzed bytes go through the very path a
// GENESIS response takes (size limit, retry policy, fault classification, soap's
// decoding, the checks).
func fuzzClient(t testing.TB) *Client {
	t.Helper()
	transport := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		_, _ = io.Copy(io.Discard, r.Body)
		p, _ := r.Context().Value(payloadKey{}).(payload)
		return &http.Response{
			StatusCode:    p.status,
			Header:        http.Header{"Content-Type": {"text/xml; charset=utf-8"}},
			Body:          io.NopCloser(bytes.NewReader(p.body)),
			ContentLength: int64(len(p.body)),
			Request:       r,
		}, nil
	})
	c, err := New(Options{URL: "http://genesis.invalid" + sim.DefaultPath, HTTPClient: &http.Client{Transport: transport},
		MaxRetries: -1, Timeout: 5 * time.Second})
	require.NoError(t, err)
	return c
}

// statusOf picks the HTTP status a fuzzed response comes with.
func statusOf(fault bool) int {
	if fault {
		return http.StatusInternalServerError
	}
	return http.StatusOK
}

func FuzzDecodeListerMouvementsResponse(f *testing.F) {
	pages, _ := simSeeds(f)
	for i, p := range pages {
		f.Add(p, int64(i*3), i%3 == 2)
	}
	c := fuzzClient(f)
	f.Fuzz(func(t *testing.T, raw []byte, depuis int64, fault bool) {
		ms, dernier, err := DecodeMouvements(raw, depuis)
		if err != nil {
			require.Nil(t, ms)
			require.Equal(t, depuis, dernier)
		} else {
			require.GreaterOrEqual(t, dernier, depuis)
			for _, m := range ms {
				if m.Err != nil {
					continue
				}
				require.True(t, validType(m.Type))
				require.Positive(t, m.Sequence)
				require.LessOrEqual(t, m.Sequence, dernier)
				require.False(t, m.Horodatage.IsZero())
				require.NotEmpty(t, m.NumeroEcrou)
			}
		}

		ctx := context.WithValue(t.Context(), payloadKey{}, payload{status: statusOf(fault), body: raw})
		cms, cdernier, cerr := c.ListerMouvements(ctx, depuis, 100)
		if cerr != nil {
			require.Nil(t, cms)
			require.Equal(t, depuis, cdernier)
			return
		}
		require.False(t, fault, "a 500 is never a page")
		require.NoError(t, err, "the client and DecodeMouvements agree")
		require.Equal(t, ms, cms)
		require.Equal(t, dernier, cdernier)
	})
}

func FuzzDecodeConsulterFichePenaleResponse(f *testing.F) {
	_, fiches := simSeeds(f)
	for i, p := range fiches {
		f.Add(p, i%5 == 4)
	}
	c := fuzzClient(f)
	f.Fuzz(func(t *testing.T, raw []byte, fault bool) {
		numero, code := "1", "FR0690"
		fp, err := DecodeFichePenale(raw)
		if err == nil {
			require.NotEmpty(t, fp.NumeroEcrou)
			require.NotEmpty(t, fp.CodeEtablissement)
			require.GreaterOrEqual(t, fp.Version, int64(0))
			require.Contains(t, []StatutDetenu{StatutPrevenu, StatutCondamne, StatutMixte}, fp.Statut)
			for _, d := range []Date{fp.DateEcrou, fp.Identite.DateNaissance} {
				_, derr := parseDate(string(d))
				require.NoError(t, derr, "a required date is a real date")
			}
			for _, d := range []Date{fp.DateLevee, fp.FinPeriodeSurete, fp.DateLiberationPrevisionnelle} {
				if !d.IsZero() {
					_, derr := parseDate(string(d))
					require.NoError(t, derr)
				}
			}
			for _, cd := range fp.Condamnations {
				require.NotEmpty(t, cd.Infractions)
				require.NotEmpty(t, cd.Peines)
			}
			require.Equal(t, raw, fp.Raw)
			numero, code = fp.NumeroEcrou, fp.CodeEtablissement
		}
		if strings.TrimSpace(numero) == "" || strings.TrimSpace(code) == "" {
			return
		}

		ctx := context.WithValue(t.Context(), payloadKey{}, payload{status: statusOf(fault), body: raw})
		cfp, cerr := c.ConsulterFichePenale(ctx, numero, code)
		if cerr != nil {
			require.Nil(t, cfp)
			return
		}
		require.False(t, fault, "a 500 is never a fiche")
		require.NoError(t, err, "the client and DecodeFichePenale agree")
		require.Equal(t, fp, cfp)
	})
}
