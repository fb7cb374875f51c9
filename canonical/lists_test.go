package canonical

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewMessageWritesARequiredSliceLeftNilAsAnEmptyArray(t *testing.T) {
	rec := PenalRecord{CommittalNumber: "24-2031", EstablishmentCode: "0130101", Status: CustodyStatusPrevenu}
	require.Nil(t, rec.Convictions)
	m, err := NewMessage(TypePenalRecord, "/connectors/genesis", "s", FactID{SystemGenesis, "fiche/24-2031/0130101", 0}, time.Unix(0, 0), rec)
	require.NoError(t, err)
	b := string(m.Data)
	assert.Contains(t, b, `"convictions":[]`)
	assert.Contains(t, b, `"firstNames":[]`)
	assert.Contains(t, b, `"version":0`, "a required zero value is written")
	assert.NotContains(t, b, `"reductions"`, "an absent optional list is left out")
	assert.NotContains(t, b, "null")
}

func TestNewMessageFillsNestedRequiredSlicesWithoutChangingTheCallersValue(t *testing.T) {
	tests := []struct {
		name       string
		conviction Conviction
		want       string
	}{
		{"offences left nil", Conviction{Sentences: []Sentence{{Kind: SentenceAmende}}}, `{"court":"","decisionDate":"","offences":[],"sentences":[{"kind":"AMENDE"}]}`},
		{"sentences left nil", Conviction{Offences: []Offence{{Natinf: "25"}}}, `{"court":"","decisionDate":"","offences":[{"natinf":"25","label":""}],"sentences":[]}`},
		{"both left nil", Conviction{}, `{"court":"","decisionDate":"","offences":[],"sentences":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &PenalRecord{Convictions: []Conviction{tt.conviction}}
			m, err := NewMessage(TypePenalRecord, "/connectors/genesis", "s", FactID{SystemGenesis, "r", 1}, time.Unix(0, 0), rec)
			require.NoError(t, err)
			var got struct {
				Convictions []json.RawMessage `json:"convictions"`
			}
			require.NoError(t, json.Unmarshal(m.Data, &got))
			require.Len(t, got.Convictions, 1)
			assert.JSONEq(t, tt.want, string(got.Convictions[0]))
			assert.Equal(t, tt.conviction, rec.Convictions[0], "the caller's value is not changed")
			assert.Nil(t, rec.Person.FirstNames, "the caller's value is not changed")
		})
	}
}

// deepValue returns a value of typ whose slices of structs hold one element and whose
// pointers to structs are set, recursively, every other field left zero: the shape
// that puts each nested required array within reach of the encoder.
func deepValue(typ reflect.Type) reflect.Value {
	v := reflect.New(typ).Elem()
	if typ.Kind() != reflect.Struct || typ == reflect.TypeFor[time.Time]() {
		return v
	}
	for i := range typ.NumField() {
		f := v.Field(i)
		switch ft := typ.Field(i).Type; {
		case ft.Kind() == reflect.Struct:
			f.Set(deepValue(ft))
		case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct:
			p := reflect.New(ft.Elem())
			p.Elem().Set(deepValue(ft.Elem()))
			f.Set(p)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			f.Set(reflect.Append(reflect.MakeSlice(ft, 0, 1), deepValue(ft.Elem())))
		}
	}
	return v
}

// findNull returns the pointer of the first null in a decoded JSON value, or "".
func findNull(v any, ptr string) string {
	switch v := v.(type) {
	case nil:
		return ptr + " (null)"
	case map[string]any:
		for k, c := range v {
			if p := findNull(c, ptr+"/"+k); p != "" {
				return p
			}
		}
	case []any:
		for i, c := range v {
			if p := findNull(c, fmt.Sprintf("%s/%d", ptr, i)); p != "" {
				return p
			}
		}
	}
	return ""
}

func TestNewMessageWritesNoNullAtAnyDepthOfAnyType(t *testing.T) {
	for _, info := range Types() {
		t.Run(info.Name, func(t *testing.T) {
			data := deepValue(reflect.TypeOf(info.NewData()).Elem()).Interface()
			m, err := NewMessage(info.Type, "/connectors/x", "s", FactID{"X_SYSTEM", "r", 1}, time.Unix(0, 0), data)
			require.NoError(t, err)
			var v any
			require.NoError(t, json.Unmarshal(m.Data, &v))
			assert.Empty(t, findNull(v, ""), "every required array is written, empty or not")
		})
	}
}

func TestAnOptionalListKeepsTheDifferenceBetweenAbsentAndEmpty(t *testing.T) {
	absent, err := json.Marshal(CaseTransfer{})
	require.NoError(t, err)
	assert.NotContains(t, string(absent), `"documents"`)
	empty, err := json.Marshal(CaseTransfer{Documents: []Document{}})
	require.NoError(t, err)
	assert.Contains(t, string(empty), `"documents":[]`)
}

func TestOptionalZeroValuesThatMeanSomethingAreKept(t *testing.T) {
	b, err := json.Marshal(Sentence{Kind: SentenceAmende, AmountCents: Ptr(int64(0)), ProvisionalExecution: Ptr(false)})
	require.NoError(t, err)
	assert.JSONEq(t, `{"kind":"AMENDE","amountCents":0,"provisionalExecution":false}`, string(b))
}

func TestDate(t *testing.T) {
	tests := []struct {
		name  string
		date  Date
		valid bool
	}{
		{"a real date", "2024-02-29", true},
		{"the 31st of February", "2024-02-31", false},
		{"the 29th of February of a common year", "2026-02-29", false},
		{"a French date", "29/02/2024", false},
		{"a date with a time", "2024-02-29T00:00:00Z", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.valid, tt.date.Valid())
			_, err := tt.date.Time()
			if tt.valid {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, ErrInvalidDate)
			}
		})
	}
	paris := time.FixedZone("", 3600)
	assert.Equal(t, Date("2024-03-01"), DateOf(time.Date(2024, 3, 1, 0, 30, 0, 0, paris)), "the date in the time's own zone")
	d, err := Date("1991-11-02").Time()
	require.NoError(t, err)
	assert.Equal(t, time.Date(1991, 11, 2, 0, 0, 0, 0, time.UTC), d)
}

func TestNetReductionDaysSubtractsWithdrawals(t *testing.T) {
	rec := PenalRecord{Reductions: []Reduction{{Type: ReductionRP, Days: 60}, {Type: ReductionRPS, Days: 30}, {Type: ReductionRetrait, Days: 10}}}
	assert.Equal(t, 80, rec.NetReductionDays())
	assert.Equal(t, 0, (&PenalRecord{}).NetReductionDays())
}

func TestReportContentDecodesTheBase64(t *testing.T) {
	d := ReportDocument{ContentBase64: "JVBERi0xLjcK"}
	b, err := d.Content()
	require.NoError(t, err)
	assert.Equal(t, "%PDF-1.7\n", string(b))
	_, err = (&ReportDocument{ContentBase64: "not base64!"}).Content()
	require.Error(t, err)
}
