package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func noEnv(string) string { return "" }

const minimal = `
database:
  url: postgres://postgres@127.0.0.1:5432/postgres
connectors:
  prisme: {url: "http://127.0.0.1:8084"}
routes:
  - name: genesis-to-prisme
    types: [penal-record]
    destination: prisme
    legalBasis: {reference: "Code pénitentiaire R240-1", purpose: "suivi SPIP"}
    allow:
      penal-record:
        - person.lastName
        - convictions[].offences[].natinf
`

func TestConfig(t *testing.T) {
	t.Run("a minimal file gets every default", func(t *testing.T) {
		c, err := Read(strings.NewReader(minimal), noEnv)
		require.NoError(t, err)
		assert.Equal(t, "json", c.Log.Format)
		assert.True(t, c.Kafka.Embedded())
		assert.Equal(t, 6, c.Kafka.Partitions)
		assert.Equal(t, 1, c.Kafka.ReplicationFactor)
		assert.Equal(t, "prisme", c.Connectors["prisme"].Kind)
		assert.Equal(t, "http://127.0.0.1:8084", c.Connectors["prisme"].Settings["url"])
		assert.Equal(t, 20, c.Delivery.MaxAttempts)
		assert.Equal(t, 30*24*time.Hour, c.Retention.Payloads)
		assert.Equal(t, 180*24*time.Hour, c.Retention.Quarantine)
		assert.Equal(t, 3*365*24*time.Hour, c.Retention.Audit)
		assert.Equal(t, time.Hour, c.Retention.Every)
		assert.Equal(t, DoubtfulSeparate, c.Identities.Doubtful)
	})
	t.Run("what doubtful matches do is checked", func(t *testing.T) {
		c, err := Read(strings.NewReader(minimal+"identities: {doubtful: wait}\n"), noEnv)
		require.NoError(t, err)
		assert.Equal(t, DoubtfulWait, c.Identities.Doubtful)
		_, err = Read(strings.NewReader(minimal+"identities: {doubtful: merge}\n"), noEnv)
		require.Error(t, err)
		assert.Contains(t, err.Error(), `identities.doubtful: must be separate or wait, not "merge"`)
	})
	t.Run("the store's cache sizes are read, and a negative one turns its cache off", func(t *testing.T) {
		c, err := Read(strings.NewReader(minimal), noEnv)
		require.NoError(t, err)
		assert.Zero(t, c.Database.IdentityCache, "0: the store's default")
		assert.Zero(t, c.Database.OutboxCache)
		yml := strings.Replace(minimal, "database:\n", "database:\n  identityCache: 1048576\n  outboxCache: -1\n", 1)
		c, err = Read(strings.NewReader(yml), noEnv)
		require.NoError(t, err)
		assert.Equal(t, 1<<20, c.Database.IdentityCache)
		assert.Equal(t, -1, c.Database.OutboxCache)
	})
	t.Run("retention periods are checked", func(t *testing.T) {
		_, err := Read(strings.NewReader(minimal+"retention: {payloads: 720h, quarantine: 24h, audit: 240h, every: 1s}\n"), noEnv)
		require.Error(t, err)
		for _, want := range []string{"retention.quarantine: must be at least payloads", "retention.audit: must be at least", "retention.every"} {
			assert.Contains(t, err.Error(), want)
		}
		c, err := Read(strings.NewReader(minimal+"retention: {payloads: 168h, audit: 87600h}\n"), noEnv)
		require.NoError(t, err)
		assert.Equal(t, 7*24*time.Hour, c.Retention.Payloads)
		assert.Equal(t, 10*365*24*time.Hour, c.Retention.Audit)
	})
	t.Run("the environment overrides the database URL and the brokers", func(t *testing.T) {
		env := map[string]string{"DATABASE_URL": "postgres://u:secret@db/x", "PASSERELLE_KAFKA_BROKERS": "k1:9092, k2:9092"}
		c, err := Read(strings.NewReader(minimal), func(k string) string { return env[k] })
		require.NoError(t, err)
		assert.Equal(t, "postgres://u:secret@db/x", c.Database.URL)
		assert.Equal(t, []string{"k1:9092", "k2:9092"}, c.Kafka.Brokers)
		assert.Equal(t, 3, c.Kafka.ReplicationFactor, "a real cluster replicates by default")
	})
	t.Run("the memory budget is Go's with the embedded broker, tighter with a cluster", func(t *testing.T) {
		c, err := Read(strings.NewReader(minimal), noEnv)
		require.NoError(t, err)
		assert.Equal(t, Memory{Limit: "off", GCPercent: 100}, c.Memory)
		n, err := c.Memory.MemoryLimit()
		require.NoError(t, err)
		assert.Equal(t, int64(-1), n)
		c, err = Read(strings.NewReader(minimal+"kafka: {brokers: [k1:9092]}\n"), noEnv)
		require.NoError(t, err)
		assert.Equal(t, Memory{Limit: "200MiB", GCPercent: 400}, c.Memory)
		n, err = c.Memory.MemoryLimit()
		require.NoError(t, err)
		assert.Equal(t, int64(200<<20), n)
		c, err = Read(strings.NewReader(minimal+"memory: {limit: 1GiB, gcPercent: -1}\n"), noEnv)
		require.NoError(t, err)
		n, err = c.Memory.MemoryLimit()
		require.NoError(t, err)
		assert.Equal(t, int64(1<<30), n)
		assert.Equal(t, -1, c.Memory.GCPercent)
		for in, want := range map[string]string{
			"memory: {limit: 200MB}":                  `memory.limit: must be a size such as 200MiB or 1GiB (units B, KiB, MiB, GiB, TiB), or off, not "200MB"`,
			"memory: {limit: -5MiB}":                  `memory.limit: must be a size such as 200MiB`,
			"memory: {limit: 99999999999TiB}":         `memory.limit: must be a size such as 200MiB`,
			"memory: {limit: 1MiB}":                   "memory.limit: must be at least 32MiB, not 1MiB",
			"memory: {gcPercent: -2}":                 "memory.gcPercent: must be -1 (collect at the limit only) or positive, not -2",
			"memory: {limit: \"off\", gcPercent: -1}": "memory.gcPercent: -1 needs a limit",
		} {
			_, err := Read(strings.NewReader(minimal+in+"\n"), noEnv)
			require.Error(t, err, in)
			assert.Contains(t, err.Error(), want, in)
		}
	})
	t.Run("every problem is reported at once with its path", func(t *testing.T) {
		bad := `
log: {format: xml}
kafka: {brokers: [nohostport], partitions: 0}
connectors:
  Bad_Name: {}
routes:
  - name: r1
    types: [penal-record]
    destination: nowhere
  - name: r1
    types: []
    destination: ""
    legalBasis: {reference: x, purpose: y}
    allow:
      judgment: ["person..x"]
`
		_, err := Read(strings.NewReader(bad), noEnv)
		var ps Problems
		require.ErrorAs(t, err, &ps)
		msg := err.Error()
		for _, want := range []string{
			"log.format: must be json or console",
			"database.url: required",
			"kafka.brokers[0]: must be host:port",
			"connectors.Bad_Name: name must be lower-case",
			"routes[0].destination: no connector named \"nowhere\"",
			"routes[0].legalBasis.reference: required",
			"routes[0].legalBasis.purpose: required",
			"routes[0].allow: no field policy for type \"penal-record\"",
			"routes[1].name: duplicate route name",
			"routes[1].types: at least one canonical type",
			"routes[1].destination: required",
			"routes[1].allow.judgment: the route does not carry type",
			"routes[1].allow.judgment[0]: \"person..x\" is not a field path",
		} {
			assert.Contains(t, msg, want)
		}
	})
	t.Run("an unknown key is refused, not ignored", func(t *testing.T) {
		_, err := Read(strings.NewReader(minimal+"\nloggin: {}\n"), noEnv)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "loggin")
	})
	t.Run("a route without a legal basis refuses to load", func(t *testing.T) {
		noBasis := strings.Replace(minimal, `legalBasis: {reference: "Code pénitentiaire R240-1", purpose: "suivi SPIP"}`, "", 1)
		_, err := Read(strings.NewReader(noBasis), noEnv)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "routes[0].legalBasis.reference: required")
	})
}

func TestConnectorSettings(t *testing.T) {
	type genesisConfig struct {
		URL          string `yaml:"url"`
		PollInterval string `yaml:"pollInterval"`
	}
	t.Run("known settings decode", func(t *testing.T) {
		var g genesisConfig
		ps := DecodeSettings(map[string]any{"url": "http://x", "pollInterval": "2s"}, &g, "connectors.genesis")
		require.Empty(t, ps)
		assert.Equal(t, "http://x", g.URL)
	})
	t.Run("an unknown setting is reported under the connector's path", func(t *testing.T) {
		var g genesisConfig
		ps := DecodeSettings(map[string]any{"ulr": "http://x"}, &g, "connectors.genesis")
		require.Len(t, ps, 1)
		assert.Equal(t, "connectors.genesis", ps[0].Path)
		assert.Contains(t, ps[0].Message, "ulr")
	})
}

func TestSecret(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(file, []byte("s3cret\n"), 0o600))
	env := func(k string) string { return map[string]string{"PRISME_SECRET": "fromenv"}[k] }

	v, err := Secret{Env: "PRISME_SECRET"}.Resolve(env)
	require.NoError(t, err)
	assert.Equal(t, "fromenv", v)
	v, err = Secret{File: file}.Resolve(env)
	require.NoError(t, err)
	assert.Equal(t, "s3cret", v, "the trailing newline of a mounted secret is not part of it")

	var ps Problems
	Secret{}.Check("connectors.prisme.clientSecret", env, &ps)
	Secret{Env: "MISSING"}.Check("connectors.prisme.clientSecret", env, &ps)
	Secret{Env: "A", File: file}.Check("connectors.prisme.clientSecret", env, &ps)
	require.Len(t, ps, 3)
	assert.Contains(t, ps[0].Message, "required")
	assert.Contains(t, ps[1].Message, "MISSING")
	assert.Contains(t, ps[2].Message, "not both")
	for _, p := range ps {
		assert.NotContains(t, p.Message, "fromenv", "a problem never prints a secret")
	}
}

func TestThePoliciesFileGivesEveryRouteItsFields(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	write("policies.yaml", `
archive:
  measure:
    - why: the archive keeps the measure's number and state
      fields: [measureNumber, status]
    - why: and the person's file number, to find it again
      fields: [person.identifiers.appiFileNumber]
elsewhere:
  report:
    - why: "another deployment's destination, ignored here"
      fields: [eventId]
`)
	base := `
database: {url: "postgres://u@h/db"}
connectors:
  archive: {kind: webhook, url: "http://127.0.0.1:9/in"}
policies: policies.yaml
routes:
  - name: measures-to-archive
    types: [measure]
    destination: archive
    legalBasis: {reference: "Test", purpose: "policies file"}
`
	t.Run("the route's fields are the groups of its destination's policy, in order", func(t *testing.T) {
		c, err := Load(write("ok.yaml", base))
		require.NoError(t, err)
		assert.Equal(t, []string{"measureNumber", "status", "person.identifiers.appiFileNumber"}, c.Routes[0].Allow["measure"])
	})
	t.Run("a route that names fields of its own is refused: the file is the one place", func(t *testing.T) {
		_, err := Load(write("own.yaml", base+"    allow:\n      measure: [measureNumber]\n"))
		require.ErrorContains(t, err, "routes[0].allow: the field policy lives in the policies file")
	})
	t.Run("a type the policy does not name has no fields: the route refuses to start", func(t *testing.T) {
		_, err := Load(write("type.yaml", strings.Replace(base, "types: [measure]", "types: [measure, report]", 1)))
		require.ErrorContains(t, err, `no field policy for type "report"`)
	})
	t.Run("a group without its reason, or with a bad path, is refused with its path", func(t *testing.T) {
		write("policies.yaml", "archive:\n  measure:\n    - fields: [measureNumber, \"not a path\"]\n")
		_, err := Load(write("bad.yaml", base))
		require.ErrorContains(t, err, "policies.archive.measure[0].why: required")
		require.ErrorContains(t, err, "policies.archive.measure[0].fields[1]")
	})
	t.Run("a missing policies file is named", func(t *testing.T) {
		_, err := Load(write("missing.yaml", strings.Replace(base, "policies.yaml", "nowhere.yaml", 1)))
		require.ErrorContains(t, err, "policies:")
		require.ErrorContains(t, err, "nowhere.yaml")
	})
}
