package canonical

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestFactRefHelpers(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"a GENESIS fiche is its écrou and establishment", GenesisFicheRef("24-0412", "0750101"), "fiche/24-0412/0750101"},
		{"a GENESIS movement is its sequence", GenesisMovementRef(1048213), "mouvement/1048213"},
		{"an APPI measure is its numero_mesure", APPIMeasureRef("M-69-2024-018734"), "mesure/M-69-2024-018734"},
		{"a PRISME event is its id", PrismeEventRef("EVT-2024-0091823"), "evenement/EVT-2024-0091823"},
		{
			"a Cassiopée decision is its numéro parquet and the hash of NOM|PRÉNOMS|JJMMAAAA",
			CassiopeeDecisionRef("24012345678", "Martin", []string{"Julien", "Pierre"}, "1991-11-02"),
			"decision/24012345678/" + sha256Hex("MARTIN|JULIEN PIERRE|02111991")[:16],
		},
		{
			"accents are upper-cased, not removed",
			CassiopeeDecisionRef("24031122334", "Petit", []string{"Léa"}, "1999-05-09"),
			"decision/24031122334/" + sha256Hex("PETIT|LÉA|09051999")[:16],
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.got)
		})
	}
}

func TestCassiopeeDecisionRef(t *testing.T) {
	ref := func(npp, last string, first []string, birth Date) string {
		return CassiopeeDecisionRef(npp, last, first, birth)
	}
	base := ref("23098765432", "N'DIAYE", []string{"Moussa"}, "1988-06-17")
	tests := []struct {
		name string
		a, b string
		same bool
	}{
		{"case does not change the key", base, ref("23098765432", "n'diaye", []string{"MOUSSA"}, "1988-06-17"), true},
		{"extra white space does not change the key", base, ref("23098765432", "  N'DIAYE ", []string{" Moussa", ""}, "1988-06-17"), true},
		{"a co-defendant of the same case gets another key", base, ref("23098765432", "N'DIAYE", []string{"Ibrahima"}, "1990-01-05"), false},
		{"another case of the same person gets another key", base, ref("24098765432", "N'DIAYE", []string{"Moussa"}, "1988-06-17"), false},
		{"the order of first names matters", ref("24012345678", "MARTIN", []string{"Pierre", "Julien"}, "1991-11-02"), ref("24012345678", "MARTIN", []string{"Julien", "Pierre"}, "1991-11-02"), false},
		{"first names are not glued together", ref("24012345678", "MARTIN", []string{"Jean", "Pierre"}, "1991-11-02"), ref("24012345678", "MARTIN", []string{"Jeanpierre"}, "1991-11-02"), false},
		{"a malformed birth date still gives a stable key", ref("24012345678", "MARTIN", []string{"Jean"}, "02/11/1991"), ref("24012345678", "MARTIN", []string{"Jean"}, "02/11/1991"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.same, tt.a == tt.b)
		})
	}
	assert.NotContains(t, base, "DIAYE", "no name travels in the key")
	assert.Len(t, base, len("decision/23098765432/")+16)
}

func TestFactOf(t *testing.T) {
	person := Person{LastName: "MARTIN", FirstNames: []string{"Julien", "Pierre"}, BirthDate: "1991-11-02"}
	tests := []struct {
		name string
		data any
		want FactID
	}{
		{"a penal record is GENESIS's fiche in its version", PenalRecord{CommittalNumber: "24-0412", EstablishmentCode: "0750101", Version: 7}, FactID{SystemGenesis, "fiche/24-0412/0750101", 7}},
		{"a custody event is GENESIS's movement at its sequence", &CustodyEvent{Sequence: 1048213}, FactID{SystemGenesis, "mouvement/1048213", 1048213}},
		{"a judgment is Cassiopée's decision for the person in its transmission", Judgment{ProsecutionNumber: "24012345678", TransmissionNumber: 2, Person: person}, FactID{SystemCassiopee, CassiopeeDecisionRef("24012345678", "MARTIN", []string{"Julien", "Pierre"}, "1991-11-02"), 2}},
		{"a measure is APPI's measure at its seq", &Measure{MeasureNumber: "M-1", Version: 88412}, FactID{SystemAPPI, "mesure/M-1", 88412}},
		{"a case transfer is PRISME's event in version 0", CaseTransfer{EventID: "EVT-1"}, FactID{SystemPrisme, "evenement/EVT-1", 0}},
		{"a report is PRISME's event in version 0", &Report{EventID: "EVT-2"}, FactID{SystemPrisme, "evenement/EVT-2", 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FactOf(tt.data)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	for _, bad := range []any{nil, (*PenalRecord)(nil), "fiche", Person{}} {
		_, err := FactOf(bad)
		require.ErrorIs(t, err, ErrNoFact, "%T", bad)
	}
}
