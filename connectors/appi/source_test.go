package appi

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"passerelle/connectors"
	"passerelle/connectors/appi/sim"
)

func TestASeqCommittedLateWithinTheDelayIsDeliveredOnce(t *testing.T) {
	ctx := context.Background()
	db := newAPPI(t)
	late, err := db.BeginLate(ctx, baseRow()) // takes seq 1, commits later
	require.NoError(t, err)
	t.Cleanup(func() { _ = late.Rollback(ctx) })
	require.NoError(t, db.Insert(ctx, baseRow(), baseRow())) // seqs 2 and 3, visible first
	src := newSource(t, db, time.Hour, 0)

	facts, pos := readAll(t, src, "")
	assert.Equal(t, []int64{2, 3}, seqsOf(facts), "the rows already committed are read at once")
	p, err := parsePosition(pos)
	require.NoError(t, err)
	require.Len(t, p.gaps, 1)
	assert.Equal(t, gap{1, 1, p.gaps[0].since}, p.gaps[0], "seq 1 is waited for")

	b, err := src.Read(ctx, pos)
	require.NoError(t, err)
	assert.Empty(t, b.Facts)
	assert.Equal(t, pos, b.Next, "nothing new and nothing given up: the position stays")

	require.NoError(t, late.Commit(ctx))
	facts, pos = readAll(t, src, pos)
	assert.Equal(t, []int64{1}, seqsOf(facts), "the late seq is delivered once it is visible")
	assert.Equal(t, "3", pos, "no gap is left")

	again, _ := readAll(t, newSource(t, db, time.Hour, 0), pos)
	assert.Empty(t, again, "a restart from the saved position delivers nothing twice")
}

func TestALostSeqIsGivenUpOnlyAfterTheVisibilityDelay(t *testing.T) {
	ctx := context.Background()
	db := newAPPI(t)
	lost, err := db.LoseSeqs(ctx, 2) // seqs 1 and 2, rolled back
	require.NoError(t, err)
	require.Equal(t, []int64{1, 2}, lost)
	require.NoError(t, db.Insert(ctx, baseRow())) // seq 3

	patient := newSource(t, db, time.Hour, 0)
	_, pos := readAll(t, patient, "")
	for range 3 {
		b, err := patient.Read(ctx, pos)
		require.NoError(t, err)
		require.Equal(t, pos, b.Next, "within the delay the gap stays open")
	}

	core, logs := observer.New(zapcore.WarnLevel)
	hasty := NewSource(connectorPool(t, db.URL), SourceOptions{VisibilityDelay: 0, Logger: zap.New(core)})
	b, err := hasty.Read(ctx, pos)
	require.NoError(t, err)
	assert.Empty(t, b.Facts)
	assert.Equal(t, "3", b.Next, "past the delay the lost seqs are given up")
	require.Equal(t, 1, logs.Len(), "and logged")
	fields := logs.All()[0].ContextMap()
	assert.Equal(t, int64(1), fields["seq_from"])
	assert.Equal(t, int64(2), fields["seq_to"])
}

func TestLateRowsBeyondTheBatchAreNotGivenUpUnread(t *testing.T) {
	ctx := context.Background()
	db := newAPPI(t)
	late, err := db.BeginLate(ctx, baseRow(), baseRow(), baseRow()) // seqs 1..3
	require.NoError(t, err)
	require.NoError(t, db.Insert(ctx, baseRow())) // seq 4
	_, pos := readAll(t, newSource(t, db, time.Hour, 10), "")
	require.NoError(t, late.Commit(ctx))

	// A source that gives gaps up at once, reading two rows at a time: the gap query
	// stops at seq 2, so seq 3 was not looked for and must not be given up.
	small := newSource(t, db, 0, 2)
	b, err := small.Read(ctx, pos)
	require.NoError(t, err)
	assert.Equal(t, []int64{1, 2}, seqsOf(b.Facts))
	b, err = small.Read(ctx, b.Next)
	require.NoError(t, err)
	assert.Equal(t, []int64{3}, seqsOf(b.Facts))
	assert.Equal(t, "4", b.Next)
}

func TestConcurrentCommitsOutOfSeqOrderAreDeliveredExactlyOnceAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	db := newAPPI(t)
	g := sim.NewGenerator(sim.GeneratorOptions{Seed: 3, People: 30})
	rng := rand.New(rand.NewPCG(3, 4))
	var open []*sim.LateTx
	var committed, lost []int64
	finish := func(l *sim.LateTx, commit bool) {
		if commit {
			require.NoError(t, l.Commit(ctx))
			committed = append(committed, l.Seqs()...)
		} else {
			require.NoError(t, l.Rollback(ctx))
			lost = append(lost, l.Seqs()...)
		}
	}

	var delivered []int64
	pos := ""
	src := newSource(t, db, time.Hour, 7)
	for step := range 300 {
		switch n := rng.IntN(10); {
		case n < 5:
			rows := g.Rows(1 + rng.IntN(3))
			require.NoError(t, db.Insert(ctx, rows...))
			for _, r := range rows {
				committed = append(committed, r.Seq)
			}
		case n < 7 && len(open) < 8:
			l, err := db.BeginLate(ctx, g.Rows(1+rng.IntN(2))...)
			require.NoError(t, err)
			open = append(open, l)
		case len(open) > 0:
			i := rng.IntN(len(open))
			finish(open[i], rng.IntN(5) > 0)
			open = slices.Delete(open, i, i+1)
		}
		if step%40 == 39 { // a restart: a new source (and pool) from the saved position
			src = newSource(t, db, time.Hour, 7)
		}
		b, err := src.Read(ctx, pos)
		require.NoError(t, err)
		delivered = append(delivered, seqsOf(b.Facts)...)
		pos = b.Next
	}
	for _, l := range open {
		finish(l, true)
	}
	facts, pos := readAll(t, newSource(t, db, time.Hour, 7), pos)
	delivered = append(delivered, seqsOf(facts)...)

	slices.Sort(committed)
	got := slices.Clone(delivered)
	slices.Sort(got)
	assert.Equal(t, committed, got, "every committed seq once, none lost, none twice")

	p, err := parsePosition(pos)
	require.NoError(t, err)
	var waiting []int64
	for _, gp := range p.gaps {
		for s := gp.lo; s <= gp.hi; s++ {
			waiting = append(waiting, s)
		}
	}
	slices.Sort(lost)
	assert.Equal(t, lost, waiting, "only the rolled-back seqs are still waited for")

	b, err := newSource(t, db, 0, 7).Read(ctx, pos)
	require.NoError(t, err)
	assert.Empty(t, b.Facts)
	assert.NotContains(t, b.Next, ";", "past the delay they are given up")
}

func TestAnUnreachableDatabaseIsTransientAndLeavesThePosition(t *testing.T) {
	src := NewSource(connectorPool(t, "postgres://postgres@127.0.0.1:1/appi?connect_timeout=2"), SourceOptions{})
	b, err := src.Read(context.Background(), "42;40@1")
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrUnavailable)
	assert.ErrorIs(t, err, connectors.ErrTransient)
	assert.Empty(t, b.Facts)
	assert.Empty(t, b.Next, "no position: the pipeline reads again from its own")
}

func TestAPositionTheSourceNeverWroteIsPermanent(t *testing.T) {
	src := NewSource(connectorPool(t, "postgres://postgres@127.0.0.1:1/appi"), SourceOptions{})
	_, err := src.Read(context.Background(), "10;x")
	require.ErrorIs(t, err, ErrInvalidPosition)
	assert.True(t, connectors.IsPermanent(err))
}
