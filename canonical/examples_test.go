package canonical

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEveryValidExampleRoundTripsThroughTheGoTypes(t *testing.T) {
	for _, path := range validExamples(t) {
		t.Run(exampleName(path), func(t *testing.T) {
			raw := readFile(t, path)
			m, err := DecodeMessage(raw)
			require.NoError(t, err, "the envelope decodes strictly")
			payload, err := m.Payload()
			require.NoError(t, err, "the data decodes strictly into its type's struct")

			data, err := json.Marshal(payload)
			require.NoError(t, err)
			again := *m
			again.Data = data
			out, err := json.Marshal(&again)
			require.NoError(t, err)

			assert.Equal(t, jsonValue(t, raw), jsonValue(t, out), "re-encoding loses or adds nothing")
		})
	}
}

func TestEveryValidExampleSitsInTheFolderOfItsType(t *testing.T) {
	for _, path := range validExamples(t) {
		t.Run(exampleName(path), func(t *testing.T) {
			m, err := DecodeMessage(readFile(t, path))
			require.NoError(t, err)
			info, ok := LookupType(m.Type)
			require.True(t, ok, "type %q is known", m.Type)
			assert.Equal(t, filepath.Base(filepath.Dir(filepath.Dir(path))), info.Name)
			assert.Equal(t, info.DataSchema, m.DataSchema)
		})
	}
}

func TestEveryValidExampleCarriesTheFactIdentityItsSourceGives(t *testing.T) {
	for _, path := range validExamples(t) {
		t.Run(exampleName(path), func(t *testing.T) {
			m, err := DecodeMessage(readFile(t, path))
			require.NoError(t, err)
			payload, err := m.Payload()
			require.NoError(t, err)
			fact, err := FactOf(payload)
			require.NoError(t, err)
			assert.Equal(t, fact, m.Fact())
		})
	}
}
