package pipeline

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"passerelle/config"
	"passerelle/pipeline/store"
)

func TestTheHubOpensItsStoreWithTheConfiguredPoolAndCaches(t *testing.T) {
	env := map[string]string{"PASSERELLE_AUDIT_KEY": "k"}
	got := storeOptions(config.Database{URL: "postgres://h/db", MaxConns: 24, IdentityCache: 1 << 20, OutboxCache: -1},
		func(k string) string { return env[k] })
	assert.Equal(t, store.Options{MaxConns: 24, AuditKey: []byte("k"), IdentityCache: 1 << 20, OutboxCache: -1}, got)
}
