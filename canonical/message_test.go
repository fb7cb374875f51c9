package canonical

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIdempotencyKey(t *testing.T) {
	long := strings.Repeat("x", 200)
	longKey := "GENESIS:fiche/" + long + "/0750101:3"
	tests := []struct {
		name string
		fact FactID
		want string
	}{
		{"a GENESIS fiche is system, reference and version", FactID{SystemGenesis, GenesisFicheRef("24-0412", "0750101"), 7}, "GENESIS:fiche/24-0412/0750101:7"},
		{"version 0 is written, not dropped", FactID{SystemPrisme, PrismeEventRef("EVT-2024-0091823"), 0}, "PRISME:evenement/EVT-2024-0091823:0"},
		{"a key of exactly 128 bytes is kept as it is", FactID{"APPI", "mesure/" + strings.Repeat("9", 128-len("APPI:mesure/:1")), 1}, "APPI:mesure/" + strings.Repeat("9", 128-len("APPI:mesure/:1")) + ":1"},
		{"a longer key becomes the system and the sha256 of the whole key", FactID{SystemGenesis, "fiche/" + long + "/0750101", 3}, "GENESIS:sha256:" + sha256Hex(longKey)},
		{"a system name too long for even that leaves only the hash", FactID{strings.Repeat("S", 70), long, 1}, "sha256:" + sha256Hex(strings.Repeat("S", 70)+":"+long+":1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.fact.IdempotencyKey()
			assert.Equal(t, tt.want, got)
			assert.LessOrEqual(t, len(got), MaxIdempotencyKeyLen)
			m := Message{FactSystem: tt.fact.System, FactRef: tt.fact.Ref, FactVersion: tt.fact.Version}
			assert.Equal(t, got, m.IdempotencyKey(), "the message's key is its fact's")
		})
	}
}

func TestTwoVersionsOfALongFactGetTwoKeys(t *testing.T) {
	ref := "fiche/" + strings.Repeat("x", 200)
	a := FactID{SystemGenesis, ref, 1}.IdempotencyKey()
	b := FactID{SystemGenesis, ref, 2}.IdempotencyKey()
	assert.NotEqual(t, a, b)
}

func TestNewMessageFillsTheEnvelope(t *testing.T) {
	at := time.Date(2025, 1, 8, 14, 5, 31, 0, time.FixedZone("", 3600))
	rec := PenalRecord{CommittalNumber: "24-0412", EstablishmentCode: "0750101", Version: 7, Status: CustodyStatusPrevenu}
	fact, err := FactOf(rec)
	require.NoError(t, err)

	m, err := NewMessage(TypePenalRecord, "/connectors/genesis", "5f0c2d4e-8b1a-4c3e-9d7f-2a6b8c1e4f90", fact, at, &rec)
	require.NoError(t, err)

	id, err := uuid.Parse(m.ID)
	require.NoError(t, err)
	assert.Equal(t, uuid.Version(7), id.Version())
	assert.Equal(t, SpecVersion, m.SpecVersion)
	assert.Equal(t, TypePenalRecord, m.Type)
	assert.Equal(t, DataSchemaPenalRecord, m.DataSchema)
	assert.Equal(t, ContentTypeJSON, m.DataContentType)
	assert.Equal(t, "/connectors/genesis", m.Source)
	assert.Equal(t, "5f0c2d4e-8b1a-4c3e-9d7f-2a6b8c1e4f90", m.Subject)
	assert.True(t, at.Equal(m.Time))
	assert.Equal(t, fact, m.Fact())
	assert.Equal(t, "GENESIS:fiche/24-0412/0750101:7", m.IdempotencyKey())

	var back PenalRecord
	require.NoError(t, m.DecodeData(&back))
	assert.Equal(t, rec.CommittalNumber, back.CommittalNumber)
	assert.Contains(t, string(m.Data), `"convictions":[]`, "an unset required list is written empty")
}

func TestNewMessageGivesEachMessageItsOwnID(t *testing.T) {
	fact := FactID{SystemAPPI, APPIMeasureRef("M-1"), 1}
	a, err := NewMessage(TypeMeasure, "/connectors/appi", "s", fact, time.Unix(0, 0), Measure{})
	require.NoError(t, err)
	b, err := NewMessage(TypeMeasure, "/connectors/appi", "s", fact, time.Unix(0, 0), Measure{})
	require.NoError(t, err)
	assert.NotEqual(t, a.ID, b.ID)
	assert.Equal(t, a.IdempotencyKey(), b.IdempotencyKey(), "the same fact keeps its key")
}

func TestNewMessageTakesRawDataAsItIs(t *testing.T) {
	raw := json.RawMessage(`{"eventId":"EVT-1"}`)
	m, err := NewMessage(TypeReport, "/connectors/prisme", "s", FactID{SystemPrisme, PrismeEventRef("EVT-1"), 0}, time.Unix(0, 0), raw)
	require.NoError(t, err)
	assert.JSONEq(t, string(raw), string(m.Data))
	raw[2] = 'X'
	assert.NotContains(t, string(m.Data), "X", "the message keeps its own copy")
}

func TestNewMessageRefuses(t *testing.T) {
	good := FactID{SystemGenesis, GenesisMovementRef(1), 1}
	tests := []struct {
		name string
		typ  string
		fact FactID
		data any
		want error
	}{
		{"an unknown type", "fr.justice.penal-record.v9", good, PenalRecord{}, ErrUnknownType},
		{"a payload of another type", TypeCustodyEvent, good, &Judgment{}, ErrDataTypeMismatch},
		{"a fact without system", TypeCustodyEvent, FactID{"", "r", 1}, CustodyEvent{}, ErrInvalidFact},
		{"a fact without reference", TypeCustodyEvent, FactID{SystemGenesis, "", 1}, CustodyEvent{}, ErrInvalidFact},
		{"a fact with a negative version", TypeCustodyEvent, FactID{SystemGenesis, "r", -1}, CustodyEvent{}, ErrInvalidFact},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewMessage(tt.typ, "/connectors/genesis", "s", tt.fact, time.Unix(0, 0), tt.data)
			require.ErrorIs(t, err, tt.want)
			assert.Nil(t, m)
		})
	}
	t.Run("raw data that is not JSON", func(t *testing.T) {
		_, err := NewMessage(TypeReport, "/connectors/prisme", "s", good, time.Unix(0, 0), json.RawMessage(`{"a":`))
		require.Error(t, err)
	})
	t.Run("data that cannot be marshalled", func(t *testing.T) {
		_, err := NewMessage(TypeReport, "/connectors/prisme", "s", good, time.Unix(0, 0), map[string]any{"f": func() {}})
		require.Error(t, err)
	})
}

func TestDecodingIsStrict(t *testing.T) {
	m := penalRecordExample(t)
	whole, err := json.Marshal(m)
	require.NoError(t, err)
	tests := []struct {
		name string
		raw  string
		want error
	}{
		{"an unknown envelope attribute", strings.Replace(string(whole), `"specversion"`, `"traceparent":"00",  "specversion"`, 1), nil},
		{"trailing data", string(whole) + ` {}`, ErrTrailingData},
		{"a string where a number goes", strings.Replace(string(whole), `"factversion":12`, `"factversion":"12"`, 1), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NotEqual(t, string(whole), tt.raw, "the case changes the document")
			_, err := DecodeMessage([]byte(tt.raw))
			require.Error(t, err)
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want)
			}
		})
	}
	t.Run("an unknown data field", func(t *testing.T) {
		bad := *m
		bad.Data = json.RawMessage(strings.Replace(string(m.Data), `"version"`, `"libelleEtablissement":"x","version"`, 1))
		_, err := bad.Payload()
		require.Error(t, err)
		assert.Contains(t, err.Error(), "libelleEtablissement", "the error names the field")
	})
	t.Run("an unknown type", func(t *testing.T) {
		bad := *m
		bad.Type = "fr.justice.unknown.v1"
		_, err := bad.Payload()
		require.ErrorIs(t, err, ErrUnknownType)
	})
}

func TestDecodingErrorsCarryNoPersonalData(t *testing.T) {
	m := penalRecordExample(t)
	bad := *m
	bad.Data = json.RawMessage(strings.Replace(string(m.Data), `"lastName": "LEFEBVRE"`, `"lastName": ["LEFEBVRE"]`, 1))
	require.NotEqual(t, string(m.Data), string(bad.Data))
	_, err := bad.Payload()
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "LEFEBVRE")
}

func TestTypesAreTheSixCanonicalTypes(t *testing.T) {
	got := Types()
	require.Len(t, got, 6)
	want := []struct{ typ, name, schema string }{
		{TypePenalRecord, NamePenalRecord, DataSchemaPenalRecord},
		{TypeCustodyEvent, NameCustodyEvent, DataSchemaCustodyEvent},
		{TypeJudgment, NameJudgment, DataSchemaJudgment},
		{TypeMeasure, NameMeasure, DataSchemaMeasure},
		{TypeCaseTransfer, NameCaseTransfer, DataSchemaCaseTransfer},
		{TypeReport, NameReport, DataSchemaReport},
	}
	for i, w := range want {
		assert.Equal(t, w.typ, got[i].Type)
		assert.Equal(t, w.name, got[i].Name)
		assert.Equal(t, w.schema, got[i].DataSchema)
		assert.Equal(t, "fr.justice."+w.name+".v1", w.typ)
		assert.Equal(t, "urn:passerelle:schema:"+w.name+":v1", w.schema)

		byType, ok := LookupType(w.typ)
		require.True(t, ok)
		byName, ok := LookupName(w.name)
		require.True(t, ok)
		assert.Equal(t, byType.Type, byName.Type)
		typ, ok := typeOfData(byType.NewData())
		require.True(t, ok)
		assert.Equal(t, w.typ, typ, "NewData gives the type's own struct")
	}
	got[0].Type = "changed"
	assert.Equal(t, TypePenalRecord, Types()[0].Type, "Types returns a copy")
	_, ok := LookupType("fr.justice.other.v1")
	assert.False(t, ok)
	_, ok = LookupName("other")
	assert.False(t, ok)
}
