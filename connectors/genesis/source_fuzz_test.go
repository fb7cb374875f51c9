package genesis

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"passerelle/canonical"
	"passerelle/connectors/genesis/sim"
)

// mouvementSeeds are movements as the source writes them: the fixtures, the
// simulator's generated movements, and broken ones.
func mouvementSeeds(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	paths, err := filepath.Glob(filepath.Join("testdata", "fixtures", "*.mouvement.xml"))
	require.NoError(t, err)
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		require.NoError(t, err)
		out = append(out, raw)
	}
	srv := sim.New(sim.Options{Seed: 4})
	_, err = sim.NewGenerator(sim.GeneratorOptions{Seed: 4, Population: 3, EventsPerDay: 2}).Week(srv.State())
	require.NoError(t, err)
	for _, m := range srv.State().Mouvements()[:6] {
		out = append(out, EncodeMouvement(&Mouvement{Sequence: m.Sequence, NumeroEcrou: m.NumeroEcrou,
			CodeEtablissement: m.CodeEtablissement, Type: TypeMouvement(m.Type), Horodatage: m.Horodatage,
			CodeEtablissementDestination: m.CodeEtablissementDestination, NumeroEcrouDestination: m.NumeroEcrouDestination}))
	}
	return append(out,
		EncodeMouvement(&Mouvement{NumeroEcrou: "1", Type: "EVASION"}),
		[]byte(`<mouvement xmlns="urn:justice:genesis:fichepenale:v1"><sequence>-4</sequence></mouvement>`),
		[]byte(`<g:mouvement xmlns:g="urn:justice:genesis:fichepenale:v1"><g:sequence>9</g:sequence></g:mouvement>`),
		[]byte(`<!DOCTYPE m [<!ENTITY e "x">]><mouvement xmlns="urn:justice:genesis:fichepenale:v1">&e;</mouvement>`),
		nil)
}

func FuzzDecodeMouvement(f *testing.F) {
	for _, s := range mouvementSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := DecodeMouvement(raw)
		if err != nil {
			return
		}
		require.NoError(t, m.Err)
		require.True(t, validType(m.Type))
		require.Positive(t, m.Sequence)
		require.NotEmpty(t, m.NumeroEcrou)
		require.False(t, m.Horodatage.IsZero())
		again, err := DecodeMouvement(EncodeMouvement(&m))
		require.NoError(t, err, "what decodes encodes and decodes again")
		require.Equal(t, m.Sequence, again.Sequence)
		require.True(t, m.Horodatage.Equal(again.Horodatage))
		require.Equal(t, m.NumeroEcrouDestination, again.NumeroEcrouDestination)
	})
}

// FuzzSourceDecode feeds replay's Decode with any bytes, the fiche GENESIS answers for
// a movement being a valid one or the fuzzed bytes themselves: it never panics, and
// whatever it accepts gives messages whose data says the fact their envelope says.
func FuzzSourceDecode(f *testing.F) {
	_, fiches := simSeeds(f)
	for _, s := range mouvementSeeds(f) {
		f.Add(s, false)
	}
	for i, s := range fiches {
		f.Add(s, i%2 == 0)
	}
	paths, err := filepath.Glob(filepath.Join("testdata", "fixtures", "*.fiche.xml"))
	require.NoError(f, err)
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(raw, false)
	}
	validFiche := fiches[0]
	s := NewSource(fuzzClient(f), SourceOptions{Now: func() time.Time { return readAt }})
	f.Fuzz(func(t *testing.T, raw []byte, ficheIsRaw bool) {
		answer := validFiche
		if ficheIsRaw {
			answer = raw
		}
		ctx := context.WithValue(t.Context(), payloadKey{}, payload{status: http.StatusOK, body: answer})
		msgs, err := s.Decode(ctx, raw, "")
		if err != nil {
			require.Nil(t, msgs)
			return
		}
		require.NotEmpty(t, msgs)
		for _, m := range msgs {
			data, err := m.Payload()
			require.NoError(t, err, "the data decodes strictly into its type")
			fact, err := canonical.FactOf(data)
			require.NoError(t, err)
			require.Equal(t, m.Fact(), fact)
		}
	})
}
