package store

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/canonical"
	"passerelle/internal/pgtest"
)

func TestIdentityCacheGenerations(t *testing.T) {
	c := newIdentityCache(2)
	a, b, d := Identifier{"APPI", "1"}, Identifier{"APPI", "2"}, Identifier{"APPI", "3"}
	pa, pb, pd := uuid.NewString(), uuid.NewString(), uuid.NewString()

	epoch, got := c.lookup([]Identifier{a})
	assert.Equal(t, int64(-1), epoch, "a new cache has seen no epoch")
	assert.Empty(t, got)

	c.remember(0, map[Identifier]string{a: pa})
	c.remember(0, map[Identifier]string{b: pb}) // the newer generation is full: it becomes the older
	c.remember(0, map[Identifier]string{d: pd})
	epoch, got = c.lookup([]Identifier{d})
	assert.Equal(t, int64(0), epoch)
	assert.Equal(t, map[Identifier]string{d: pd}, got, "the newer generation answers")
	_, got = c.lookup([]Identifier{b})
	assert.Equal(t, map[Identifier]string{b: pb}, got, "the older one too, and b moves to the newer, full again")
	_, got = c.lookup([]Identifier{a})
	assert.Empty(t, got, "a, never asked for, left with the oldest generation")
	_, got = c.lookup([]Identifier{b, d})
	assert.Equal(t, map[Identifier]string{b: pb, d: pd}, got)
	assert.LessOrEqual(t, c.entries.len(), 4, "at most two generations of size entries")

	c.remember(1, map[Identifier]string{d: pd})
	epoch, got = c.lookup([]Identifier{a, b, d})
	assert.Equal(t, int64(1), epoch)
	assert.Equal(t, map[Identifier]string{d: pd}, got, "a later epoch empties the cache first")

	c.remember(0, map[Identifier]string{a: pa})
	_, got = c.lookup([]Identifier{a})
	assert.Empty(t, got, "links read at an epoch the cache has left are not kept")

	c.remember(1, map[Identifier]string{a: "person-1"})
	_, got = c.lookup([]Identifier{a})
	assert.Empty(t, got, "a person id that is not a canonical UUID is not kept")

	var none *identityCache
	none.remember(1, map[Identifier]string{a: pa})
	_, got = none.lookup([]Identifier{a})
	assert.Empty(t, got)
	assert.Nil(t, newIdentityCache(-1), "a negative size is no cache")
}

// Two hub processes on one database each cache the links they saw; an operator's merge
// in one of them must redirect both at once.
func TestIdentityCacheMerge(t *testing.T) {
	url := pgtest.NewDatabase(t)
	ctx := t.Context()
	open := func(opts Options) *Store {
		s, err := Open(ctx, url, opts)
		require.NoError(t, err)
		t.Cleanup(s.Close)
		return s
	}
	one, two, uncached := open(Options{}), open(Options{}), open(Options{IdentityCache: -1})
	resolve := func(s *Store, ids ...Identifier) string {
		t.Helper()
		out, err := s.ResolvePersons(ctx, [][]Identifier{ids})
		require.NoError(t, err)
		return out[0]
	}
	key := Identifier{System: NameKeySystem, Value: "k-durand-1979"}
	first, second := Identifier{System: "APPI", Value: "202300000001"}, Identifier{System: "APPI", Value: "202300000002"}

	pa := resolve(one, first, key)
	pb := resolve(two, second, key)
	require.NotEqual(t, pa, pb, "a doubtful match: a review, not a merge")
	assert.Equal(t, pb, resolve(one, second), "process one now caches B's link")
	assert.Equal(t, pb, resolve(two, second), "process two too")

	t.Run("a cached link is not looked up again", func(t *testing.T) {
		other := Identifier{System: "APPI", Value: "202300000003"}
		pc := resolve(one, other)
		behindTheHub(t, one, `DELETE FROM identities WHERE system = 'APPI' AND identifier = '202300000003'`)
		assert.Equal(t, pc, resolve(one, other), "served from the cache")
		assert.NotEqual(t, pc, resolve(uncached, other), "without the cache, the table is asked")
	})

	reviews, err := one.ListIdentityReviews(ctx, ReviewOpen)
	require.NoError(t, err)
	require.Len(t, reviews, 1)
	require.Equal(t, pb, reviews[0].PersonB)
	require.NoError(t, one.DecideIdentityReview(ctx, reviews[0].ID, ReviewLinked, "operator:alice"))

	assert.Equal(t, pa, resolve(one, second), "the process that merged")
	assert.Equal(t, pa, resolve(two, second), "the other process, whose cache held B's link")
	assert.Equal(t, pa, resolve(two, second, key), "its name key too")
	assert.Equal(t, 1, count(t, one, `SELECT epoch::int FROM identity_epoch`))

	t.Run("a link changed by hand empties the caches too", func(t *testing.T) {
		// An older binary's merge during a rolling upgrade, or an operator's UPDATE:
		// neither knows of the epoch.
		pd := uuid.NewString()
		_, err := one.pool.Exec(ctx, `UPDATE identities SET person_id = $1 WHERE person_id = $2`, pd, pa)
		require.NoError(t, err)
		assert.Equal(t, pd, resolve(two, second), "the other process, whose cache held the merged link")
		assert.Equal(t, pd, resolve(one, second))
		assert.Equal(t, 2, count(t, one, `SELECT epoch::int FROM identity_epoch`), "one statement, one raise")
	})

	t.Run("a link deleted by hand empties the caches too", func(t *testing.T) {
		third := Identifier{System: "APPI", Value: "202300000004"}
		pt := resolve(one, third)
		assert.Equal(t, pt, resolve(two, third), "both processes cache it")
		_, err := one.pool.Exec(ctx, `DELETE FROM identities WHERE system = 'APPI' AND identifier = '202300000004'`)
		require.NoError(t, err)
		assert.Equal(t, 3, count(t, one, `SELECT epoch::int FROM identity_epoch`))
		fresh := resolve(two, third)
		assert.NotEqual(t, pt, fresh, "the link is gone: a new person, not the cached one")
		assert.Equal(t, fresh, resolve(one, third), "and the other process finds the new link")

		_, err = one.pool.Exec(ctx, `TRUNCATE identities`)
		require.NoError(t, err)
		assert.Equal(t, 4, count(t, one, `SELECT epoch::int FROM identity_epoch`), "a TRUNCATE raises it as well")
		assert.NotEqual(t, fresh, resolve(one, third))
	})
}

// behindTheHub runs sql on s's database with the triggers off (the session replication
// role of a replica): a change that raises no identity epoch, which the hub's caches
// cannot see, so that a test can tell whether they answered.
func behindTheHub(t *testing.T, s *Store, sql string, args ...any) {
	t.Helper()
	tx, err := s.pool.Begin(t.Context())
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(t.Context()) }()
	_, err = tx.Exec(t.Context(), `SET LOCAL session_replication_role = replica`)
	require.NoError(t, err)
	_, err = tx.Exec(t.Context(), sql, args...)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(t.Context()))
}

// A receipt's identifier is inserted until a committed outcome wrote it; after that the
// deliverers leave it out. One that only a rolled-back transaction saw is still written.
func TestReceiptIdentifiersAreLinkedOnceCommitted(t *testing.T) {
	s := newStore(t, Options{})
	ctx := t.Context()
	a, b, c := msg("mesure/1", 1, `{"v":1}`), msg("mesure/2", 1, `{"v":1}`), msg("mesure/3", 1, `{"v":1}`)
	res, err := s.Ingest(ctx, s.pool, IngestBatch{Connector: "appi", Messages: []*canonical.Message{a, b, c}, Targets: targets})
	require.NoError(t, err)
	dossier := []Identifier{{System: "PRISME", Value: "D-1"}}
	person := uuid.NewString()
	out := func(i int, status string) DeliveryOutcome {
		return DeliveryOutcome{MessageID: res.Outcomes[i].ID, Destination: "prisme", Route: "r", Status: status,
			Identifiers: dossier, Subject: person}
	}
	linked := func() int {
		return count(t, s, `SELECT count(*) FROM identities WHERE system = 'PRISME' AND identifier = 'D-1' AND person_id = $1`, person)
	}

	epoch := func() int64 { return int64(count(t, s, `SELECT epoch::int FROM identity_epoch`)) }

	_, err = s.RecordDeliveries(ctx, []DeliveryOutcome{out(0, "lost")})
	require.Error(t, err, "refused by the status check: rolled back")
	assert.Zero(t, linked())
	assert.Equal(t, []int{0}, s.linked.missing(epoch(), dossier), "not known: its transaction did not commit")

	record(t, s, []DeliveryOutcome{out(1, StatusDelivered)})
	assert.Equal(t, 1, linked())
	assert.Empty(t, s.linked.missing(epoch(), dossier), "known once committed")

	// Known, it is not inserted again: deleted behind the store's back, with no epoch
	// raised, the row stays absent.
	behindTheHub(t, s, `DELETE FROM identities WHERE system = 'PRISME' AND identifier = 'D-1'`)
	record(t, s, []DeliveryOutcome{out(2, StatusDelivered)})
	assert.Zero(t, count(t, s, `SELECT count(*) FROM identities WHERE system = 'PRISME'`), "no insert for a known identifier")

	// Written again by hand, then deleted by hand: the epoch rises, and the next
	// receipt that carries the identifier writes it again.
	_, err = s.pool.Exec(ctx, `INSERT INTO identities (system, identifier, person_id) VALUES ('PRISME', 'D-1', $1)`, person)
	require.NoError(t, err)
	_, err = s.pool.Exec(ctx, `DELETE FROM identities WHERE system = 'PRISME' AND identifier = 'D-1'`)
	require.NoError(t, err)
	d := msg("mesure/4", 1, `{"v":1}`)
	res2, err := s.Ingest(ctx, s.pool, IngestBatch{Connector: "appi", Messages: []*canonical.Message{d}, Targets: targets})
	require.NoError(t, err)
	record(t, s, []DeliveryOutcome{{MessageID: res2.Outcomes[0].ID, Destination: "prisme", Route: "r", Status: StatusDelivered,
		Identifiers: dossier, Subject: person}})
	assert.Equal(t, 1, linked(), "written again after the delete")
}

func TestIdentitySetGenerations(t *testing.T) {
	c := newIdentitySet(3)
	id := func(v string) Identifier { return Identifier{"PRISME", v} }
	ids := []Identifier{id("1"), id("2"), id("3")}
	assert.Equal(t, []int{0, 1, 2}, c.missing(0, ids))
	c.add(0, ids) // full: the newer generation becomes the older
	assert.Empty(t, c.missing(0, ids), "the older generation answers, and they move to the newer")
	c.add(0, []Identifier{id("4"), id("5"), id("6")})
	assert.Equal(t, []int{0}, c.missing(0, ids[:1]), "1 left with the oldest generation")
	assert.Empty(t, c.missing(0, []Identifier{id("4"), id("6")}))
	assert.Equal(t, []int{0, 1, 2}, (*identitySet)(nil).missing(0, ids), "no set: every identifier is inserted")

	assert.Equal(t, []int{0, 1}, c.missing(1, []Identifier{id("4"), id("6")}), "a later epoch empties the set")
	c.add(0, []Identifier{id("4")})
	assert.Equal(t, []int{0}, c.missing(1, []Identifier{id("4")}), "what a transaction of an earlier epoch wrote is not kept")
	c.add(1, []Identifier{id("4")})
	assert.Empty(t, c.missing(1, []Identifier{id("4")}))
	assert.Equal(t, []int{0}, c.missing(0, []Identifier{id("4")}), "asked at an earlier epoch, nothing is known")
	assert.Empty(t, c.missing(1, []Identifier{id("4")}), "and that question empties nothing")
	c.add(-1, []Identifier{id("7")})
	assert.Equal(t, []int{0}, c.missing(1, []Identifier{id("7")}), "written by a transaction that read no epoch: not kept")
}

func TestGenerations(t *testing.T) {
	g := newGenerations[int, string](2)
	g.put(1, "a")
	g.put(2, "b") // full: the newer generation becomes the older
	g.put(3, "c")
	v, ok := g.get(1, false)
	assert.True(t, ok)
	assert.Equal(t, "a", v)
	_, ok = g.get(1, true) // kept: it moves to the newer, full again
	assert.True(t, ok)
	assert.Equal(t, 2, g.len())
	_, ok = g.get(2, false)
	assert.False(t, ok, "2, in the generation dropped")
	g.delete(3)
	g.put(4, "d")
	_, ok = g.get(1, false)
	assert.True(t, ok)
	g.clear()
	assert.Zero(t, g.len())
}
