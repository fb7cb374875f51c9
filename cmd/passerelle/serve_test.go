package main

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"passerelle/config"
)

// TestTheMemoryBudgetIsApplied: serve sets the collector from the configuration,
// leaves alone what GOGC or GOMEMLIMIT set, and says which it used.
func TestTheMemoryBudgetIsApplied(t *testing.T) {
	gc0, limit0 := debug.SetGCPercent(100), debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetGCPercent(gc0); debug.SetMemoryLimit(limit0) })
	read := func() (int, int64) {
		gc := debug.SetGCPercent(100)
		debug.SetGCPercent(gc)
		return gc, debug.SetMemoryLimit(-1)
	}
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

	core, logs := observer.New(zap.InfoLevel)
	applyMemory(config.Memory{Limit: "200MiB", GCPercent: 400}, env(nil), zap.New(core))
	gc, limit := read()
	assert.Equal(t, 400, gc)
	assert.Equal(t, int64(200<<20), limit)
	entry := logs.FilterMessage("memory budget").All()
	if assert.Len(t, entry, 1) {
		assert.Equal(t, map[string]any{"gcPercent": "400", "limit": "200MiB"}, entry[0].ContextMap())
	}

	applyMemory(config.Memory{Limit: "off", GCPercent: 100}, env(nil), zap.NewNop())
	gc, limit = read()
	assert.Equal(t, 100, gc)
	assert.Equal(t, int64(math.MaxInt64), limit, "off is no limit")

	debug.SetGCPercent(250)
	debug.SetMemoryLimit(64 << 20)
	core, logs = observer.New(zap.InfoLevel)
	applyMemory(config.Memory{Limit: "200MiB", GCPercent: 400}, env(map[string]string{"GOGC": "250", "GOMEMLIMIT": "64MiB"}), zap.New(core))
	gc, limit = read()
	assert.Equal(t, 250, gc, "GOGC wins")
	assert.Equal(t, int64(64<<20), limit, "GOMEMLIMIT wins")
	entry = logs.FilterMessage("memory budget").All()
	if assert.Len(t, entry, 1) {
		assert.Equal(t, map[string]any{"gcPercent": "GOGC=250", "limit": "GOMEMLIMIT=64MiB"}, entry[0].ContextMap())
	}
}
