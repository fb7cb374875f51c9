package appi

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"passerelle/connectors"
	"passerelle/internal/pgtest"
	"passerelle/pipeline/policy"
)

func TestTheInstanceIsASourceASinkAndADecoderForEnforcement(t *testing.T) {
	env := connectors.Env{Name: "appi", Logger: zap.NewNop(), Getenv: func(k string) string {
		if k == "APPI_DSN" {
			return "postgres://appi@appi.justice.example:5432/appi"
		}
		return ""
	}}
	inst, ps := Spec.New(env, map[string]any{"dsn": map[string]any{"env": "APPI_DSN"}}, "connectors.appi")
	require.Empty(t, ps)
	t.Cleanup(func() { _ = inst.Close() })
	assert.NotNil(t, inst.Source, "polling is on by default")
	assert.NotNil(t, inst.Sink)
	assert.NotNil(t, inst.Decoder)
	assert.Equal(t, policy.Enforcement, inst.Recipient)

	sinkOnly, ps := Spec.New(env, map[string]any{"dsn": map[string]any{"env": "APPI_DSN"}, "poll": false}, "connectors.appi")
	require.Empty(t, ps)
	t.Cleanup(func() { _ = sinkOnly.Close() })
	assert.Nil(t, sinkOnly.Source, "poll: false makes a sink-only instance")
	assert.NotNil(t, sinkOnly.Sink)
}

func TestEveryBrokenSettingIsReportedAtOnce(t *testing.T) {
	_, ps := Spec.New(connectors.Env{}, map[string]any{"batchSize": -1, "maxConns": 100, "timeout": "-1s"}, "connectors.appi")
	var paths []string
	for _, p := range ps {
		paths = append(paths, p.Path)
	}
	assert.ElementsMatch(t, []string{"connectors.appi.dsn", "connectors.appi.batchSize", "connectors.appi.maxConns",
		"connectors.appi.timeout"}, paths)
}

func TestADSNThatDoesNotParseIsNotEchoed(t *testing.T) {
	env := connectors.Env{Getenv: func(string) string { return "postgres://appi:s3cr3t@[::1" }}
	_, ps := Spec.New(env, map[string]any{"dsn": map[string]any{"env": "APPI_DSN"}}, "connectors.appi")
	require.Len(t, ps, 1)
	assert.Equal(t, "connectors.appi.dsn", ps[0].Path)
	assert.NotContains(t, ps[0].String(), "s3cr3t")
}

func TestMissingInterfaceTablesAreAnOutageNotBadData(t *testing.T) {
	url := pgtest.NewDatabase(t) // no appi schema
	_, err := NewSource(connectorPool(t, url), SourceOptions{}).Read(context.Background(), "")
	require.ErrorIs(t, err, ErrUnavailable)
	assert.ErrorIs(t, err, connectors.ErrTransient)
	assert.Contains(t, err.Error(), "42P01")

	_, err = deliver(context.Background(), NewSink(connectorPool(t, url), SinkOptions{}), exampleMessages(t, "report")[0])
	require.ErrorIs(t, err, ErrUnavailable)
	assert.ErrorIs(t, err, connectors.ErrTransient)
	assert.Contains(t, err.Error(), "interface tables are missing")
}
