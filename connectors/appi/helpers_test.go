package appi

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"passerelle/canonical"
	"passerelle/connectors"
	"passerelle/connectors/appi/sim"
	"passerelle/internal/pgtest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// appiDB is APPI's interface in a fresh database of the test server, with its URL.
type appiDB struct {
	*sim.DB
	URL string
}

// newAPPI creates a fresh database holding APPI's interface tables.
func newAPPI(t testing.TB) appiDB {
	t.Helper()
	url := pgtest.NewDatabase(t)
	db, err := sim.Open(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(db.Close)
	return appiDB{DB: db, URL: url}
}

// connectorPool is a pool configured as the connector configures its own.
func connectorPool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	cfg, err := PoolConfig(url)
	require.NoError(t, err)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// newSource is a source on db with the given visibility delay and batch size.
func newSource(t testing.TB, db appiDB, delay time.Duration, batch int) *Source {
	t.Helper()
	return NewSource(connectorPool(t, db.URL), SourceOptions{VisibilityDelay: delay, BatchSize: batch, Logger: zap.NewNop()})
}

// dsnFile writes url to a secret file and returns the dsn setting naming it.
func dsnFile(t testing.TB, url string) map[string]any {
	t.Helper()
	path := filepath.Join(t.TempDir(), "appi-dsn")
	require.NoError(t, os.WriteFile(path, []byte(url+"\n"), 0o600))
	return map[string]any{"file": path}
}

// readAll reads from position until nothing is new, and returns the facts and the
// last position.
func readAll(t testing.TB, src *Source, position string) ([]connectors.Fact, string) {
	t.Helper()
	var facts []connectors.Fact
	for range 10_000 {
		b, err := src.Read(context.Background(), position)
		require.NoError(t, err)
		facts = append(facts, b.Facts...)
		if len(b.Facts) == 0 && b.Next == position {
			return facts, position
		}
		position = b.Next
	}
	t.Fatal("still reading after 10,000 reads")
	return nil, ""
}

// seqsOf lists the versions (seqs) of facts, in order.
func seqsOf(facts []connectors.Fact) []int64 {
	out := make([]int64, 0, len(facts))
	for _, f := range facts {
		if f.Fact != nil {
			out = append(out, f.Fact.Version)
		}
	}
	return out
}

// measureOf decodes the one measure of a fact.
func measureOf(t testing.TB, f connectors.Fact) canonical.Measure {
	t.Helper()
	require.NoError(t, f.Err)
	require.Len(t, f.Messages, 1)
	var m canonical.Measure
	require.NoError(t, f.Messages[0].DecodeData(&m))
	return m
}

// baseRow is a complete, valid export row.
func baseRow() *sim.Mesure {
	return &sim.Mesure{
		NumeroMesure: "M-69-2024-018734", NumeroDossier: "202400004512", Nom: "MARTIN",
		Prenoms: "Julien Pierre", DateNaissance: "1991-11-02", NumeroParquet: sim.Str("24123000456"),
		TypeMesure: "SP", Juridiction: "TJ LYON", JAP: sim.Str("Mme Claire VASSEUR"),
		SPIPAntenne: sim.Str("SPIP 69 - antenne Lyon Sud"), DateDecision: "2024-06-12", DateDebut: "2024-07-01",
		DateFin: "2026-07-01", Obligations: sim.Str("SOINS;TRAVAIL"), Statut: "EN_COURS",
		MajLe: time.Date(2024, 9, 16, 8, 30, 0, 0, time.UTC),
	}
}
