package genesis

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkDecodeMap is the CPU cost of one fiche from GENESIS's bytes to canonical
// messages: decoding its ConsulterFichePenale response (generated types plus the
// textual re-reading), then mapping it to a penal record message; "map only" is the
// mapping alone; "with movement" adds the custody event of a movement announcing it.
func BenchmarkDecodeMap(b *testing.B) {
	srv, _ := startSim(b)
	_, raw := richFiche(b, srv, false)
	mv := mouvementFixture(b, "maj-fiche-penale")
	b.Run("fiche", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			f, err := DecodeFichePenale(raw)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := PenalRecordMessage(f, readAt); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("map only", func(b *testing.B) {
		f, err := DecodeFichePenale(raw)
		require.NoError(b, err)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := PenalRecordMessage(f, readAt); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fiche with movement", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			f, err := DecodeFichePenale(raw)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := PenalRecordMessage(f, readAt); err != nil {
				b.Fatal(err)
			}
			m := mv
			m.NumeroEcrou, m.CodeEtablissement = f.NumeroEcrou, f.CodeEtablissement
			if _, err := CustodyEventMessage(&m, f); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRead reads a 2,000-movement feed from the simulator over loopback HTTP,
// from the start to the end in pages of 500, as the pipeline polls it: one
// ListerMouvements per page, one ConsulterFichePenale per fiche of each page, decode
// and map. It reports fiches read per second and movements per second.
func BenchmarkRead(b *testing.B) {
	srv := busyWeek(b, 5, 2000)
	ts := httptest.NewServer(srv.Handler())
	b.Cleanup(ts.Close)
	s := newSource(b, ts.URL, 500, nil)
	ctx := b.Context()
	movements := len(srv.State().Mouvements())
	srv.ResetCounters()
	b.ReportAllocs()
	for b.Loop() {
		pos := ""
		for {
			batch, err := s.Read(ctx, pos)
			require.NoError(b, err)
			if len(batch.Facts) == 0 && batch.Next == pos {
				break
			}
			pos = batch.Next
		}
	}
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(srv.Counters().ConsulterFichePenale)/secs, "fiches/s")
	b.ReportMetric(float64(movements*b.N)/secs, "movements/s")
}
