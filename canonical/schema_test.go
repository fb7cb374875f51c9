package canonical

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goSchemaPairs names the schema definition each Go struct mirrors.
var goSchemaPairs = []struct {
	goType      reflect.Type
	schema, def string
}{
	{reflect.TypeFor[Message](), "envelope", "Attributes"},
	{reflect.TypeFor[Duration](), "common", "Duration"},
	{reflect.TypeFor[Identifiers](), "common", "Identifiers"},
	{reflect.TypeFor[Person](), "common", "Person"},
	{reflect.TypeFor[Offence](), "common", "Offence"},
	{reflect.TypeFor[Sentence](), "common", "Sentence"},
	{reflect.TypeFor[PenalRecord](), NamePenalRecord, "PenalRecord"},
	{reflect.TypeFor[Conviction](), NamePenalRecord, "Conviction"},
	{reflect.TypeFor[Reduction](), NamePenalRecord, "Reduction"},
	{reflect.TypeFor[CustodyEvent](), NameCustodyEvent, "CustodyEvent"},
	{reflect.TypeFor[Judgment](), NameJudgment, "Judgment"},
	{reflect.TypeFor[Court](), NameJudgment, "Court"},
	{reflect.TypeFor[Measure](), NameMeasure, "Measure"},
	{reflect.TypeFor[CaseTransfer](), NameCaseTransfer, "CaseTransfer"},
	{reflect.TypeFor[TransferredMeasure](), NameCaseTransfer, "TransferredMeasure"},
	{reflect.TypeFor[Document](), NameCaseTransfer, "Document"},
	{reflect.TypeFor[Report](), NameReport, "Report"},
	{reflect.TypeFor[ReportDocument](), NameReport, "ReportDocument"},
}

// schemaNames are the schema files, without .v1.json.
var schemaNames = []string{"common", "envelope", NamePenalRecord, NameCustodyEvent, NameJudgment, NameMeasure, NameCaseTransfer, NameReport}

// jsonField is a struct field as encoding/json sees it.
type jsonField struct {
	name     string
	optional bool // omitempty or omitzero
	typ      reflect.Type
}

func jsonFields(t *testing.T, typ reflect.Type) map[string]jsonField {
	t.Helper()
	out := map[string]jsonField{}
	for f := range typ.Fields() {
		tag, ok := f.Tag.Lookup("json")
		require.True(t, ok, "%s.%s has a json tag", typ.Name(), f.Name)
		name, opts, _ := strings.Cut(tag, ",")
		optional := slices.ContainsFunc(strings.Split(opts, ","), func(o string) bool { return o == "omitempty" || o == "omitzero" })
		out[name] = jsonField{name: name, optional: optional, typ: f.Type}
	}
	return out
}

func stringSet(v any) []string {
	var out []string
	switch v := v.(type) {
	case []any:
		for _, s := range v {
			out = append(out, fmt.Sprint(s))
		}
	case map[string]any:
		for k := range v {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func TestEveryGoStructHasExactlyTheFieldsOfItsSchemaDefinition(t *testing.T) {
	for _, p := range goSchemaPairs {
		t.Run(p.goType.Name(), func(t *testing.T) {
			def := schemaDef(t, p.schema, p.def)
			props, _ := def["properties"].(map[string]any)
			required := stringSet(def["required"])
			fields := jsonFields(t, p.goType)

			goNames := stringSet(func() map[string]any {
				m := map[string]any{}
				for n := range fields {
					m[n] = nil
				}
				return m
			}())
			assert.Equal(t, stringSet(props), goNames, "json names equal the schema's property names")

			for name, f := range fields {
				isRequired := slices.Contains(required, name)
				assert.Equal(t, !isRequired, f.optional, "%s: omitempty/omitzero exactly on optional fields", name)
				prop, _ := props[name].(map[string]any)
				if prop["type"] == "array" {
					assert.Equal(t, reflect.Slice, f.typ.Kind(), "%s: an array is a slice", name)
				}
			}
		})
	}
}

func TestEveryObjectDefinitionOfTheSchemasHasItsGoStruct(t *testing.T) {
	var covered, defined []string
	for _, p := range goSchemaPairs {
		covered = append(covered, p.schema+"#"+p.def)
	}
	for _, name := range schemaNames {
		defs, _ := loadSchema(t, name)["$defs"].(map[string]any)
		for def, v := range defs {
			if d, _ := v.(map[string]any); d["type"] == "object" {
				defined = append(defined, name+"#"+def)
			}
		}
	}
	sort.Strings(covered)
	sort.Strings(defined)
	assert.Equal(t, defined, covered)
}

func TestAZeroValueMadeReadyByNewMessageWritesEveryRequiredFieldAndNothingElse(t *testing.T) {
	for _, p := range goSchemaPairs[1:] { // the envelope's data is raw JSON, null when unset
		t.Run(p.goType.Name(), func(t *testing.T) {
			b, err := json.Marshal(withRequiredLists(reflect.New(p.goType).Elem().Interface()))
			require.NoError(t, err)
			var got map[string]any
			require.NoError(t, json.Unmarshal(b, &got))
			for k, v := range got {
				assert.NotNil(t, v, "%s is not null", k)
			}
			assert.Equal(t, stringSet(schemaDef(t, p.schema, p.def)["required"]), stringSet(got))
		})
	}
}

// enumPointers maps every enum of the schemas (file#pointer of the schema holding it)
// to the Go constants of its type.
var enumPointers = map[string][]string{
	"common#/$defs/Person/properties/sex":                    {string(SexMale), string(SexFemale)},
	"common#/$defs/Offence/properties/classification":        strs(ClassificationContravention, ClassificationDelit, ClassificationCrime),
	"common#/$defs/Obligation":                               strs(ObligationSoins, ObligationTravail, ObligationFormation, ObligationIndemniserVictime, ObligationResidence, ObligationInterdictionContactVictime, ObligationInterdictionParaitre, ObligationStage, ObligationJustifierPaiement, ObligationAutre),
	"common#/$defs/MeasureKind":                              strs(MeasureSP, MeasureTIG, MeasureDDSE, MeasureSL, MeasurePE, MeasureLC, MeasureLSC, MeasureSSJ, MeasureSME, MeasureCJ, MeasureAEM),
	"common#/$defs/Sentence/properties/kind":                 strs(SentenceEmprisonnement, SentenceReclusionCriminelle, SentenceDetentionCriminelle, SentenceEmprisonnementSursis, SentenceSursisProbatoire, SentenceTIG, SentenceDDSE, SentenceAmende, SentenceJoursAmende, SentenceStage, SentenceSuiviSocioJudiciaire, SentenceInterdiction, SentenceConfiscation, SentenceContraintePenale, SentenceRevocationSursis),
	"penal-record#/$defs/PenalRecord/properties/status":      strs(CustodyStatusPrevenu, CustodyStatusCondamne, CustodyStatusMixte),
	"penal-record#/$defs/Conviction/properties/decisionKind": strs(DecisionJugement, DecisionArret, DecisionOrdonnance),
	"penal-record#/$defs/Reduction/properties/type":          strs(ReductionRP, ReductionRPS, ReductionRetrait),
	"custody-event#/$defs/CustodyEvent/properties/kind":      strs(CustodyEventEcrou, CustodyEventLeveeEcrou, CustodyEventTransfert, CustodyEventMajFichePenale),
	"judgment#/$defs/Judgment/properties/nature":             strs(NatureJugement, NatureArret, NatureOrdonnancePenale, NatureCRPC),
	"judgment#/$defs/Judgment/properties/character":          strs(CharacterContradictoire, CharacterContradictoireASignifier, CharacterDefaut, CharacterIteratifDefaut),
	"measure#/$defs/Measure/properties/status":               strs(MeasureStatusAPrendreEnCharge, MeasureStatusEnCours, MeasureStatusSuspendue, MeasureStatusTerminee, MeasureStatusRevoquee, MeasureStatusArchivee),
	"case-transfer#/$defs/CaseTransfer/properties/reason":    strs(ReasonDemenagement, ReasonIncarceration, ReasonAutre),
	"report#/$defs/Report/properties/kind":                   strs(ReportAnnuel, ReportIncident, ReportFinMesure, ReportPreSentenciel),
}

func strs[T ~string](vs ...T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// findEnums records the pointer of every schema object that holds an enum.
func findEnums(v any, ptr string, out map[string][]string) {
	switch v := v.(type) {
	case map[string]any:
		if e, ok := v["enum"]; ok {
			out[ptr] = stringSet(e)
		}
		for k, c := range v {
			findEnums(c, ptr+"/"+strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1"), out)
		}
	case []any:
		for i, c := range v {
			findEnums(c, fmt.Sprintf("%s/%d", ptr, i), out)
		}
	}
}

func TestEveryEnumOfTheSchemasHasTheGoConstantsOfItsType(t *testing.T) {
	found := map[string][]string{}
	for _, name := range schemaNames {
		enums := map[string][]string{}
		findEnums(loadSchema(t, name), "", enums)
		for ptr, values := range enums {
			found[name+"#"+ptr] = values
		}
	}
	want := map[string][]string{}
	for ptr, values := range enumPointers {
		v := slices.Clone(values)
		sort.Strings(v)
		want[ptr] = v
	}
	assert.Equal(t, want, found)
}

func TestEveryTypeHasItsSchemaFileWithTheSameTypeAndDataschema(t *testing.T) {
	var names []string
	for _, info := range Types() {
		names = append(names, info.Name)
		s := loadSchema(t, info.Name)
		assert.Equal(t, info.DataSchema, s["$id"], info.Name)
		props, _ := s["properties"].(map[string]any)
		typ, _ := props["type"].(map[string]any)
		ds, _ := props["dataschema"].(map[string]any)
		assert.Equal(t, info.Type, typ["const"], info.Name)
		assert.Equal(t, info.DataSchema, ds["const"], info.Name)
	}
	assert.Equal(t, SchemaIDEnvelope, loadSchema(t, "envelope")["$id"])
	assert.Equal(t, SchemaIDCommon, loadSchema(t, "common")["$id"])

	dirs, err := os.ReadDir(filepath.Join(schemasDir, "examples"))
	require.NoError(t, err)
	var exampleDirs []string
	for _, d := range dirs {
		exampleDirs = append(exampleDirs, d.Name())
	}
	sort.Strings(names)
	assert.Equal(t, names, exampleDirs, "one example folder per type")
}
