package declarative

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/connectors"
	"passerelle/connectors/connectortest"
)

// readAll reads src to the end as the pipeline does and returns the facts and the last
// position.
func readAll(t *testing.T, src connectors.Source, pos string) ([]connectors.Fact, string) {
	t.Helper()
	var facts []connectors.Fact
	for range 1000 {
		b, err := src.Read(t.Context(), pos)
		require.NoError(t, err)
		if len(b.Facts) == 0 && b.Next == pos {
			return facts, pos
		}
		facts = append(facts, b.Facts...)
		pos = b.Next
	}
	t.Fatal("the source never reaches the end")
	return nil, ""
}

// measureSettings are minimal settings of a measure source over dir.
func measureSettings(dir string, files map[string]any) map[string]any {
	files["dir"] = dir
	return map[string]any{
		"type": "measure", "system": "TEST", "files": files,
		"fact": map[string]any{"ref": `"mesure/" + row.id`, "version": "int(row.v)"},
		"mapping": map[string]any{
			"version": "int(row.v)", "measureNumber": "row.id", "kind": `"SP"`, "court": `"TJ LYON"`,
			"decisionDate": `"2024-03-01"`, "obligations": "[]", "status": `"EN_COURS"`,
			"person.lastName": `"NOMTEST"`, "person.firstNames": `["Test"]`, "person.birthDate": `"1990-01-01"`,
		},
	}
}

func write(t *testing.T, path, body string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
}

func TestAFileWhoseHeaderIsNotTheConfiguredColumnsIsRejectedWhole(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.csv"), "id,version\n1,1\n") // "version", not "v"
	write(t, filepath.Join(dir, "b.csv"), "id,v\n2,1\n")
	src := newSource(t, measureSettings(dir, map[string]any{"columns": []any{"id", "v"}})).Source
	facts, _ := readAll(t, src, "")
	require.Len(t, facts, 2)
	require.ErrorIs(t, facts[0].Err, ErrFileRefused)
	require.NoError(t, facts[1].Err, "the next file is read all the same")

	assert.FileExists(t, filepath.Join(dir, RejectedDir, "00000001_a.csv"))
	var rep Report
	raw, err := os.ReadFile(filepath.Join(dir, RejectedDir, "00000001_a.csv.report.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &rep))
	assert.Equal(t, "rejected", rep.Outcome)
	require.Len(t, rep.Reasons, 1)
	assert.Contains(t, rep.Reasons[0].Reason, "column 2 is not the configured column v")
	assert.FileExists(t, filepath.Join(dir, DoneDir, "00000002_b.csv"))
}

func TestFilesWithoutAHeaderTakeTheConfiguredColumns(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.txt"), "1;4\n2;5\nbroken\n")
	inst := newSource(t, measureSettings(dir, map[string]any{
		"header": false, "columns": []any{"id", "v"}, "separator": ";", "pattern": "*.txt",
	}))
	facts, _ := readAll(t, inst.Source, "")
	require.Len(t, facts, 3)
	require.NoError(t, facts[0].Err)
	assert.Equal(t, "mesure/1", facts[0].Messages[0].FactRef)
	assert.EqualValues(t, 5, facts[1].Messages[0].FactVersion)
	require.Error(t, facts[2].Err)
	t.Run("and their raw input still decodes for replay", func(t *testing.T) {
		msgs, err := inst.Decoder.Decode(t.Context(), facts[1].Raw, facts[1].ContentType)
		require.NoError(t, err)
		assert.Equal(t, facts[1].Messages[0].IdempotencyKey(), msgs[0].IdempotencyKey())
	})
}

func TestJSONLinesAreReadAsRecords(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.jsonl"), `{"id":"1","v":2}`+"\n\n"+`{"id":"2"`+"\n"+`{"id":"3","v":1}`)
	facts, _ := readAll(t, newSource(t, measureSettings(dir, map[string]any{"format": "jsonl"})).Source, "")
	require.Len(t, facts, 3, "a blank line is no record; a last line without its newline is one")
	require.NoError(t, facts[0].Err)
	require.ErrorIs(t, facts[1].Err, ErrDecode)
	assert.Equal(t, "decode", facts[1].Stage)
	require.NoError(t, facts[2].Err)
}

func TestAFileDroppedAgainUnderTheSameNameIsReadAgainAndKeptApart(t *testing.T) {
	dir := t.TempDir()
	settings := measureSettings(dir, map[string]any{})
	write(t, filepath.Join(dir, "a.csv"), "id,v\n1,1\n")
	src := newSource(t, settings).Source
	facts, pos := readAll(t, src, "")
	require.Len(t, facts, 1)
	write(t, filepath.Join(dir, "a.csv"), "id,v\n1,2\n")
	facts, _ = readAll(t, newSource(t, settings).Source, pos)
	require.Len(t, facts, 1)
	assert.EqualValues(t, 2, facts[0].Messages[0].FactVersion)
	assert.FileExists(t, filepath.Join(dir, DoneDir, "00000001_a.csv"))
	assert.FileExists(t, filepath.Join(dir, DoneDir, "00000002_a.csv"))
}

func TestAFolderNotThereYetIsATransientFailure(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "later")
	src := newSource(t, measureSettings(dir, map[string]any{})).Source
	_, err := src.Read(t.Context(), "")
	require.Error(t, err)
	assert.False(t, connectors.IsPermanent(err))
	require.NoError(t, os.Mkdir(dir, 0o750))
	write(t, filepath.Join(dir, "a.csv"), "id,v\n1,1\n")
	facts, _ := readAll(t, src, "")
	assert.Len(t, facts, 1)
}

func TestAPositionOfAnotherSourceIsRefused(t *testing.T) {
	src := newSource(t, measureSettings(t.TempDir(), map[string]any{})).Source
	for _, pos := range []string{"1234", `{"n":0}`, `{"n":1,"offset":5}`, `{"n":1,"colour":"blue"}`} {
		_, err := src.Read(t.Context(), pos)
		require.ErrorIs(t, err, ErrPosition, pos)
	}
}

func TestALineLongerThanTheLimitIsRejectedAndTheNextOneRead(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.csv"), "id,v\n"+strings.Repeat("9", 300)+",1\n2,1\n")
	facts, _ := readAll(t, newSource(t, measureSettings(dir, map[string]any{"maxLine": 100})).Source, "")
	require.Len(t, facts, 2)
	require.ErrorIs(t, facts[0].Err, ErrDecode)
	assert.LessOrEqual(t, len(facts[0].Raw), 4096)
	require.NoError(t, facts[1].Err)
}

func TestEveryMessageIsValidAndErrorsQuoteNoValue(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.csv"), "id,v\n1,1\nDUPONT,x\n")
	facts, _ := readAll(t, newSource(t, measureSettings(dir, map[string]any{})).Source, "")
	reg := mustRegistry(t)
	require.NoError(t, connectortest.CheckFacts(reg, facts, []string{"DUPONT"}))
}
