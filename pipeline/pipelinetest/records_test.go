package pipelinetest_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/canonical"
	"passerelle/internal/jsonstrict"
	"passerelle/pipeline/pipelinetest"
	"passerelle/schemas"
)

func TestPenalRecordsAreValidPenalRecordsOfRealisticSize(t *testing.T) {
	reg, err := schemas.Load()
	require.NoError(t, err)
	lines := pipelinetest.PenalRecords(3000, 7)
	require.Len(t, lines, 3000)
	total, largest := 0, 0
	for i, line := range lines {
		m, err := canonical.DecodeMessage(line)
		require.NoError(t, err, "record %d", i)
		assert.Equal(t, canonical.TypePenalRecord, m.Type)
		assert.Empty(t, m.Subject, "the pipeline resolves the person, as for a GENESIS connector")
		// The pipeline sets the subject before validating; do the same here.
		m.Subject = "person-1"
		raw, err := json.Marshal(m)
		require.NoError(t, err)
		doc, err := jsonstrict.Decode(raw)
		require.NoError(t, err)
		require.NoError(t, reg.Validate(doc), "record %d: %s", i, line)
		var rec canonical.PenalRecord
		require.NoError(t, json.Unmarshal(m.Data, &rec))
		assert.Equal(t, m.FactVersion, rec.Version, "the fact version is the fiche's version")
		assert.Equal(t, canonical.GenesisFicheRef(rec.CommittalNumber, rec.EstablishmentCode), m.FactRef)
		total += len(line)
		largest = max(largest, len(line))
	}
	mean := total / len(lines)
	t.Logf("mean %d bytes, largest %d bytes", mean, largest)
	assert.GreaterOrEqual(t, mean, 1536, "records weigh like the schema examples (1.5 to 3 KiB)")
	assert.LessOrEqual(t, mean, 3072)
	assert.Less(t, largest, 8192)
}

func TestPenalRecordsAreTheSameForTheSameSeed(t *testing.T) {
	a, b := pipelinetest.PenalRecords(500, 11), pipelinetest.PenalRecords(500, 11)
	assert.Equal(t, a, b)
	c := pipelinetest.PenalRecords(500, 12)
	assert.NotEqual(t, a[0], c[0])
}

func TestPenalRecordsVaryAndEvolveLikeAnExport(t *testing.T) {
	lines := pipelinetest.PenalRecords(20000, 3)
	versions := map[string]int64{}
	keyRefs := map[string]map[string]bool{} // person key → fiches
	natinfs, estabs, kinds, reductions, statuses, ids := map[string]bool{}, map[string]bool{}, map[canonical.SentenceKind]bool{},
		map[canonical.ReductionType]bool{}, map[canonical.CustodyStatus]bool{}, map[string]bool{}
	updates := 0
	for i, line := range lines {
		m, err := canonical.DecodeMessage(line)
		require.NoError(t, err)
		assert.False(t, ids[m.ID], "record %d: message ids are unique", i)
		ids[m.ID] = true
		if v, seen := versions[m.FactRef]; seen {
			require.Greater(t, m.FactVersion, v, "record %d: a fiche's versions only grow in file order", i)
			updates++
		}
		versions[m.FactRef] = m.FactVersion
		var rec canonical.PenalRecord
		require.NoError(t, json.Unmarshal(m.Data, &rec))
		key := rec.Person.LastName + "|" + string(rec.Person.BirthDate) + "|" + rec.Person.BirthPlace
		for _, f := range rec.Person.FirstNames {
			key += "|" + f
		}
		if keyRefs[key] == nil {
			keyRefs[key] = map[string]bool{}
		}
		keyRefs[key][m.FactRef] = true
		estabs[rec.EstablishmentCode] = true
		statuses[rec.Status] = true
		for _, c := range rec.Convictions {
			for _, o := range c.Offences {
				natinfs[o.Natinf] = true
			}
			for _, s := range c.Sentences {
				kinds[s.Kind] = true
			}
		}
		for _, r := range rec.Reductions {
			reductions[r.Type] = true
		}
	}
	returning := 0
	for _, refs := range keyRefs {
		if len(refs) > 1 {
			returning++
		}
	}
	t.Logf("%d fiches, %d newer versions, %d persons, %d with several committals", len(versions), updates, len(keyRefs), returning)
	assert.Greater(t, updates, len(lines)/5, "many records are newer versions of a fiche already sent")
	assert.Less(t, updates, len(lines)/2)
	assert.Greater(t, returning, 100, "some persons come back under a new committal")
	assert.GreaterOrEqual(t, len(natinfs), 30)
	assert.GreaterOrEqual(t, len(estabs), 25)
	assert.GreaterOrEqual(t, len(kinds), 6)
	assert.Len(t, reductions, 3)
	assert.Len(t, statuses, 3)
}

func TestWritePenalRecordsWritesTheLinesAsAFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "records.jsonl")
	lines, err := pipelinetest.WritePenalRecords(path, 100, 5)
	require.NoError(t, err)
	body, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, pipelinetest.JoinLines(lines), body)
	assert.Equal(t, 100, bytes.Count(body, []byte("\n")))
}
