package pipeline

import (
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"

	"passerelle/pipeline/store"
)

func TestLaneVersions(t *testing.T) {
	l := newLaneVersions()
	k := func(i int) factKey { return factKey{"APPI", "mesure/" + strconv.Itoa(i)} }
	l.delivered(k(0), 6)
	assert.True(t, l.newer(k(0), 3), "an older version after a newer one is caught")
	assert.False(t, l.newer(k(0), 6), "the same version is not newer")
	assert.False(t, l.newer(k(0), 7))
	assert.False(t, l.newer(k(1), 1), "a fact the lane never delivered")

	// Every entry outlives laneMemory later deliveries of other facts.
	for i := 1; i <= laneMemory; i++ {
		l.delivered(k(i), 1)
		if !l.newer(k(0), 3) {
			t.Fatalf("the entry was dropped after %d later deliveries", i)
		}
	}
	// And the memory stays bounded, whatever the lane sees.
	for i := laneMemory + 1; i < 10*laneMemory; i++ {
		l.delivered(k(i), 1)
		assert.LessOrEqual(t, len(l.cur)+len(l.prev), 2*laneMemory)
	}
	assert.False(t, l.newer(k(0), 3), "long after, PostgreSQL's state says it")

	// A fact delivered again keeps its newest version across generations.
	l.delivered(k(5), 9)
	for i := range laneMemory {
		l.delivered(k(100*laneMemory+i), 1)
	}
	l.delivered(k(5), 4) // cannot happen (an older one is superseded), but never lowers it
	assert.True(t, l.newer(k(5), 8))
}

func TestOffsetTracker(t *testing.T) {
	msg := func(off int64) kafka.Message { return kafka.Message{Topic: "t", Partition: 0, Offset: off} }
	committed := func(out []kafka.Message) int64 {
		if len(out) == 0 {
			return -1
		}
		return out[0].Offset
	}
	tr := newOffsetTracker()
	for off := range int64(5) {
		tr.fetched(msg(off))
	}
	assert.Equal(t, int64(-1), committed(tr.done(msg(1))), "never past a message in flight")
	assert.Equal(t, int64(1), committed(tr.done(msg(0))), "the prefix 0-1 is done")
	assert.Equal(t, int64(-1), committed(tr.done(msg(3))))

	// A rebalance gives the partition back: kafka-go reads it again from the last
	// commit (2) while 2 and 4 of the first fetch are still in the lanes. The second
	// fetch of 3 is done before the first fetch of 2.
	for off := int64(2); off < 5; off++ {
		tr.fetched(msg(off))
	}
	assert.Equal(t, int64(-1), committed(tr.done(msg(3))))
	assert.Equal(t, int64(3), committed(tr.done(msg(2))), "2 and 3 are done, the first 4 is in flight")
	assert.Equal(t, int64(-1), committed(tr.done(msg(2))))
	assert.Equal(t, int64(4), committed(tr.done(msg(4))), "commits go on: both fetches of each offset are matched")
	assert.Equal(t, int64(-1), committed(tr.done(msg(4))), "the second 4 moves nothing: a commit never goes back")
	assert.Empty(t, tr.parts["t/0"].queue)
	assert.Empty(t, tr.parts["t/0"].done, "nothing left over")
}

func TestOutboxCursor(t *testing.T) {
	t0 := time.Unix(1000, 0)
	rows := func(seqs ...int64) []store.OutboxMessage {
		out := make([]store.OutboxMessage, len(seqs))
		for i, s := range seqs {
			out[i].Seq = s
		}
		return out
	}
	c := newOutboxCursor(time.Second, t0)
	assert.Equal(t, int64(0), c.from(t0))
	c.read(false)
	c.published(rows(100, 101), t0)
	assert.Equal(t, int64(101), c.from(t0), "after the first rows published")

	c.read(false)
	c.published(rows(103, 104), t0) // 102 taken, not committed yet
	assert.Equal(t, int64(101), c.from(t0.Add(500*time.Millisecond)), "waits before 102")
	c.read(false)
	c.published(rows(102), t0.Add(600*time.Millisecond))
	assert.Equal(t, int64(104), c.from(t0.Add(700*time.Millisecond)), "102 came: over 103 and 104, published before")

	c.read(false)
	c.published(rows(106), t0.Add(700*time.Millisecond)) // 105 rolled back
	assert.Equal(t, int64(104), c.from(t0.Add(900*time.Millisecond)), "waits before 105")
	assert.Equal(t, int64(0), c.from(t0.Add(time.Second)), "the rescan from the first row, every second")
	c.read(true)
	c.published(rows(50, 107), t0.Add(time.Second)) // a full batch: 50 was sent back, 107 is new
	assert.Equal(t, int64(107), c.from(t0.Add(1100*time.Millisecond)), "after a full batch the rescan goes on")
	c.read(false)
	assert.Equal(t, int64(107), c.from(t0.Add(1800*time.Millisecond)), "the rescan done, and 105 passed after a second")
	assert.Equal(t, int64(107), c.after)
	assert.Empty(t, c.ahead)
}
