package genesis

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/connectors"
	"passerelle/connectors/genesis/sim"
)

// busyWeek is a simulator holding a week of at least n movements after a population
// already in custody.
func busyWeek(t testing.TB, seed uint64, n int64) *sim.Server {
	t.Helper()
	srv := sim.New(sim.Options{Seed: seed})
	g := sim.NewGenerator(sim.GeneratorOptions{Seed: seed, Population: 300, EventsPerDay: 650})
	require.NoError(t, g.Populate(srv.State()))
	for srv.State().LastSequence() < n {
		_, err := g.Next(srv.State())
		require.NoError(t, err)
	}
	return srv
}

// factKey is a fact's identity without its system (always GENESIS here).
type factKey struct {
	ref     string
	version int64
}

func TestAFaultyWeekGivesEveryMovementOnceAndTheNewestFichesDespiteFaultsAndACrash(t *testing.T) {
	srv := busyWeek(t, 17, 5000)
	feed := srv.State().Mouvements()
	require.GreaterOrEqual(t, len(feed), 5000)
	require.NoError(t, srv.Faults().Set(sim.Fault{
		UnavailableFraction:  0.05, // on top of the bursts below
		RepeatFraction:       0.3,
		VersionBumpFraction:  0.05,
		UnknownFicheFraction: 0.02,
	}))
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	s := newSource(t, ts.URL, 200, nil) // 2 retries: a burst of 7 outlasts them

	data := map[factKey]string{} // what each fact identity said, to check repeats say the same
	events := map[int64]bool{}
	failed := map[int64]bool{}
	newest := map[string]int64{}
	var positions []string
	pos, errorsSeen, crashed := "", 0, false
	for reads := 0; ; reads++ {
		require.Less(t, reads, 2000, "the feed must end")
		if reads%10 == 3 {
			require.NoError(t, srv.Faults().UnavailableNext(7, 0)) // a burst of 503s
		}
		b, err := s.Read(t.Context(), pos)
		if err != nil {
			require.True(t, Transient(err), "only transient errors stop a Read here: %v", err)
			errorsSeen++
			continue // the pipeline backs off and reads again from the same position
		}
		for _, f := range b.Facts {
			if f.Err != nil {
				require.ErrorIs(t, f.Err, ErrFicheInconnue)
				assert.Equal(t, "map", f.Stage)
				failed[f.Fact.Version] = true
				continue
			}
			for _, m := range f.Messages {
				k := factKey{m.FactRef, m.FactVersion}
				if prev, ok := data[k]; ok {
					require.Equal(t, prev, string(m.Data), "%v read again says something else", k)
				}
				data[k] = string(m.Data)
				if strings.HasPrefix(m.FactRef, "mouvement/") {
					events[m.FactVersion] = true
				} else {
					newest[m.FactRef] = max(newest[m.FactRef], m.FactVersion)
				}
			}
		}
		if len(b.Facts) == 0 && b.Next == pos {
			break
		}
		next, err := ParsePosition(b.Next)
		require.NoError(t, err)
		prev, _ := ParsePosition(pos)
		require.GreaterOrEqual(t, next, prev, "the position never goes back")
		positions = append(positions, b.Next)
		pos = b.Next
		if !crashed && len(positions) == 20 {
			// A crash: the last three batches were never committed; the pipeline reads
			// again from the checkpoint it had saved before them.
			crashed, pos = true, positions[16]
		}
	}
	require.True(t, crashed)
	assert.Positive(t, errorsSeen, "the bursts outlasted the client's retries at least once")
	c := srv.Counters()
	assert.Positive(t, c.Repeats, "the simulator repeated movements")
	assert.Positive(t, c.VersionBumps, "the simulator bumped versions")

	unknown := unknownFiches(t, srv, feed)
	require.NotEmpty(t, unknown)
	wantEvents, wantFailed := map[int64]bool{}, map[int64]bool{}
	for _, m := range feed {
		if unknown[m.NumeroEcrou+"/"+m.CodeEtablissement] {
			wantFailed[m.Sequence] = true
		} else {
			wantEvents[m.Sequence] = true
		}
	}
	assert.Equal(t, wantEvents, events, "every movement of a known fiche gives its custody event")
	assert.Equal(t, wantFailed, failed, "exactly the movements of unknown fiches are quarantined")
	assert.Equal(t, len(feed), len(events)+len(failed))

	for key := range unknownOrKnown(feed) {
		if unknown[key] {
			assert.NotContains(t, newest, "fiche/"+key)
			continue
		}
		numero, code, _ := strings.Cut(key, "/")
		f, ok := srv.State().Fiche(numero, code)
		require.True(t, ok)
		assert.Equal(t, f.Version, newest["fiche/"+key], "the newest version of fiche %s", key)
	}
}

// unknownOrKnown returns the keys numeroEcrou/codeEtablissement of the fiches the feed
// announces.
func unknownOrKnown(feed []sim.Mouvement) map[string]bool {
	out := map[string]bool{}
	for _, m := range feed {
		out[m.NumeroEcrou+"/"+m.CodeEtablissement] = true
	}
	return out
}

// unknownFiches asks the simulator itself, without HTTP nor 503s, which fiches of the
// feed answer FicheInconnue.
func unknownFiches(t *testing.T, srv *sim.Server, feed []sim.Mouvement) map[string]bool {
	t.Helper()
	f := srv.Faults().Get()
	f.UnavailableNext, f.UnavailableFraction, f.VersionBumpFraction = 0, 0, 0
	require.NoError(t, srv.Faults().Set(f))
	out := map[string]bool{}
	for key := range unknownOrKnown(feed) {
		numero, code, _ := strings.Cut(key, "/")
		status, body := soapCall(t, srv.Handler(), "ConsulterFichePenale", consulterBody(numero, code))
		if status == http.StatusInternalServerError && strings.Contains(string(body), "FicheInconnue") {
			out[key] = true
		} else {
			require.Equal(t, http.StatusOK, status)
		}
	}
	return out
}

// Source is what the pipeline calls: a polled source and a decoder for replay.
var (
	_ connectors.Source  = (*Source)(nil)
	_ connectors.Decoder = (*Source)(nil)
)
