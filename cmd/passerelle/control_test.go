package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/pipeline/store"
)

func TestRouteAndSourceControls(t *testing.T) {
	cfg, db := opsConfig(t)
	t.Setenv("PASSERELLE_OPERATOR", "bob")

	t.Run("routes list shows each route with its state, lag and legal basis", func(t *testing.T) {
		r := runCLI(t, nil, "routes", "list", "-c", cfg)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, "LEGAL BASIS")
		assert.Regexp(t, `measures-to-archive\s+archive\s+running\s+0\s+0\s+0\s+Test — operator commands`, r.stdout)
	})
	t.Run("a route is paused and resumed, each act audited with the operator's name", func(t *testing.T) {
		r := runCLI(t, nil, "routes", "pause", "measures-to-archive", "--reason", "maintenance window", "-c", cfg)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, "route measures-to-archive paused")
		r = runCLI(t, nil, "routes", "pause", "measures-to-archive", "-c", cfg)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, "already paused")
		r = runCLI(t, nil, "routes", "list", "-c", cfg)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Regexp(t, `measures-to-archive\s+archive\s+paused`, r.stdout)
		assert.Contains(t, r.stdout, "paused by operator:bob at ")
		assert.Contains(t, r.stdout, "maintenance window")
		r = runCLI(t, nil, "routes", "resume", "measures-to-archive", "-c", cfg)
		require.Equal(t, 0, r.code, r.stderr)
		r = runCLI(t, nil, "routes", "list", "--json", "-c", cfg)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, `"state": "running"`)

		st, err := store.Open(t.Context(), db, store.Options{})
		require.NoError(t, err)
		defer st.Close()
		var pauses, resumes int
		require.NoError(t, st.Pool().QueryRow(t.Context(), `SELECT count(*) FILTER (WHERE action = 'pause'),
			count(*) FILTER (WHERE action = 'resume') FROM audit WHERE actor = 'operator:bob'`).Scan(&pauses, &resumes))
		assert.Equal(t, 1, pauses)
		assert.Equal(t, 1, resumes)
	})
	t.Run("an unknown route or source is refused", func(t *testing.T) {
		assert.Equal(t, 1, runCLI(t, nil, "routes", "pause", "nope", "-c", cfg).code)
		assert.Equal(t, 1, runCLI(t, nil, "sources", "pause", "archive", "-c", cfg).code, "a sink is not a source")
		assert.Equal(t, 2, runCLI(t, nil, "routes", "pause", "-c", cfg).code)
	})
	t.Run("a source's checkpoint is reset only while it is paused", func(t *testing.T) {
		r := runCLI(t, nil, "sources", "reset", "appi-export", "120", "-c", cfg)
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.err.Error(), "not paused")
		require.Equal(t, 0, runCLI(t, nil, "sources", "pause", "appi-export", "-c", cfg).code)
		r = runCLI(t, nil, "sources", "reset", "appi-export", "120", "-c", cfg)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, `checkpoint "" -> "120"`)
		r = runCLI(t, nil, "sources", "list", "-c", cfg)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Regexp(t, `appi-export\s+paused\s+120\s+paused by operator:bob`, r.stdout)
	})
}
