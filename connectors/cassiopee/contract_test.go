package cassiopee

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/canonical"
	"passerelle/connectors"
)

// A mutation of a contract example: what to change, and the problems it must cause.
type ruleCase struct {
	name    string
	example string
	mutate  func(t testing.TB, doc map[string]any)
	want    []string // "pointer rule", in Decode's order
	detail  string   // a fragment of the first problem's Detail, when given
}

// sets returns a mutation that sets each pointer to its value (deleteMarker removes).
func sets(kv ...any) func(t testing.TB, doc map[string]any) {
	return func(t testing.TB, doc map[string]any) {
		t.Helper()
		for i := 0; i < len(kv); i += 2 {
			set(t, doc, kv[i].(string), kv[i+1])
		}
	}
}

// peine0 and peine1 are the sentences of the first defendant of an example.
const (
	peine0 = "/prevenus/0/peines/0"
	peine1 = "/prevenus/0/peines/1"
)

func runRuleCases(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := exampleDoc(t, tc.example)
			tc.mutate(t, doc)
			d, problems, err := Decode(encode(t, doc))
			if len(tc.want) == 0 {
				require.NoError(t, err, "problems: %v", pointersAndRules(problems))
				require.NotNil(t, d)
				return
			}
			require.ErrorIs(t, err, ErrRefused)
			assert.Nil(t, d)
			assert.Equal(t, tc.want, pointersAndRules(problems))
			if tc.detail != "" && len(problems) > 0 {
				assert.Contains(t, problems[0].Detail, tc.detail)
			}
		})
	}
}

func TestDecodeAcceptsTheContractExamples(t *testing.T) {
	for _, name := range examples {
		t.Run(name, func(t *testing.T) {
			d := mustDecode(t, exampleBody(t, name))
			assert.Equal(t, "3", d.VersionFormat)
			assert.NotEmpty(t, d.Prevenus)
		})
	}
}

func TestDecodeRefusesWhatTheSchemaCannotSay(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{"an impossible decision date is invalid input, not a guess", exampleFerme,
			sets("/decision/dateDecision", "31/02/2024"),
			[]string{"/decision/dateDecision calendar-date"}, `"31/02/2024" n'est pas une date du calendrier`},
		{"an impossible birth date is refused", exampleFerme,
			sets("/prevenus/0/identite/dateNaissance", "29/02/2023"),
			[]string{"/prevenus/0/identite/dateNaissance calendar-date"}, `"29/02/2023"`},
		{"an impossible date of the facts is refused", exampleFerme,
			sets("/prevenus/0/infractions/0/dateFaits", "31/04/2023"),
			[]string{"/prevenus/0/infractions/0/dateFaits calendar-date"}, ""},
		{"an impossible enforceability date is refused", exampleFerme,
			sets("/decision/executoireLe", "30/02/2024"),
			[]string{"/decision/executoireLe calendar-date"}, ""},
		{"a decision enforceable before it was given is refused", exampleFerme,
			sets("/decision/executoireLe", "04/02/2024"),
			[]string{"/decision/executoireLe enforceable-before-decision"}, `"04/02/2024" précède la date de la décision "05/02/2024"`},
		{"a zero duration 0A0M0J is refused", exampleFerme,
			sets(peine0+"/duree", "0A0M0J", peine0+"/dureeSursis", deleteMarker),
			[]string{peine0 + "/duree zero-duration"}, `"0A0M0J" est une durée nulle`},
		{"a zero suspended part 0J is refused", exampleFerme,
			sets(peine0+"/dureeSursis", "0J"),
			[]string{peine0 + "/dureeSursis zero-duration"}, ""},
		{"a zero probation period is refused", exampleProbation,
			sets(peine0+"/delaiEpreuve", "0A"),
			[]string{peine0 + "/delaiEpreuve zero-duration"}, ""},
		{"a duration beyond the canonical bounds is refused, not clipped", exampleFerme,
			sets(peine0+"/duree", "10000A"),
			[]string{peine0 + "/duree duration-out-of-range"}, "9999 ans"},
		{"a suspended part longer than the duration is refused", exampleFerme,
			sets(peine0+"/dureeSursis", "3A"),
			[]string{peine0 + "/dureeSursis suspended-exceeds-duration"}, `la durée du sursis "3A" dépasse la durée prononcée "2A6M"`},
		{"a suspended part one day longer is refused", exampleFerme,
			sets(peine0+"/duree", "6M", peine0+"/dureeSursis", "6M1J"),
			[]string{peine0 + "/dureeSursis suspended-exceeds-duration"}, ""},
		{"a suspended month is longer than 27 days", exampleFerme,
			sets(peine0+"/duree", "27J", peine0+"/dureeSursis", "1M"),
			[]string{peine0 + "/dureeSursis suspended-exceeds-duration"}, ""},
		{"32 suspended days are longer than a month", exampleFerme,
			sets(peine0+"/duree", "1M", peine0+"/dureeSursis", "32J"),
			[]string{peine0 + "/dureeSursis suspended-exceeds-duration"}, ""},
		{"13 suspended months are longer than a year", exampleFerme,
			sets(peine0+"/duree", "1A", peine0+"/dureeSursis", "13M"),
			[]string{peine0 + "/dureeSursis suspended-exceeds-duration"}, ""},
		{"a suspended part without the duration it belongs to is refused", exampleFerme,
			sets(peine1+"/dureeSursis", "6M"),
			[]string{peine1 + "/dureeSursis suspended-without-duration"}, ""},
		{"hours are refused on imprisonment", exampleFerme,
			sets(peine0+"/heures", 100),
			[]string{peine0 + "/heures hours-only-with-tig"}, "TIG"},
		{"a fine without amount is refused", exampleFerme,
			sets(peine1+"/montant", deleteMarker),
			[]string{peine1 + "/montant amount-required"}, `"AMENDE"`},
		{"a day-fine without amount per day is refused", exampleFerme,
			sets(peine1, map[string]any{"code": "JOURS_AMENDE", "duree": "60J"}),
			[]string{peine1 + "/montant amount-required"}, `"JOURS_AMENDE"`},
		{"a day-fine counted in months is refused: its duree is a number of days", exampleFerme,
			sets(peine1, map[string]any{"code": "JOURS_AMENDE", "duree": "2M", "montant": "10,00"}),
			[]string{peine1 + "/duree day-fine-in-days"}, `"60J"`},
		{"a sursis probatoire without probation period is refused", exampleProbation,
			sets(peine0+"/delaiEpreuve", deleteMarker),
			[]string{peine0 + "/delaiEpreuve probation-period-required"}, ""},
		{"an amount beyond 2^53-1 cents is refused", exampleFerme,
			sets(peine1+"/montant", "900719925474099,99"),
			[]string{peine1 + "/montant amount-out-of-range"}, ""},
		{"an offence with an empty label is refused", exampleFerme,
			sets("/prevenus/0/infractions/1/libelle", ""),
			[]string{"/prevenus/0/infractions/1/libelle empty-label"}, ""},
		{"a transmission number beyond 2^53-1 is refused", exampleFerme,
			sets("/numeroTransmission", jsonNumber("9007199254740992")),
			[]string{"/numeroTransmission transmission-number-out-of-range"}, ""},
		{"the same defendant twice is refused: one would be lost as a repeat", exampleProbation,
			func(t testing.TB, doc map[string]any) {
				p := doc["prevenus"].([]any)
				clone := exampleDoc(t, exampleProbation)["prevenus"].([]any)[0].(map[string]any)
				clone["identite"].(map[string]any)["prenoms"] = []any{" julien ", "PIERRE"} // same person key
				doc["prevenus"] = append(p, clone)
			},
			[]string{"/prevenus/1 duplicate-defendant"}, "/prevenus/0"},
	})
}

func TestDecodeRequiresADurationForTheSentencesThatHaveOne(t *testing.T) {
	var cases []ruleCase
	for _, code := range []string{CodeEMP, CodeEMPSursis, CodeEMPSursisProbatoire, CodeDDSE, CodeSSJ, CodeJoursAmende} {
		peine := map[string]any{"code": code, "montant": "10,00", "delaiEpreuve": "2A"}
		if code != CodeJoursAmende {
			delete(peine, "montant")
		}
		if code != CodeEMPSursisProbatoire {
			delete(peine, "delaiEpreuve")
		}
		cases = append(cases, ruleCase{"a " + code + " without duree is refused", exampleFerme,
			sets(peine1, peine), []string{peine1 + "/duree duration-required"}, `"` + code + `"`})
	}
	for _, code := range []string{CodeTIG, CodeStage, CodeInterdiction, CodeConfiscation, CodeAmende} {
		peine := map[string]any{"code": code}
		if code == CodeAmende {
			peine["montant"] = "100"
		}
		cases = append(cases, ruleCase{"a " + code + " needs no duree", exampleFerme, sets(peine1, peine), nil, ""})
	}
	runRuleCases(t, cases)
}

func TestDecodeAcceptsWhatTheRulesAllow(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{"a decision enforceable the day it is given is accepted", exampleFerme, sets("/decision/executoireLe", "05/02/2024"), nil, ""},
		{"a suspended part equal to the duration is accepted", exampleProbation, sets(peine0+"/dureeSursis", "8M"), nil, ""},
		{"a month suspended out of 30 days is accepted: some months are shorter", exampleFerme,
			sets(peine0+"/duree", "30J", peine0+"/dureeSursis", "1M"), nil, ""},
		{"31 suspended days out of a month are accepted: some months have 31", exampleFerme,
			sets(peine0+"/duree", "1M", peine0+"/dureeSursis", "31J"), nil, ""},
		{"12 suspended months out of a year are accepted", exampleFerme,
			sets(peine0+"/duree", "1A", peine0+"/dureeSursis", "12M"), nil, ""},
		{"a TIG with hours is accepted", exampleFerme, sets(peine1, map[string]any{"code": "TIG", "heures": 140}), nil, ""},
		{"a day-fine in days with an amount per day is accepted", exampleFerme,
			sets(peine1, map[string]any{"code": "JOURS_AMENDE", "duree": "60J", "montant": "15"}), nil, ""},
		{"an amount without cents is accepted", exampleFerme, sets(peine1+"/montant", "500"), nil, ""},
		{"an integer written 2.0 is an integer", exampleFerme, sets("/numeroTransmission", jsonNumber("2.0")), nil, ""},
		{"the largest transmission number is accepted", exampleFerme, sets("/numeroTransmission", jsonNumber("9007199254740991")), nil, ""},
		{"co-defendants sharing the numéro parquet are accepted", exampleProbation,
			func(t testing.TB, doc map[string]any) {
				other := exampleDoc(t, exampleFerme)["prevenus"].([]any)[0]
				doc["prevenus"] = append(doc["prevenus"].([]any), other)
			}, nil, ""},
		{"a nationality the table does not know is accepted (and omitted)", exampleProbation,
			sets("/prevenus/0/identite/nationalite", "apatride"), nil, ""},
	})
}

func TestDecodeReportsContractViolationsInFrenchWithTheirPointer(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{"another format version is refused", exampleFerme, sets("/versionFormat", "2"),
			[]string{"/versionFormat const"}, `la valeur doit être "3"`},
		{"a transmission number as text is refused", exampleFerme, sets("/numeroTransmission", "2"),
			[]string{"/numeroTransmission type"}, "attendu un nombre entier, reçu un texte"},
		{"a transmission number 0 is refused", exampleFerme, sets("/numeroTransmission", 0),
			[]string{"/numeroTransmission minimum"}, "au moins 1"},
		{"a missing list of defendants is named", exampleFerme, sets("/prevenus", deleteMarker),
			[]string{"/prevenus required"}, `le champ "prevenus" est obligatoire`},
		{"an empty list of defendants is refused", exampleFerme, sets("/prevenus", []any{}),
			[]string{"/prevenus minItems"}, "au moins 1"},
		{"an unknown sentence code is refused", exampleFerme, sets(peine0+"/code", "PRISON"),
			[]string{peine0 + "/code enum"}, `"PRISON" n'est pas une valeur admise`},
		{"a date without leading zeros gets one problem, its format", exampleFerme, sets("/decision/dateDecision", "5/2/2024"),
			[]string{"/decision/dateDecision pattern"}, "JJ/MM/AAAA"},
		{"a duration in English units gets one problem, its format", exampleFerme, sets(peine0+"/duree", "2Y"),
			[]string{peine0 + "/duree pattern"}, "2A6M15J"},
		{"an amount with a decimal point is refused", exampleFerme, sets(peine1+"/montant", "500.00"),
			[]string{peine1 + "/montant pattern"}, "1500,00"},
		{"a negative amount is refused", exampleFerme, sets(peine1+"/montant", "-500,00"),
			[]string{peine1 + "/montant pattern"}, ""},
		{"a NATINF code with letters is refused", exampleFerme, sets("/prevenus/0/infractions/0/natinf", "A12"),
			[]string{"/prevenus/0/infractions/0/natinf pattern"}, "NATINF"},
		{"more than 400 TIG hours are refused", exampleFerme, sets(peine1, map[string]any{"code": "TIG", "heures": 401}),
			[]string{peine1 + "/heures maximum"}, "au plus 400"},
		{"a defendant without first names is refused", exampleFerme, sets("/prevenus/0/identite/prenoms", []any{}),
			[]string{"/prevenus/0/identite/prenoms minItems"}, ""},
		{"every problem is reported at once, by pointer", exampleFerme,
			sets("/versionFormat", "2", "/decision/dateDecision", "31/02/2024", peine0+"/dureeSursis", "3A", peine1+"/montant", deleteMarker),
			[]string{
				"/decision/dateDecision calendar-date",
				peine0 + "/dureeSursis suspended-exceeds-duration",
				peine1 + "/montant amount-required",
				"/versionFormat const",
			}, ""},
	})
}

func TestDecodeRefusesABodyThatIsNotAnObjectAtTheRoot(t *testing.T) {
	for _, body := range []string{`[]`, `"décision"`, `42`, `null`, `true`} {
		t.Run(body, func(t *testing.T) {
			_, problems, err := Decode([]byte(body))
			require.ErrorIs(t, err, ErrRefused)
			assert.Equal(t, []string{" type"}, pointersAndRules(problems))
			assert.Contains(t, problems[0].Detail, "le corps doit être un objet JSON")
		})
	}
}

func TestDecodeSortsIndexesAsNumbers(t *testing.T) {
	doc := exampleDoc(t, exampleFerme)
	infractions := doc["prevenus"].([]any)[0].(map[string]any)
	var list []any
	for i := 0; i < 12; i++ {
		list = append(list, map[string]any{"natinf": "X", "libelle": "l"})
	}
	infractions["infractions"] = list
	_, problems, err := Decode(encode(t, doc))
	require.ErrorIs(t, err, ErrRefused)
	require.Len(t, problems, 12)
	assert.Equal(t, "/prevenus/0/infractions/2/natinf", problems[2].Pointer)
	assert.Equal(t, "/prevenus/0/infractions/10/natinf", problems[10].Pointer)
}

func TestDecodeRefusesBodiesThatAreNotOneStrictJSONDocument(t *testing.T) {
	good := string(exampleBody(t, exampleFerme))
	deep := `{"versionFormat":"3","extension":` + strings.Repeat(`{"a":`, MaxDepth) + `1` + strings.Repeat(`}`, MaxDepth) + `}`
	tests := []struct {
		name    string
		body    string
		pointer string
		rule    Rule
	}{
		{"a duplicate key is named by its pointer", `{"versionFormat":"3","versionFormat":"3"}`, "/versionFormat", RuleJSONDuplicateKey},
		{"a duplicate key deep in a defendant is named by its pointer",
			strings.Replace(good, `"nom": "N'DIAYE"`, `"nom": "N'DIAYE", "nom": "DUPONT"`, 1), "/prevenus/0/identite/nom", RuleJSONDuplicateKey},
		{"a duplicate key written with an escape is still a duplicate", `{"a":1,"\u0061":2}`, "/a", RuleJSONDuplicateKey},
		{"nesting deeper than the limit is refused, even in an unknown field", deep, "/extension" + strings.Repeat("/a", MaxDepth-1), RuleJSONTooDeep},
		{"invalid UTF-8 in a name is refused where it is", strings.Replace(good, `"N'DIAYE"`, "\"N'DI\xffAYE\"", 1), "/prevenus/0/identite/nom", RuleJSONInvalidUTF8},
		{"a body larger than 1 MiB is refused", `{"x":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, "", RuleJSONTooLarge},
		{"data after the document is refused", good + `{}`, "", RuleJSONTrailingData},
		{"an empty body is refused", ``, "", RuleJSONSyntax},
		{"a truncated body is refused where the reading stopped", good[:len(good)/2], "/prevenus/0", RuleJSONSyntax},
		{"a byte order mark is refused", "\ufeff" + good, "", RuleJSONSyntax},
		{"a number with a huge exponent is refused", `{"numeroTransmission":1e999}`, "/numeroTransmission", RuleJSONNumberOutOfRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, problems, err := Decode([]byte(tt.body))
			require.ErrorIs(t, err, ErrRefused)
			assert.Nil(t, d)
			require.Len(t, problems, 1)
			assert.Equal(t, tt.pointer, problems[0].Pointer)
			assert.Equal(t, tt.rule, problems[0].Rule)
			assert.NotEmpty(t, problems[0].Detail)
		})
	}
}

func TestUnknownFieldsAreToleratedAndNeverCarried(t *testing.T) {
	plain := mustDecode(t, exampleBody(t, exampleProbation))
	doc := exampleDoc(t, exampleProbation)
	doc["signature"] = map[string]any{"algo": "RS256", "valeur": "…"}
	doc["juridiction"].(map[string]any)["adresseGreffe"] = "1 rue X"
	p := doc["prevenus"].([]any)[0].(map[string]any)
	p["telephone"] = "0600000000"
	p["identite"].(map[string]any)["numeroSecuriteSociale"] = "1 91 11 69 123 456 78"
	p["peines"].([]any)[0].(map[string]any)["commentaireVictime"] = "texte libre"
	body := encode(t, doc)

	extended := mustDecode(t, body)
	assert.Equal(t, plain, extended, "unknown fields change nothing in the Decision")
	msgs, err := ToJudgments(extended, fixedNow)
	require.NoError(t, err)
	for _, secret := range []string{"0600000000", "91 11 69", "texte libre", "RS256", "1 rue X"} {
		assert.NotContains(t, string(msgs[0].Data), secret)
	}
}

func TestRefusalsAreRedactedForLogs(t *testing.T) {
	doc := exampleDoc(t, exampleProbation)
	set(t, doc, "/prevenus/0/identite/dateNaissance", "31/02/1991")
	set(t, doc, "/prevenus/0/identite/sexe", "MARTIN")
	set(t, doc, peine0+"/dureeSursis", "9A")
	_, problems, err := Decode(encode(t, doc))
	require.ErrorIs(t, err, ErrRefused)
	assert.True(t, connectors.IsPermanent(err), "a refusal is permanent")
	var refusal *RefusalError
	require.True(t, errors.As(err, &refusal))
	assert.Equal(t, problems, refusal.Problems)

	// The clerk is told the values...
	joined := ""
	for _, p := range problems {
		joined += p.Detail + "\n"
	}
	assert.Contains(t, joined, "31/02/1991")
	assert.Contains(t, joined, "MARTIN")
	// ...the logs are not.
	for _, text := range []string{err.Error(), problems[0].Redacted(), problems[1].Redacted(), problems[2].Redacted()} {
		for _, value := range []string{"31/02/1991", "1991", "MARTIN", "9A", "8M"} {
			assert.NotContains(t, text, value)
		}
	}
	assert.Equal(t, "/prevenus/0/identite/dateNaissance: calendar-date", problems[0].Redacted())
}

func TestRedactedHidesKeysTheContractDoesNotName(t *testing.T) {
	_, problems, err := Decode([]byte(`{"versionFormat":"3","DUPONT Jean":{"x":1,"x":2}}`))
	require.ErrorIs(t, err, ErrRefused)
	require.Len(t, problems, 1)
	assert.Equal(t, "/DUPONT Jean/x", problems[0].Pointer, "the clerk sees the real pointer")
	assert.Equal(t, "/*/*: json-duplicate-key", problems[0].Redacted())
	assert.NotContains(t, err.Error(), "DUPONT")
	assert.Equal(t, "(body): json-syntax", Problem{Rule: RuleJSONSyntax}.Redacted())
}

func TestSuspendedExceeds(t *testing.T) {
	d := func(y, m, j int) canonical.Duration { return canonical.Duration{Years: y, Months: m, Days: j} }
	tests := []struct {
		name      string
		suspended canonical.Duration
		duration  canonical.Duration
		exceeds   bool
	}{
		{"equal durations do not exceed", d(0, 8, 0), d(0, 8, 0), false},
		{"a shorter part in the same unit does not exceed", d(0, 6, 0), d(2, 6, 0), false},
		{"a year is twelve months exactly", d(0, 12, 0), d(1, 0, 0), false},
		{"thirteen months exceed a year", d(0, 13, 0), d(1, 0, 0), true},
		{"one more day exceeds", d(0, 6, 1), d(0, 6, 0), true},
		{"a month exceeds 27 days from any start", d(0, 1, 0), d(0, 0, 27), true},
		{"a month may not exceed 28 days (February)", d(0, 1, 0), d(0, 0, 28), false},
		{"32 days exceed a month from any start", d(0, 0, 32), d(0, 1, 0), true},
		{"31 days may not exceed a month (January)", d(0, 0, 31), d(0, 1, 0), false},
		{"two months exceed 56 days", d(0, 2, 0), d(0, 0, 55), true},
		{"a year and a day exceed a year", d(1, 0, 1), d(1, 0, 0), true},
		{"six months fifteen days do not exceed a year", d(0, 6, 15), d(1, 0, 0), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.exceeds, SuspendedExceeds(tt.suspended, tt.duration))
		})
	}
}

func TestContractSchemaIsTheEmbeddedCopy(t *testing.T) {
	s := ContractSchema()
	assert.True(t, bytes.Contains(s, []byte(`"urn:justice:cassiopee:decision-penale:v3"`)))
	s[0] = 'x'
	assert.Equal(t, byte('{'), ContractSchema()[0], "ContractSchema returns a copy")
}

// jsonNumber is a number literal as the strict decoder gives it.
func jsonNumber(s string) json.Number { return json.Number(s) }
