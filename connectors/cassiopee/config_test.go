package cassiopee_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"passerelle/connectors"
	"passerelle/connectors/cassiopee"
	"passerelle/connectors/cassiopee/sim"
)

func TestTheConnectorsSettings(t *testing.T) {
	certs, err := sim.GenerateCerts(t.TempDir(), sim.Courts)
	require.NoError(t, err)
	env := connectors.Env{Name: "cassiopee", Logger: zap.NewNop()}
	paths := func(settings map[string]any) []string {
		_, ps := cassiopee.Spec.New(env, settings, "connectors.cassiopee")
		var out []string
		for _, p := range ps {
			out = append(out, p.Path)
		}
		return out
	}
	t.Run("valid settings make a push source with a decoder for replay", func(t *testing.T) {
		inst, ps := cassiopee.Spec.New(env, map[string]any{"listen": "127.0.0.1:0", "certFile": certs.ServerCert,
			"keyFile": certs.ServerKey, "clientCAFile": certs.CAFile}, "connectors.cassiopee")
		require.Empty(t, ps)
		assert.NotNil(t, inst.Serve)
		assert.Nil(t, inst.Source)
		assert.Nil(t, inst.Sink)
		msgs, err := inst.Decoder.Decode(t.Context(), example(t, exampleProbation), "application/json")
		require.NoError(t, err)
		assert.Len(t, msgs, 1)
	})
	t.Run("every problem is reported with its path", func(t *testing.T) {
		assert.ElementsMatch(t, []string{"connectors.cassiopee.certFile", "connectors.cassiopee.keyFile", "connectors.cassiopee.clientCAFile"},
			paths(map[string]any{}))
		assert.ElementsMatch(t, []string{"connectors.cassiopee.listen", "connectors.cassiopee.maxBodyBytes", "connectors.cassiopee.certFile",
			"connectors.cassiopee.clientCAFile"},
			paths(map[string]any{"listen": "nowhere", "maxBodyBytes": 1 << 30, "certFile": certs.CAFile, "keyFile": certs.ServerKey,
				"clientCAFile": certs.ServerKey}))
		assert.Equal(t, []string{"connectors.cassiopee"}, paths(map[string]any{"certFile": certs.ServerCert, "keyFile": certs.ServerKey,
			"clientCAFile": certs.CAFile, "unknown": true}))
	})
}
