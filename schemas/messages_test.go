package schemas_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/internal/jsonstrict"
	"passerelle/schemas"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestMessagesOfTheInvalidExamples keeps the wording of every message the examples
// produce in testdata/messages.golden, so that a change of wording is reviewed.
// Run `go test ./schemas -run TestMessages -update` after a deliberate change.
func TestMessagesOfTheInvalidExamples(t *testing.T) {
	reg := mustLoad(t)
	var b strings.Builder
	for _, ex := range examples(t) {
		if ex.valid {
			continue
		}
		doc, err := jsonstrict.Decode(ex.doc)
		require.NoError(t, err)
		var verr *schemas.ValidationError
		require.ErrorAs(t, reg.ValidateAs(ex.typeName, doc), &verr)
		for _, v := range verr.Violations {
			b.WriteString(ex.typeName + "/" + ex.name + ".json: " + v.String() + "\n")
		}
	}
	golden := filepath.Join("testdata", "messages.golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(golden, []byte(b.String()), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run with -update to create it")
	assert.Equal(t, string(want), b.String())
}
