package store

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/canonical"
	"passerelle/internal/pgtest"
)

// The relay gets from the cache the message it would have read from the outbox, for
// the rows this process committed; the others, and every row once published or
// dropped from the cache, come from PostgreSQL as before.
func TestUnpublishedFromTheCacheIsTheOutboxRow(t *testing.T) {
	ctx := t.Context()
	url := pgtest.NewDatabase(t)
	open := func(opts Options) *Store {
		s, err := Open(ctx, url, opts)
		require.NoError(t, err)
		t.Cleanup(s.Close)
		return s
	}
	cached := open(Options{OutboxCache: 2})
	other := open(Options{OutboxCache: -1}) // another process: its rows are not in cached's cache
	// A time PostgreSQL cannot keep whole (nanoseconds), in a zone it does not keep.
	paris := time.FixedZone("CEST", 2*3600)
	at := time.Date(2024, 6, 1, 10, 0, 0, 123456789, paris)
	batch := func(refs ...string) []*canonical.Message {
		out := make([]*canonical.Message, len(refs))
		for i, ref := range refs {
			out[i] = msg(ref, 1, `{"ref": "`+ref+`"}`)
			out[i].Time = at
		}
		return out
	}
	// Only a process whose relay reads the outbox caches what it commits.
	_, err := other.Ingest(ctx, other.pool, IngestBatch{Connector: "appi", Messages: batch("x"), Targets: targets})
	require.NoError(t, err)
	assert.Zero(t, cached.recent.msgs.len(), "nothing ingested by cached yet")
	_, err = cached.Ingest(ctx, cached.pool, IngestBatch{Connector: "appi", Messages: batch("y"), Targets: targets})
	require.NoError(t, err)
	assert.Zero(t, cached.recent.msgs.len(), "its relay has not read the outbox: not cached")
	y, err := cached.Unpublished(ctx, 0, 10)
	require.NoError(t, err)
	require.Len(t, y, 2)
	require.NoError(t, cached.MarkPublished(ctx, []int64{y[0].Seq, y[1].Seq}))

	for _, in := range []struct {
		s    *Store
		msgs []*canonical.Message
	}{{cached, batch("a", "b")}, {other, batch("c")}, {cached, batch("d")}} {
		_, err = in.s.Ingest(ctx, in.s.pool, IngestBatch{Connector: "appi", Messages: in.msgs, Targets: targets})
		require.NoError(t, err)
	}
	assert.Len(t, cached.recent.msgs.cur, 1, "d, in a new generation")
	assert.Len(t, cached.recent.msgs.old, 2, "a and b")

	fromCache, err := cached.Unpublished(ctx, 0, 10)
	require.NoError(t, err)
	fromOutbox, err := other.Unpublished(ctx, 0, 10)
	require.NoError(t, err)
	require.Len(t, fromOutbox, 4)
	assert.Equal(t, fromOutbox, fromCache, "the same rows, in the same order, holding the same messages")
	for _, om := range fromCache {
		assert.Equal(t, "2024-06-01T08:00:00.123456Z", om.Message.Time.Format(time.RFC3339Nano))
	}
	cachedRef := func(om OutboxMessage) bool {
		_, ok := cached.recent.msgs.get(om.Seq, false)
		return ok
	}
	assert.True(t, cachedRef(fromCache[0]))
	assert.False(t, cachedRef(fromCache[2]), "c was committed by the other process")

	require.NoError(t, cached.MarkPublished(ctx, []int64{fromCache[0].Seq, fromCache[2].Seq}))
	assert.False(t, cachedRef(fromCache[0]), "forgotten once published")
	left, err := cached.Unpublished(ctx, 0, 10)
	require.NoError(t, err)
	assert.Equal(t, []OutboxMessage{fromOutbox[1], fromOutbox[3]}, left)
	left, err = cached.Unpublished(ctx, 0, 1)
	require.NoError(t, err)
	assert.Equal(t, []OutboxMessage{fromOutbox[1]}, left, "the limit is PostgreSQL's")
	left, err = cached.Unpublished(ctx, fromOutbox[1].Seq, 10)
	require.NoError(t, err)
	assert.Equal(t, []OutboxMessage{fromOutbox[3]}, left, "after a seq")
}

func TestOutboxCacheBudget(t *testing.T) {
	c := newOutboxCache(1000)
	c.lastRead.Store(time.Now().UnixNano())
	big := &canonical.Message{Data: make([]byte, outboxCacheBytes/4)}
	for seq := range int64(10) {
		c.put([]OutboxMessage{{Seq: seq, Message: big}})
	}
	assert.LessOrEqual(t, c.msgs.len(), 8, "at most two generations of outboxCacheBytes")
	_, ok := c.msgs.get(9, false)
	assert.True(t, ok, "the newest kept")
	c.lastRead.Store(time.Now().Add(-relayIdle).UnixNano())
	c.put([]OutboxMessage{{Seq: 10, Message: big}})
	_, ok = c.msgs.get(10, false)
	assert.False(t, ok, "its relay idle: not cached")
}
