package logging

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNew(t *testing.T) {
	t.Run("json lines carry the fixed field names", func(t *testing.T) {
		var buf bytes.Buffer
		log, err := New("json", "info", &buf)
		require.NoError(t, err)
		log.Info("delivered", MessageID("m-1"), Destination("prisme"), Attempt(2), Partition(3), Offset(42))
		log.Debug("hidden at info")
		var line map[string]any
		require.NoError(t, json.Unmarshal(buf.Bytes(), &line))
		assert.Equal(t, "m-1", line["message_id"])
		assert.Equal(t, "prisme", line["destination"])
		assert.EqualValues(t, 2, line["attempt"])
		assert.Contains(t, line, "time")
		assert.NotContains(t, buf.String(), "hidden")
	})
	t.Run("console output is readable", func(t *testing.T) {
		var buf bytes.Buffer
		log, err := New("console", "debug", &buf)
		require.NoError(t, err)
		log.Debug("polling", Connector("genesis"))
		assert.Contains(t, buf.String(), "DEBUG")
		assert.Contains(t, buf.String(), `"connector": "genesis"`)
	})
	t.Run("a bad format or level is an error", func(t *testing.T) {
		_, err := New("xml", "info", &bytes.Buffer{})
		require.Error(t, err)
		_, err = New("json", "loud", &bytes.Buffer{})
		require.Error(t, err)
	})
}
