package config

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMemoryApplyPutsBackWhatItChanged(t *testing.T) {
	gc0, limit0 := debug.SetGCPercent(150), debug.SetMemoryLimit(300<<20)
	t.Cleanup(func() { debug.SetGCPercent(gc0); debug.SetMemoryLimit(limit0) })
	read := func() (int, int64) {
		gc := debug.SetGCPercent(100)
		debug.SetGCPercent(gc)
		return gc, debug.SetMemoryLimit(-1)
	}

	_, _, restore := Memory{Limit: "200MiB", GCPercent: 400}.Apply(func(string) string { return "" })
	gc, limit := read()
	assert.Equal(t, 400, gc)
	assert.Equal(t, int64(200<<20), limit)
	restore()
	gc, limit = read()
	assert.Equal(t, 150, gc, "the collector's percentage before")
	assert.Equal(t, int64(300<<20), limit, "the limit before")

	env := map[string]string{"GOGC": "250", "GOMEMLIMIT": "64MiB"}
	gcWords, limitWords, restore := Memory{Limit: "200MiB", GCPercent: 400}.Apply(func(k string) string { return env[k] })
	assert.Equal(t, "GOGC=250", gcWords)
	assert.Equal(t, "GOMEMLIMIT=64MiB", limitWords)
	debug.SetGCPercent(120)
	restore()
	gc, _ = read()
	assert.Equal(t, 120, gc, "nothing it did not change is put back")
}
