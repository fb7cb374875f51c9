package sim_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/connectors/appi/sim"
	"passerelle/internal/pgtest"
)

func open(t *testing.T) *sim.DB {
	t.Helper()
	db, err := sim.Open(context.Background(), pgtest.NewDatabase(t))
	require.NoError(t, err)
	t.Cleanup(db.Close)
	return db
}

func TestTheSameSeedGivesTheSameHistory(t *testing.T) {
	a := sim.NewGenerator(sim.GeneratorOptions{Seed: 9}).Rows(200)
	b := sim.NewGenerator(sim.GeneratorOptions{Seed: 9}).Rows(200)
	assert.Equal(t, a, b)
}

func TestHistoriesAreRealistic(t *testing.T) {
	rows := sim.NewGenerator(sim.GeneratorOptions{Seed: 4, People: 40}).Rows(2000)
	kinds, statuses := map[string]int{}, map[string]int{}
	perMeasure, perPerson := map[string]int{}, map[string]map[string]bool{}
	var nullObligations, emptyObligations, tigHours, custody int
	last := time.Time{}
	for _, r := range rows {
		kinds[r.TypeMesure]++
		statuses[r.Statut]++
		perMeasure[r.NumeroMesure]++
		if perPerson[r.NumeroDossier] == nil {
			perPerson[r.NumeroDossier] = map[string]bool{}
		}
		perPerson[r.NumeroDossier][r.NumeroMesure] = true
		switch {
		case r.Obligations == nil:
			nullObligations++
		case *r.Obligations == "":
			emptyObligations++
		}
		if r.TypeMesure == "TIG" && r.Observations != nil && strings.Contains(*r.Observations, "heures") {
			tigHours++
		}
		if r.NumeroEcrou != nil && r.CodeEtablissement != nil {
			custody++
		}
		assert.False(t, r.MajLe.Before(last), "changes are written in time order")
		last = r.MajLe
		assert.Regexp(t, `^20[0-2][0-9]{9}$`, r.NumeroDossier)
	}
	t.Run("every kind of measure appears", func(t *testing.T) {
		for _, k := range []string{"SP", "TIG", "DDSE", "SL", "PE", "LC", "LSC", "SSJ", "SME", "CJ", "AEM"} {
			assert.Positive(t, kinds[k], k)
		}
	})
	t.Run("every status appears", func(t *testing.T) {
		for _, s := range []string{"A_PRENDRE_EN_CHARGE", "EN_COURS", "SUSPENDUE", "TERMINEE", "REVOQUEE", "ARCHIVEE"} {
			assert.Positive(t, statuses[s], s)
		}
	})
	t.Run("a measure changes over time, each change a new row", func(t *testing.T) {
		several := 0
		for _, n := range perMeasure {
			if n > 1 {
				several++
			}
		}
		assert.Greater(t, several, len(perMeasure)/2)
	})
	t.Run("people have several measures", func(t *testing.T) {
		several := 0
		for _, ms := range perPerson {
			if len(ms) > 1 {
				several++
			}
		}
		assert.Positive(t, several)
	})
	t.Run("no obligations is written NULL or empty", func(t *testing.T) {
		assert.Positive(t, nullObligations)
		assert.Positive(t, emptyObligations)
	})
	assert.Positive(t, tigHours, "TIG carry their hours")
	assert.Positive(t, custody, "measures decided in custody carry the écrou")
}

func TestLateTransactionsCommitAfterHigherSeqs(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	g := sim.NewGenerator(sim.GeneratorOptions{})
	late, err := db.BeginLate(ctx, g.Next())
	require.NoError(t, err)
	require.NoError(t, db.Insert(ctx, g.Next()))
	rows, err := db.Mesures(ctx)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	assert.Greater(t, rows[0].Seq, late.Seqs()[0], "the higher seq is visible first")
	require.NoError(t, <-late.CommitAfter(ctx, time.Millisecond))
	rows, err = db.Mesures(ctx)
	require.NoError(t, err)
	assert.Len(t, rows, 2)
	assert.Error(t, late.Rollback(ctx), "a late transaction ends once")

	lost, err := db.LoseSeqs(ctx, 2)
	require.NoError(t, err)
	require.NoError(t, db.Insert(ctx, g.Next()))
	rows, err = db.Mesures(ctx)
	require.NoError(t, err)
	assert.Greater(t, rows[2].Seq, lost[1], "lost seqs leave a gap")
}

func TestTheFeedWritesUntilItsContextEnds(t *testing.T) {
	db := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- db.Feed(ctx, sim.NewGenerator(sim.GeneratorOptions{}), sim.FeedOptions{Interval: time.Millisecond,
			LateFraction: 0.3, LateDelay: 5 * time.Millisecond, LostFraction: 0.1})
	}()
	require.Eventually(t, func() bool {
		c, err := db.Count(context.Background())
		return err == nil && c.Mesures >= 30
	}, 20*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
}

func TestEnsureDatabaseCreatesItOnce(t *testing.T) {
	ctx := context.Background()
	server := pgtest.NewDatabase(t)
	name := "appi_sim_" + strings.ReplaceAll(t.Name(), "Test", "")[:10]
	name = strings.ToLower(name) + time.Now().Format("150405")
	u1, err := sim.EnsureDatabase(ctx, server, name)
	require.NoError(t, err)
	t.Cleanup(func() {
		db, err := sim.Open(ctx, server)
		if err == nil {
			_, _ = db.Pool().Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			db.Close()
		}
	})
	u2, err := sim.EnsureDatabase(ctx, server, name)
	require.NoError(t, err)
	assert.Equal(t, u1, u2)
	db, err := sim.Open(ctx, u1)
	require.NoError(t, err)
	db.Close()
	_, err = sim.EnsureDatabase(ctx, server, "Robert'); DROP TABLE x;--")
	assert.Error(t, err)
}

func TestTheDemoBackfillsThenFeeds(t *testing.T) {
	server := pgtest.NewDatabase(t)
	ctx, cancel := context.WithCancel(context.Background())
	name := "appi_demo_" + time.Now().Format("150405") + "x"
	d, err := sim.StartDemo(ctx, server, sim.DemoOptions{Database: name, Backfill: 20,
		Feed: sim.FeedOptions{Interval: time.Millisecond, LateDelay: 5 * time.Millisecond}})
	require.NoError(t, err)
	t.Cleanup(func() {
		db, err := sim.Open(context.Background(), server)
		if err == nil {
			_, _ = db.Pool().Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			db.Close()
		}
	})
	require.Eventually(t, func() bool {
		c, err := d.DB.Count(context.Background())
		return err == nil && c.Mesures > 25
	}, 20*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, d.Wait())
}

func TestCopyWritesWhatInsertWrites(t *testing.T) {
	ctx := t.Context()
	rows := sim.NewGenerator(sim.GeneratorOptions{Seed: 6, People: 30}).Rows(300)
	inserted, copied := open(t), open(t)
	require.NoError(t, inserted.Insert(ctx, rows...))
	require.NoError(t, copied.Copy(ctx, rows...))
	a, err := inserted.Mesures(ctx)
	require.NoError(t, err)
	b, err := copied.Mesures(ctx)
	require.NoError(t, err)
	require.Len(t, b, len(rows))
	for i := range a {
		assert.Equal(t, a[i].Seq, b[i].Seq, "in order, one seq each")
		a[i].MajLe, b[i].MajLe = a[i].MajLe.UTC(), b[i].MajLe.UTC()
	}
	assert.Equal(t, a, b)
}

func TestHomonymsAreTwoPeople(t *testing.T) {
	dossiersOf := func(rows []*sim.Mesure) map[string]map[string]bool {
		out := map[string]map[string]bool{}
		for _, r := range rows {
			k := r.Nom + "|" + r.Prenoms + "|" + r.DateNaissance
			if out[k] == nil {
				out[k] = map[string]bool{}
			}
			out[k][r.NumeroDossier] = true
		}
		return out
	}
	shared := func(byKey map[string]map[string]bool) int {
		n := 0
		for _, d := range byKey {
			if len(d) > 1 {
				assert.Len(t, d, 2, "a homonym is one other person")
				n++
			}
		}
		return n
	}
	assert.Zero(t, shared(dossiersOf(sim.NewGenerator(sim.GeneratorOptions{Seed: 4, People: 40}).Rows(2000))), "none unless asked")
	assert.Equal(t, 2, shared(dossiersOf(sim.NewGenerator(sim.GeneratorOptions{Seed: 4, People: 40, Homonyms: 2}).Rows(2000))))
	// From their first measures: the demo's backfill (its defaults, seed 1) holds both
	// pairs, for the console's identity reviews.
	assert.Equal(t, 2, shared(dossiersOf(sim.NewGenerator(sim.GeneratorOptions{Seed: 1, People: 120, Homonyms: 2}).Rows(300))))
}
