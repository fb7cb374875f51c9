package genesis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"passerelle/canonical"
	"passerelle/connectors"
	"passerelle/connectors/genesis/sim"
)

// day is the start of the small scenarios.
var day = time.Date(2024, time.March, 4, 9, 0, 0, 0, time.FixedZone("CET", 3600))

// simFiche is a fiche of the small scenarios: a convicted person at code.
func simFiche(numero, code, nom string) sim.FichePenale {
	return sim.FichePenale{
		NumeroEcrou: numero, CodeEtablissement: code, LibelleEtablissement: "CP " + code,
		Identite: sim.Identite{Nom: nom, Prenoms: "Jean Paul", Sexe: "M", DateNaissance: "1990-01-31"},
		Statut:   sim.Condamne,
		Condamnations: []sim.Condamnation{{ReferenceDecision: "TJ-" + numero, Juridiction: "TJ LYON",
			DateDecision: "2024-01-10", NatureDecision: "JUGEMENT", NumeroParquet: "24000000" + numero[len(numero)-3:],
			Infractions: []sim.Infraction{{CodeNatinf: "7875", Libelle: "VOL SIMPLE"}},
			Peines:      []sim.Peine{{Nature: sim.Emprisonnement, Quantum: sim.Quantum{Mois: 18}}}}},
	}
}

// scenario is a simulator holding: ECROU A (1), MAJ A (2), ECROU B (3), TRANSFERT A
// to C (4) then ECROU C (5), LEVEE_ECROU B (6).
func scenario(t *testing.T) (*sim.Server, *httptest.Server) {
	t.Helper()
	srv := sim.New(sim.Options{Seed: 3})
	st := srv.State()
	_, err := st.Ecrou(simFiche("100", "FR0690", "ALPHA"), day)
	require.NoError(t, err)
	_, err = st.MajFichePenale("100", "FR0690", day.Add(time.Hour), func(f *sim.FichePenale) {
		f.Reductions = append(f.Reductions, sim.Reduction{Type: sim.ReductionRP, Jours: 14, DateDecision: "2024-03-04"})
	})
	require.NoError(t, err)
	_, err = st.Ecrou(simFiche("200", "FR0690", "BRAVO"), day.Add(2*time.Hour))
	require.NoError(t, err)
	_, err = st.Transfert("100", "FR0690", sim.Etablissement{Code: "FR0130", Libelle: "CP MARSEILLE"}, "300", day.Add(3*time.Hour))
	require.NoError(t, err)
	_, err = st.LeveeEcrou("200", "FR0690", day.Add(4*time.Hour))
	require.NoError(t, err)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return srv, ts
}

// newSource returns a source of the service at root with fast retries.
func newSource(t testing.TB, root string, pageSize int, log *zap.Logger) *Source {
	t.Helper()
	c := newClient(t, root, func(o *Options) { o.MaxRetries = 2 })
	return NewSource(c, SourceOptions{PageSize: pageSize, Logger: log, Now: func() time.Time { return readAt }})
}

// kinds lists "type ref version" of the facts, "failed stage ref" for failures.
func kinds(facts []connectors.Fact) []string {
	var out []string
	for _, f := range facts {
		if f.Err != nil {
			out = append(out, "failed "+f.Stage+" "+f.Fact.Ref)
			continue
		}
		for _, m := range f.Messages {
			out = append(out, m.Type[len("fr.justice."):]+" "+m.FactRef+" "+itoa(m.FactVersion))
		}
	}
	return out
}

func TestReadGivesEachMovementAsACustodyEventAndEachFicheOnceAsAPenalRecord(t *testing.T) {
	srv, ts := scenario(t)
	s := newSource(t, ts.URL, 100, nil)

	b, err := s.Read(t.Context(), "")
	require.NoError(t, err)
	a, _ := srv.State().Fiche("100", "FR0690")
	bravo, _ := srv.State().Fiche("200", "FR0690")
	c, _ := srv.State().Fiche("300", "FR0130")
	assert.Equal(t, []string{
		"penal-record.v1 fiche/100/FR0690 " + itoa(a.Version),
		"custody-event.v1 mouvement/1 1",
		"custody-event.v1 mouvement/2 2",
		"penal-record.v1 fiche/200/FR0690 " + itoa(bravo.Version),
		"custody-event.v1 mouvement/3 3",
		"custody-event.v1 mouvement/4 4",
		"penal-record.v1 fiche/300/FR0130 " + itoa(c.Version),
		"custody-event.v1 mouvement/5 5",
		"custody-event.v1 mouvement/6 6",
	}, kinds(b.Facts))
	assert.Equal(t, "6", b.Next, "the position is the last sequence processed")
	assert.Equal(t, int64(3), srv.Counters().ConsulterFichePenale, "each fiche is read once per Read")
	for _, f := range b.Facts {
		require.NoError(t, f.Err)
		requireCanonical(t, f.Messages...)
		assert.Equal(t, f.Messages[0].Fact(), *f.Fact, "the fact's identity is its message's")
	}

	t.Run("the penal record is the fiche's current state, read after the movements", func(t *testing.T) {
		var p canonical.PenalRecord
		require.NoError(t, b.Facts[0].Messages[0].DecodeData(&p))
		assert.Equal(t, canonical.Date("2024-03-04"), p.ReleaseDate, "the transfer closed the écrou at the origin")
		assert.Len(t, p.Reductions, 1)
		assert.Equal(t, ContentTypeFiche, b.Facts[0].ContentType)
		assert.Contains(t, string(b.Facts[0].Raw), "ConsulterFichePenaleResponse", "the raw is GENESIS's response")
	})
	t.Run("the TRANSFERT names the destination écrou of the same person", func(t *testing.T) {
		var e canonical.CustodyEvent
		require.NoError(t, b.Facts[5].Messages[0].DecodeData(&e))
		assert.Equal(t, canonical.CustodyEventTransfert, e.Kind)
		assert.Equal(t, "300", e.DestinationCommittalNumber)
		assert.Equal(t, "FR0130", e.DestinationEstablishmentCode)
		assert.Equal(t, "ALPHA", e.Person.LastName)
		assert.Equal(t, "100", e.Person.Identifiers.CommittalNumber)
		assert.Equal(t, ContentTypeMouvement, b.Facts[5].ContentType)
		assert.Contains(t, string(b.Facts[5].Raw), "<numeroEcrouDestination>300</numeroEcrouDestination>")
	})
	t.Run("at the end of the feed a Read is empty and keeps the position", func(t *testing.T) {
		again, err := s.Read(t.Context(), b.Next)
		require.NoError(t, err)
		assert.Empty(t, again.Facts)
		assert.Equal(t, "6", again.Next)
	})
	t.Run("a position beyond the feed is kept, never moved back", func(t *testing.T) {
		again, err := s.Read(t.Context(), "40")
		require.NoError(t, err)
		assert.Empty(t, again.Facts)
		assert.Equal(t, "40", again.Next)
	})
}

func TestEachReadReadsOnePageAndTheFichesItAnnounces(t *testing.T) {
	srv, ts := scenario(t)
	s := newSource(t, ts.URL, 2, nil)
	var all []string
	pos := ""
	for range 10 {
		b, err := s.Read(t.Context(), pos)
		require.NoError(t, err)
		if len(b.Facts) == 0 {
			break
		}
		all = append(all, kinds(b.Facts)...)
		pos = b.Next
	}
	a, _ := srv.State().Fiche("100", "FR0690")
	assert.Equal(t, "6", pos)
	assert.Equal(t, []string{
		"penal-record.v1 fiche/100/FR0690 " + itoa(a.Version), "custody-event.v1 mouvement/1 1", "custody-event.v1 mouvement/2 2",
		"penal-record.v1 fiche/200/FR0690 2", "custody-event.v1 mouvement/3 3",
		"penal-record.v1 fiche/100/FR0690 " + itoa(a.Version), "custody-event.v1 mouvement/4 4",
		"penal-record.v1 fiche/300/FR0130 1", "custody-event.v1 mouvement/5 5",
		"penal-record.v1 fiche/200/FR0690 2", "custody-event.v1 mouvement/6 6",
	}, all, "a later page reads its fiches again: the dedup makes an unchanged version a duplicate")
}

func TestRepeatedMovementsAreSkippedInThePageAndAcrossPages(t *testing.T) {
	srv, ts := scenario(t)
	require.NoError(t, srv.Faults().RepeatFraction(1))
	s := newSource(t, ts.URL, 3, nil)
	seen := map[string]int{}
	pos := ""
	for range 20 {
		b, err := s.Read(t.Context(), pos)
		require.NoError(t, err)
		if len(b.Facts) == 0 && b.Next == pos {
			break
		}
		for _, k := range kinds(b.Facts) {
			if strings.HasPrefix(k, "custody-event") {
				seen[k]++
			}
		}
		pos = b.Next
	}
	assert.Positive(t, srv.Counters().Repeats, "the simulator did repeat movements")
	assert.Len(t, seen, 6)
	for k, n := range seen {
		assert.Equal(t, 1, n, "%s given once", k)
	}
}

func TestAMovementOfAnUnknownFicheIsQuarantinedAndThePageGoesOn(t *testing.T) {
	srv, ts := scenario(t)
	_, err := srv.State().AddMovement(sim.Mouvement{NumeroEcrou: "999", CodeEtablissement: "FR0690",
		Type: sim.MajFichePenale, Horodatage: day.Add(5 * time.Hour)})
	require.NoError(t, err)
	_, err = srv.State().LeveeEcrou("300", "FR0130", day.Add(6*time.Hour))
	require.NoError(t, err)
	s := newSource(t, ts.URL, 100, nil)

	b, err := s.Read(t.Context(), "6")
	require.NoError(t, err)
	require.Len(t, b.Facts, 3, "the unknown fiche's movement, then the next movement's record and event")
	failed := b.Facts[0]
	require.Error(t, failed.Err)
	assert.ErrorIs(t, failed.Err, ErrFicheInconnue)
	assert.Equal(t, "map", failed.Stage)
	assert.Equal(t, &canonical.FactID{System: "GENESIS", Ref: "mouvement/7", Version: 7}, failed.Fact)
	assert.Equal(t, ContentTypeMouvement, failed.ContentType)
	mv, err := DecodeMouvement(failed.Raw)
	require.NoError(t, err, "the raw is the movement, for replay")
	assert.Equal(t, "999", mv.NumeroEcrou)
	assert.NotContains(t, failed.Err.Error(), "999", "the reason names the movement, not the person's écrou")
	assert.Equal(t, "genesis: movement 7: GENESIS does not know the fiche it announces (FicheInconnue)", failed.Err.Error())
	assert.Equal(t, []string{"penal-record.v1 fiche/300/FR0130 2", "custody-event.v1 mouvement/8 8"}, kinds(b.Facts[1:]))
	assert.Equal(t, "8", b.Next)
}

// tamper serves page for every ListerMouvements call and h for the rest.
func tamper(t *testing.T, h http.Handler, page []byte) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("SOAPAction"), "ListerMouvements") {
			w.Header().Set("Content-Type", "text/xml; charset=utf-8")
			_, _ = w.Write(page)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func TestAMovementThatBreaksTheWSDLIsQuarantinedAtDecode(t *testing.T) {
	srv, _ := scenario(t)
	_, raw := soapCall(t, srv.Handler(), "ListerMouvements", listerBody("0", "3"))
	bad := replaceOnce(t, raw, "<type>MAJ_FICHE_PENALE</type>", "<type>EVASION</type>")
	ts := tamper(t, srv.Handler(), bad)
	s := newSource(t, ts.URL, 3, nil)

	b, err := s.Read(t.Context(), "")
	require.NoError(t, err)
	assert.Equal(t, "3", b.Next)
	require.Len(t, kinds(b.Facts), 5, "A's record, movement 1, movement 2 failed, B's record, movement 3")
	failed := b.Facts[2]
	assert.ErrorIs(t, failed.Err, ErrInvalidResponse)
	assert.Equal(t, "decode", failed.Stage)
	assert.Equal(t, "mouvement/2", failed.Fact.Ref)
	assert.Contains(t, string(failed.Raw), "<type>EVASION</type>", "the raw keeps what GENESIS sent")
	assert.Equal(t, []string{"penal-record.v1 fiche/200/FR0690 2", "custody-event.v1 mouvement/3 3"}, kinds(b.Facts[3:]))

	t.Run("a broken copy does not hide a good copy of the same sequence", func(t *testing.T) {
		start := strings.Index(string(raw), "<mouvement><sequence>2</sequence>")
		end := start + strings.Index(string(raw[start:]), "</mouvement>") + len("</mouvement>")
		require.Positive(t, start)
		good := string(raw[start:end])
		broken := strings.Replace(good, "<type>MAJ_FICHE_PENALE</type>", "<type>EVASION</type>", 1)
		page := strings.Replace(string(raw), good, broken+good+broken, 1)
		ts := tamper(t, srv.Handler(), []byte(page))
		b, err := newSource(t, ts.URL, 3, nil).Read(t.Context(), "")
		require.NoError(t, err)
		assert.Equal(t, []string{"penal-record.v1 fiche/100/FR0690 3", "custody-event.v1 mouvement/1 1",
			"failed decode mouvement/2", "custody-event.v1 mouvement/2 2",
			"penal-record.v1 fiche/200/FR0690 2", "custody-event.v1 mouvement/3 3"}, kinds(b.Facts))
	})
}

func TestAFicheThatBreaksTheWSDLQuarantinesItsMovements(t *testing.T) {
	srv, _ := scenario(t)
	_, fiche := soapCall(t, srv.Handler(), "ConsulterFichePenale", consulterBody("100", "FR0690"))
	bad := replaceOnce(t, fiche, "<dateEcrou>2024-03-04</dateEcrou>", "<dateEcrou>2024-02-31</dateEcrou>")
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("SOAPAction"), "ConsulterFichePenale") {
			w.Header().Set("Content-Type", "text/xml; charset=utf-8")
			_, _ = w.Write(bad)
			return
		}
		srv.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	s := newSource(t, ts.URL, 2, nil)

	b, err := s.Read(t.Context(), "")
	require.NoError(t, err)
	require.Len(t, b.Facts, 2, "one fact per movement, nothing mapped from an invalid fiche")
	for i, f := range b.Facts {
		assert.ErrorIs(t, f.Err, ErrInvalidResponse)
		assert.Equal(t, "decode", f.Stage)
		assert.Equal(t, "genesis: movement "+itoa(int64(i+1))+": the fiche it announces breaks the WSDL: dateEcrou is not a valid xs:date", f.Err.Error())
	}
}

// failFiche serves h, except ConsulterFichePenale for the fiche of numeroEcrou
// numero, answered 503 while down is set.
func failFiche(t *testing.T, h http.Handler, numero string, down *atomic.Bool) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if strings.Contains(r.Header.Get("SOAPAction"), "ConsulterFichePenale") && down.Load() &&
			strings.Contains(string(body), "<numeroEcrou>"+numero+"</numeroEcrou>") {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func TestGenesisUnavailable(t *testing.T) {
	t.Run("before anything is processed, Read fails with a transient error and the position stays", func(t *testing.T) {
		srv, ts := scenario(t)
		require.NoError(t, srv.Faults().UnavailableNext(100, 0))
		b, err := newSource(t, ts.URL, 100, nil).Read(t.Context(), "2")
		require.Error(t, err)
		assert.True(t, Transient(err))
		assert.ErrorIs(t, err, ErrServiceIndisponible)
		assert.Empty(t, b.Facts)
	})
	t.Run("in the middle of a page, Read returns what it processed and resumes there", func(t *testing.T) {
		srv, _ := scenario(t)
		var down atomic.Bool
		down.Store(true)
		// Fiche C (écrou 300) fails while down: the fiches are read ahead in parallel,
		// so it is the fiche, not the order of the calls, that decides.
		ts := failFiche(t, srv.Handler(), "300", &down)
		core, logs := observer.New(zapcore.DebugLevel)
		s := newSource(t, ts.URL, 100, zap.New(core))

		b, err := s.Read(t.Context(), "")
		require.NoError(t, err)
		assert.Equal(t, "4", b.Next, "fiches A and B were read; C's read failed at movement 5")
		assert.Len(t, kinds(b.Facts), 6)
		assert.Equal(t, 1, logs.FilterMessage("fiche read failed: returning the movements processed so far").Len())

		_, err = s.Read(t.Context(), b.Next)
		require.Error(t, err, "the next Read meets the outage before any progress")
		assert.True(t, Transient(err))

		down.Store(false)
		rest, err := s.Read(t.Context(), b.Next)
		require.NoError(t, err)
		assert.Equal(t, "6", rest.Next)
		assert.Equal(t, []string{"penal-record.v1 fiche/300/FR0130 1", "custody-event.v1 mouvement/5 5",
			"penal-record.v1 fiche/200/FR0690 2", "custody-event.v1 mouvement/6 6"}, kinds(rest.Facts))
	})
	t.Run("a cancelled context gives no fact", func(t *testing.T) {
		_, ts := scenario(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		b, err := newSource(t, ts.URL, 100, nil).Read(ctx, "")
		require.ErrorIs(t, err, context.Canceled)
		assert.Empty(t, b.Facts)
	})
}

func TestAPositionTheSourceNeverGaveIsRefused(t *testing.T) {
	_, ts := scenario(t)
	s := newSource(t, ts.URL, 100, nil)
	for _, pos := range []string{"abc", "-1", "+5", "1.5", " 3", "99999999999999999999"} {
		_, err := s.Read(t.Context(), pos)
		require.ErrorIs(t, err, ErrInvalidPosition, "%q", pos)
		assert.True(t, connectors.IsPermanent(err))
	}
	n, err := ParsePosition("")
	require.NoError(t, err)
	assert.Zero(t, n, "the start of the feed")
	assert.Equal(t, "42", FormatPosition(42))
}

func TestDecodeReplaysQuarantinedInputs(t *testing.T) {
	srv, ts := scenario(t)
	s := newSource(t, ts.URL, 100, nil)
	b, err := s.Read(t.Context(), "")
	require.NoError(t, err)

	t.Run("a fiche's response decodes again without calling GENESIS", func(t *testing.T) {
		before := srv.Counters().ConsulterFichePenale
		msgs, err := s.Decode(t.Context(), b.Facts[0].Raw, b.Facts[0].ContentType)
		require.NoError(t, err)
		require.Len(t, msgs, 1)
		assert.Equal(t, b.Facts[0].Messages[0].Fact(), msgs[0].Fact())
		assert.JSONEq(t, string(b.Facts[0].Messages[0].Data), string(msgs[0].Data))
		assert.Equal(t, before, srv.Counters().ConsulterFichePenale)
	})
	t.Run("a movement reads its fiche again and gives the record and the event", func(t *testing.T) {
		msgs, err := s.Decode(t.Context(), b.Facts[5].Raw, b.Facts[5].ContentType)
		require.NoError(t, err)
		require.Len(t, msgs, 2)
		assert.Equal(t, "fiche/100/FR0690", msgs[0].FactRef)
		assert.Equal(t, b.Facts[5].Messages[0].Fact(), msgs[1].Fact())
		assert.JSONEq(t, string(b.Facts[5].Messages[0].Data), string(msgs[1].Data))
		requireCanonical(t, msgs...)
	})
	t.Run("a movement whose fiche GENESIS still does not know fails again, permanently", func(t *testing.T) {
		raw := EncodeMouvement(&Mouvement{Sequence: 9, NumeroEcrou: "999", CodeEtablissement: "FR0690",
			Type: MouvementMajFichePenale, Horodatage: day})
		_, err := s.Decode(t.Context(), raw, ContentTypeMouvement)
		require.ErrorIs(t, err, ErrFicheInconnue)
		assert.True(t, connectors.IsPermanent(err))
		assert.NotContains(t, err.Error(), "999")
	})
	t.Run("GENESIS unavailable is transient: replay later", func(t *testing.T) {
		require.NoError(t, srv.Faults().UnavailableNext(100, 0))
		t.Cleanup(srv.Faults().Clear)
		_, err := s.Decode(t.Context(), b.Facts[5].Raw, b.Facts[5].ContentType)
		require.Error(t, err)
		assert.True(t, Transient(err))
	})
	t.Run("bytes that are neither a fiche nor a movement are refused", func(t *testing.T) {
		for _, raw := range []string{"", "garbage", `{"a":1}`, `<mouvement/>`, `<a/><b/>`,
			`<Envelope xmlns="urn:other"/>`, `<mouvement xmlns="urn:justice:genesis:fichepenale:v1"/>trailing`} {
			_, err := s.Decode(t.Context(), []byte(raw), "")
			require.Error(t, err, "%q", raw)
			assert.True(t, connectors.IsPermanent(err), "%q: %v", raw, err)
		}
	})
}

func TestAMovementRoundTripsThroughItsRawForm(t *testing.T) {
	for _, name := range []string{"ecrou-mandat-depot", "maj-fiche-penale", "levee-ecrou-liberation", "transfert-vers-longuenesse"} {
		t.Run(name, func(t *testing.T) {
			m := mouvementFixture(t, name)
			again, err := DecodeMouvement(EncodeMouvement(&m))
			require.NoError(t, err)
			assert.Equal(t, m, again)
			assert.Equal(t, m.Horodatage.Format(time.RFC3339Nano), again.Horodatage.Format(time.RFC3339Nano), "the offset is kept")
		})
	}
	t.Run("a movement that breaks the WSDL decodes with its error", func(t *testing.T) {
		_, err := DecodeMouvement(EncodeMouvement(&Mouvement{Sequence: 4, NumeroEcrou: "1", CodeEtablissement: "X", Type: "EVASION", Horodatage: day}))
		require.ErrorIs(t, err, ErrInvalidResponse)
		assert.True(t, connectors.IsPermanent(err))
		assert.True(t, errors.Is(err, ErrInvalidResponse))
	})
}

func TestSettings(t *testing.T) {
	const path = "connectors.genesis"
	valid := map[string]any{"url": "http://127.0.0.1:1/genesis/ws/fichepenale"}
	with := func(k string, v any) map[string]any {
		out := map[string]any{"url": valid["url"]}
		out[k] = v
		return out
	}
	t.Run("valid settings take their defaults and build a source and a decoder", func(t *testing.T) {
		inst, ps := Spec.New(connectors.Env{}, valid, path)
		require.Empty(t, ps)
		require.NotNil(t, inst.Source)
		require.NotNil(t, inst.Decoder)
		require.NotNil(t, inst.Close)
		s := inst.Source.(*Source)
		assert.Equal(t, DefaultPageSize, s.pageSize)
		assert.Equal(t, DefaultTimeout, s.client.opts.Timeout)
		assert.Equal(t, DefaultMaxRetries, s.client.opts.MaxRetries)
		assert.NoError(t, inst.Close())
	})
	t.Run("maxRetries 0 means no retry, not the default", func(t *testing.T) {
		inst, ps := Spec.New(connectors.Env{}, with("maxRetries", 0), path)
		require.Empty(t, ps)
		assert.Zero(t, inst.Source.(*Source).client.opts.MaxRetries)
	})
	t.Run("durations are read as Go durations", func(t *testing.T) {
		s := map[string]any{"url": valid["url"], "timeout": "12s", "retryWaitMin": "10ms", "retryWaitMax": "2s", "pageSize": 1000}
		inst, ps := Spec.New(connectors.Env{}, s, path)
		require.Empty(t, ps)
		src := inst.Source.(*Source)
		assert.Equal(t, 12*time.Second, src.client.opts.Timeout)
		assert.Equal(t, 10*time.Millisecond, src.client.opts.RetryWaitMin)
		assert.Equal(t, 1000, src.pageSize)
	})
	for _, tt := range []struct {
		name     string
		settings map[string]any
		path     string
	}{
		{"a missing url", map[string]any{}, path + ".url"},
		{"a relative url", map[string]any{"url": "/genesis"}, path + ".url"},
		{"an ftp url", map[string]any{"url": "ftp://genesis/x"}, path + ".url"},
		{"a page size of 1001", with("pageSize", 1001), path + ".pageSize"},
		{"a negative page size", with("pageSize", -1), path + ".pageSize"},
		{"a negative timeout", with("timeout", "-1s"), path + ".timeout"},
		{"a timeout that is not a duration", with("timeout", "soon"), path},
		{"21 retries", with("maxRetries", 21), path + ".maxRetries"},
		{"a negative number of retries", with("maxRetries", -1), path + ".maxRetries"},
		{"a shortest wait above the longest", map[string]any{"url": valid["url"], "retryWaitMin": "3s", "retryWaitMax": "1s"}, path + ".retryWaitMin"},
		{"a negative longest wait", with("retryWaitMax", "-1s"), path + ".retryWaitMax"},
		{"a negative response bound", with("maxResponseBytes", -1), path + ".maxResponseBytes"},
		{"an unknown setting", with("pagesize", 10), path},
	} {
		t.Run(tt.name+" is refused at "+strings.TrimPrefix(tt.path, path), func(t *testing.T) {
			inst, ps := Spec.New(connectors.Env{}, tt.settings, path)
			assert.Nil(t, inst)
			require.NotEmpty(t, ps)
			var paths []string
			for _, p := range ps {
				paths = append(paths, p.Path)
			}
			assert.Contains(t, paths, tt.path)
		})
	}
}

func TestFichesAreReadAheadInParallelAndTheFeedKeepsItsOrder(t *testing.T) {
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("with %d concurrent reads", workers), func(t *testing.T) {
			srv := busyWeek(t, 31, 400)
			require.NoError(t, srv.Faults().Set(sim.Fault{Latency: 2 * time.Millisecond}))
			var inFlight, most atomic.Int64
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := inFlight.Add(1)
				defer inFlight.Add(-1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				srv.Handler().ServeHTTP(w, r)
			}))
			t.Cleanup(ts.Close)
			client, err := New(Options{URL: ts.URL + "/genesis/ws/fichepenale"})
			require.NoError(t, err)
			s := NewSource(client, SourceOptions{PageSize: 100, Concurrency: workers})
			t.Cleanup(func() { _ = s.Close() })
			var seqs []int64
			pos := ""
			for {
				b, err := s.Read(t.Context(), pos)
				require.NoError(t, err)
				if len(b.Facts) == 0 && b.Next == pos {
					break
				}
				for _, f := range b.Facts {
					if f.Fact != nil && strings.HasPrefix(f.Fact.Ref, "mouvement/") {
						seqs = append(seqs, f.Fact.Version)
					}
				}
				pos = b.Next
			}
			require.Len(t, seqs, len(srv.State().Mouvements()))
			assert.IsIncreasing(t, seqs, "custody events come in the feed's order")
			if workers == 1 {
				assert.Equal(t, int64(1), most.Load(), "one call at a time")
			} else {
				assert.Greater(t, most.Load(), int64(1), "fiches were read in parallel")
				assert.LessOrEqual(t, most.Load(), int64(workers), "never more calls than Concurrency")
			}
		})
	}
}
