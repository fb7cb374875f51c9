package pipeline

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
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
