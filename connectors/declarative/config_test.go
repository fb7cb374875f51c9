package declarative

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"passerelle/connectors"
)

// with returns a copy of the example's settings with one change made by edit.
func with(t *testing.T, edit func(s map[string]any)) map[string]any {
	t.Helper()
	s := exampleSettings(t, t.TempDir())
	mapping := map[string]any{}
	for k, v := range s["mapping"].(map[string]any) {
		mapping[k] = v
	}
	s["mapping"] = mapping
	edit(s)
	return s
}

func TestTheMappingIsCheckedAgainstTheSchemaBeforeStart(t *testing.T) {
	for _, c := range []struct {
		name  string
		edit  func(s map[string]any)
		path  string
		words string
	}{
		{"a required field left unmapped is refused", func(s map[string]any) {
			delete(s["mapping"].(map[string]any), "decisionDate")
		}, "connectors.appi-csv.mapping", "required field decisionDate"},
		{"a required field of the person left unmapped is refused", func(s map[string]any) {
			delete(s["mapping"].(map[string]any), "person.birthDate")
		}, "connectors.appi-csv.mapping", "person.birthDate"},
		{"a field the type does not have is refused", func(s map[string]any) {
			s["mapping"].(map[string]any)["person.shoeSize"] = "row.nom"
		}, "connectors.appi-csv.mapping.person.shoeSize", "no field"},
		{"an expression of the wrong type is refused", func(s map[string]any) {
			s["mapping"].(map[string]any)["version"] = "row.seq"
		}, "connectors.appi-csv.mapping.version", "gives a string, the field is integer"},
		{"a list for a text field is refused", func(s map[string]any) {
			s["mapping"].(map[string]any)["court"] = `fields(row.juridiction, ";")`
		}, "connectors.appi-csv.mapping.court", "gives an array"},
		{"an expression that does not compile is refused", func(s map[string]any) {
			s["mapping"].(map[string]any)["court"] = "row.juridiction +"
		}, "connectors.appi-csv.mapping.court", "not a valid CEL expression"},
		{"an unknown function is refused", func(s map[string]any) {
			s["mapping"].(map[string]any)["court"] = "upper(row.juridiction)"
		}, "connectors.appi-csv.mapping.court", "not a valid CEL expression"},
		{"a version that is not an integer is refused", func(s map[string]any) {
			s["fact"] = map[string]any{"ref": `"mesure/" + row.numero_mesure`, "version": "row.seq"}
		}, "connectors.appi-csv.fact.version", "integer"},
		{"a missing reference is refused", func(s map[string]any) {
			s["fact"] = map[string]any{"version": "int(row.seq)"}
		}, "connectors.appi-csv.fact.ref", "required"},
		{"an unknown canonical type is refused", func(s map[string]any) { s["type"] = "mesure" }, "connectors.appi-csv.type", "canonical type"},
		{"a lower-case system is refused", func(s map[string]any) { s["system"] = "appi" }, "connectors.appi-csv.system", "upper case"},
		{"an unknown encoding is refused", func(s map[string]any) {
			s["files"].(map[string]any)["encoding"] = "ebcdic"
		}, "connectors.appi-csv.files.encoding", "latin1"},
		{"a separator of two characters is refused", func(s map[string]any) {
			s["files"].(map[string]any)["separator"] = ";;"
		}, "connectors.appi-csv.files.separator", "one character"},
		{"files and http at once are refused", func(s map[string]any) {
			s["http"] = map[string]any{"url": "http://127.0.0.1:1/x"}
		}, "connectors.appi-csv", "exactly one"},
		{"an unknown setting is refused", func(s map[string]any) { s["colour"] = "blue" }, "connectors.appi-csv", "colour"},
	} {
		t.Run(c.name, func(t *testing.T) {
			inst, ps := Spec.New(connectors.Env{Name: "appi-csv", Logger: zap.NewNop()}, with(t, c.edit), "connectors.appi-csv")
			require.NotEmpty(t, ps, "accepted")
			assert.Nil(t, inst)
			found := false
			for _, p := range ps {
				found = found || (p.Path == c.path && strings.Contains(p.Message, c.words))
			}
			assert.True(t, found, "no problem at %s saying %q among %v", c.path, c.words, ps)
		})
	}
	t.Run("the worked example's mapping is accepted", func(t *testing.T) {
		_, ps := Spec.New(connectors.Env{Name: "appi-csv"}, exampleSettings(t, t.TempDir()), "connectors.appi-csv")
		assert.Empty(t, ps)
	})
}
