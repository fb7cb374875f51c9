package cassiopee

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/canonical"
	"passerelle/connectors"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// mapOne maps a decision changed by edit and returns the first defendant's judgment.
func mapOne(t *testing.T, example string, edit func(d *Decision)) *canonical.Judgment {
	t.Helper()
	d := mustDecode(t, exampleBody(t, example))
	edit(d)
	msgs, err := ToJudgments(d, fixedNow)
	require.NoError(t, err)
	require.NotEmpty(t, msgs)
	requireCanonical(t, registry(t), msgs)
	return judgmentOf(t, msgs[0])
}

func TestToJudgmentsMapsEachRuleExactly(t *testing.T) {
	dur := func(y, m, j int) *canonical.Duration { return &canonical.Duration{Years: y, Months: m, Days: j} }
	tests := []struct {
		name    string
		example string
		edit    func(d *Decision)
		check   func(t *testing.T, j *canonical.Judgment)
	}{
		{"dates JJ/MM/AAAA become AAAA-MM-JJ everywhere", exampleProbation, func(*Decision) {}, func(t *testing.T, j *canonical.Judgment) {
			assert.Equal(t, canonical.Date("2024-03-14"), j.DecisionDate)
			assert.Equal(t, canonical.Date("2024-03-25"), j.EnforceableOn)
			assert.Equal(t, canonical.Date("1991-11-02"), j.Person.BirthDate)
			assert.Equal(t, canonical.Date("2024-01-02"), j.Offences[0].OffenceDate)
		}},
		{"a duration 2A6M15J becomes years 2, months 6, days 15", exampleFerme, func(d *Decision) {
			d.Prevenus[0].Peines[0].Duree, d.Prevenus[0].Peines[0].DureeSursis = "2A6M15J", ""
		}, func(t *testing.T, j *canonical.Judgment) {
			assert.Equal(t, dur(2, 6, 15), j.Sentences[0].Duration)
		}},
		{"a missing duration part is zero", exampleFerme, func(*Decision) {}, func(t *testing.T, j *canonical.Judgment) {
			assert.Equal(t, dur(2, 6, 0), j.Sentences[0].Duration)
			assert.Equal(t, dur(0, 6, 0), j.Sentences[0].SuspendedDuration)
		}},
		{"18 months stay 18 months: durations are never normalised", exampleFerme, func(d *Decision) {
			d.Prevenus[0].Peines[0].Duree = "18M"
		}, func(t *testing.T, j *canonical.Judgment) {
			assert.Equal(t, dur(0, 18, 0), j.Sentences[0].Duration)
		}},
		{"the suspended part and the probation period are durations too", exampleProbation, func(*Decision) {}, func(t *testing.T, j *canonical.Judgment) {
			assert.Equal(t, dur(0, 8, 0), j.Sentences[0].SuspendedDuration)
			assert.Equal(t, dur(2, 0, 0), j.Sentences[0].ProbationPeriod)
		}},
		{"an amount 1500,00 becomes 150000 cents", exampleFerme, func(d *Decision) {
			d.Prevenus[0].Peines[1].Montant = "1500,00"
		}, func(t *testing.T, j *canonical.Judgment) {
			assert.Equal(t, canonical.Ptr[int64](150000), j.Sentences[1].AmountCents)
			assert.Nil(t, j.Sentences[1].DailyAmountCents)
		}},
		{"an amount 1500 without cents becomes 150000 cents", exampleFerme, func(d *Decision) {
			d.Prevenus[0].Peines[1].Montant = "1500"
		}, func(t *testing.T, j *canonical.Judgment) {
			assert.Equal(t, canonical.Ptr[int64](150000), j.Sentences[1].AmountCents)
		}},
		{"a JOURS_AMENDE amount is per day and its duree the number of days", exampleFerme, func(d *Decision) {
			d.Prevenus[0].Peines[1] = Peine{Code: CodeJoursAmende, Montant: "12,50", Duree: "60J"}
		}, func(t *testing.T, j *canonical.Judgment) {
			s := j.Sentences[1]
			assert.Equal(t, canonical.SentenceJoursAmende, s.Kind)
			assert.Equal(t, canonical.Ptr[int64](1250), s.DailyAmountCents)
			assert.Nil(t, s.AmountCents, "a day-fine has no total amount")
			assert.Equal(t, dur(0, 0, 60), s.Duration)
		}},
		{"first names keep their order", exampleProbation, func(d *Decision) {
			d.Prevenus[0].Identite.Prenoms = []string{"Julien", "Pierre", "André"}
		}, func(t *testing.T, j *canonical.Judgment) {
			assert.Equal(t, []string{"Julien", "Pierre", "André"}, j.Person.FirstNames)
		}},
		{"numeroEcrou becomes the committal number, without an establishment", exampleFerme, func(*Decision) {}, func(t *testing.T, j *canonical.Judgment) {
			assert.Equal(t, "24-0412", j.Person.Identifiers.CommittalNumber)
			assert.Empty(t, j.Person.Identifiers.EstablishmentCode, "Cassiopée knows no establishment")
		}},
		{"a defendant not in custody has no committal number", exampleProbation, func(*Decision) {}, func(t *testing.T, j *canonical.Judgment) {
			assert.Empty(t, j.Person.Identifiers.CommittalNumber)
		}},
		{"the numéro parquet is the judgment's and the person's first prosecution number", exampleProbation, func(*Decision) {}, func(t *testing.T, j *canonical.Judgment) {
			assert.Equal(t, "24012345678", j.ProsecutionNumber)
			assert.Equal(t, []string{"24012345678"}, j.Person.Identifiers.ProsecutionNumbers)
		}},
		{"the clerk becomes court.clerk", exampleProbation, func(*Decision) {}, func(t *testing.T, j *canonical.Judgment) {
			assert.Equal(t, canonical.Court{Code: "690123", Label: "TJ LYON", Clerk: "Greffe correctionnel 6e ch."}, j.Court)
		}},
		{"the address and the precision of obligations are carried for the policy to decide", exampleProbation, func(*Decision) {}, func(t *testing.T, j *canonical.Judgment) {
			assert.Equal(t, "12 rue des Tanneurs 69003 LYON", j.Person.Address)
			assert.Equal(t, "Soins en addictologie. Interdiction d'entrer en contact avec la victime.", j.Sentences[0].ObligationDetails)
		}},
		{"obligations keep their order", exampleProbation, func(*Decision) {}, func(t *testing.T, j *canonical.Judgment) {
			assert.Equal(t, []canonical.Obligation{"SOINS", "INTERDICTION_CONTACT_VICTIME", "STAGE"}, j.Sentences[0].Obligations)
		}},
		{"obligations sent empty stay empty, absent ones stay absent", exampleFerme, func(d *Decision) {
			d.Prevenus[0].Peines[0].Obligations = []string{}
		}, func(t *testing.T, j *canonical.Judgment) {
			assert.NotNil(t, j.Sentences[0].Obligations)
			assert.Empty(t, j.Sentences[0].Obligations)
			assert.Nil(t, j.Sentences[1].Obligations)
		}},
		{"booleans the clerk did not send stay absent", exampleProbation, func(*Decision) {}, func(t *testing.T, j *canonical.Judgment) {
			assert.Nil(t, j.Appeal)
			assert.Nil(t, j.Sentences[0].CommittalOrdered)
			assert.Nil(t, j.Sentences[0].ProvisionalExecution)
		}},
		{"booleans the clerk sent are kept, false included", exampleFerme, func(d *Decision) {
			d.Jugement.Appel = canonical.Ptr(false)
			d.Prevenus[0].Peines[0].ExecutionProvisoire = canonical.Ptr(true)
		}, func(t *testing.T, j *canonical.Judgment) {
			assert.Equal(t, canonical.Ptr(false), j.Appeal)
			assert.Equal(t, canonical.Ptr(true), j.Sentences[0].ProvisionalExecution)
			assert.Equal(t, canonical.Ptr(true), j.Sentences[0].CommittalOrdered, "mandatDepot")
		}},
		{"TIG hours become hours", exampleFerme, func(d *Decision) {
			d.Prevenus[0].Peines[1] = Peine{Code: CodeTIG, Heures: 140}
		}, func(t *testing.T, j *canonical.Judgment) {
			assert.Equal(t, 140, j.Sentences[1].Hours)
		}},
		{"identity, offence and judgment fields map one to one", exampleFerme, func(*Decision) {}, func(t *testing.T, j *canonical.Judgment) {
			assert.Equal(t, "N'DIAYE", j.Person.LastName)
			assert.Equal(t, "NDIAYE", j.Person.UsageName)
			assert.Equal(t, canonical.SexMale, j.Person.Sex)
			assert.Equal(t, canonical.Offence{Natinf: "25", Label: "Recel de bien provenant d'un vol", Classification: canonical.ClassificationDelit}, j.Offences[1])
			assert.Equal(t, canonical.NatureJugement, j.Nature)
			assert.Equal(t, canonical.CharacterContradictoire, j.Character)
			assert.Equal(t, int64(2), j.TransmissionNumber)
		}},
		{"empty optional texts are omitted", exampleProbation, func(d *Decision) {
			d.Jugement.NumeroJugement, d.Juridiction.Greffier, d.Prevenus[0].Identite.LieuNaissance = "", "", ""
		}, func(t *testing.T, j *canonical.Judgment) {
			assert.Empty(t, j.JudgmentNumber)
			assert.Empty(t, j.Court.Clerk)
			assert.Empty(t, j.Person.BirthPlace)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, mapOne(t, tt.example, tt.edit))
		})
	}
}

func TestToJudgmentsRenamesFourPeineCodesAndKeepsTheOthers(t *testing.T) {
	want := map[string]canonical.SentenceKind{
		"EMP": "EMPRISONNEMENT", "EMP_SURSIS": "EMPRISONNEMENT_SURSIS", "EMP_SURSIS_PROBATOIRE": "SURSIS_PROBATOIRE",
		"SSJ": "SUIVI_SOCIO_JUDICIAIRE", "TIG": "TIG", "DDSE": "DDSE", "AMENDE": "AMENDE", "JOURS_AMENDE": "JOURS_AMENDE",
		"STAGE": "STAGE", "INTERDICTION": "INTERDICTION", "CONFISCATION": "CONFISCATION",
	}
	assert.Len(t, sentenceKinds, len(want), "every code of the contract's enum, no other")
	for code, kind := range want {
		t.Run(code+" becomes "+string(kind), func(t *testing.T) {
			got, ok := SentenceKind(code)
			require.True(t, ok)
			assert.Equal(t, kind, got)
			j := mapOne(t, exampleFerme, func(d *Decision) {
				d.Prevenus[0].Peines[1] = Peine{Code: code, Duree: "1A", DelaiEpreuve: "2A", Montant: "100"}
			})
			assert.Equal(t, kind, j.Sentences[1].Kind)
		})
	}
	_, ok := SentenceKind("PRISON")
	assert.False(t, ok)
}

func TestNationality(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"an ISO alpha-3 code is kept as it is", "FRA", "FRA"},
		{"any three upper-case letters are taken as a code", "SEN", "SEN"},
		{"a lower-case code is upper-cased", "fra", "FRA"},
		{"spaces around a code are ignored", " ita ", "ITA"},
		{"FRANCAISE is FRA", "FRANCAISE", "FRA"},
		{"FRANÇAISE with its cedilla is FRA", "FRANÇAISE", "FRA"},
		{"française in lower case is FRA", "française", "FRA"},
		{"the masculine form is FRA too", "Français", "FRA"},
		{"a common label of the table maps to its code", "ALGÉRIENNE", "DZA"},
		{"white space inside a label is folded", "côte  d’ivoire", "CIV"},
		{"a label the table does not know is omitted", "APATRIDE", ""},
		{"a two-letter code is not alpha-3 and is omitted", "FR", ""},
		{"a code with a digit is omitted", "FR1", ""},
		{"an empty nationality is omitted", "", ""},
		{"a three-letter word with an accent is not a code", "ÉTÉ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Nationality(tt.in))
		})
	}
	for label, code := range nationalities {
		assert.Regexp(t, `^[A-Z]{3}$`, code, label)
	}
}

func TestToJudgmentsMakesOneMessagePerDefendant(t *testing.T) {
	doc := exampleDoc(t, exampleProbation)
	other := exampleDoc(t, exampleFerme)["prevenus"].([]any)[0]
	doc["prevenus"] = append(doc["prevenus"].([]any), other)
	d := mustDecode(t, encode(t, doc))

	msgs, err := ToJudgments(d, fixedNow)
	require.NoError(t, err)
	require.Len(t, msgs, 2)
	requireCanonical(t, registry(t), msgs)
	for i, m := range msgs {
		j := judgmentOf(t, m)
		assert.Equal(t, d.Prevenus[i].Identite.Nom, j.Person.LastName, "in the order of the prévenus")
		assert.Equal(t, canonical.TypeJudgment, m.Type)
		assert.Equal(t, Source, m.Source)
		assert.Empty(t, m.Subject, "the pipeline resolves the subject")
		assert.Equal(t, fixedNow, m.Time)
		assert.Equal(t, canonical.SystemCassiopee, m.FactSystem)
		assert.Equal(t, int64(1), m.FactVersion, "the version is numeroTransmission")
		assert.Equal(t, canonical.CassiopeeDecisionRef("24012345678", j.Person.LastName, j.Person.FirstNames, j.Person.BirthDate), m.FactRef)
		fact, err := canonical.FactOf(j)
		require.NoError(t, err)
		assert.Equal(t, fact, m.Fact(), "the fact agrees with canonical.FactOf")
		assert.Equal(t, "24012345678", j.ProsecutionNumber, "co-defendants share the numéro parquet")
	}
	assert.NotEqual(t, msgs[0].FactRef, msgs[1].FactRef, "co-defendants are two facts")
	assert.NotEqual(t, msgs[0].ID, msgs[1].ID)
}

func TestARetransmissionIsANewerVersionOfTheSameFact(t *testing.T) {
	first := mustDecode(t, exampleBody(t, exampleProbation))
	doc := exampleDoc(t, exampleProbation)
	doc["numeroTransmission"] = 2
	set(t, doc, peine0+"/delaiEpreuve", "18M")
	second := mustDecode(t, encode(t, doc))

	m1, err := ToJudgments(first, fixedNow)
	require.NoError(t, err)
	m2, err := ToJudgments(second, fixedNow)
	require.NoError(t, err)
	assert.Equal(t, m1[0].FactRef, m2[0].FactRef)
	assert.Equal(t, int64(1), m1[0].FactVersion)
	assert.Equal(t, int64(2), m2[0].FactVersion)
	assert.NotEqual(t, m1[0].IdempotencyKey(), m2[0].IdempotencyKey())
}

func TestToJudgmentsRefusesWhatDecodeWouldRefuse(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(d *Decision)
		field string
	}{
		{"an impossible decision date", func(d *Decision) { d.Jugement.DateDecision = "31/02/2024" }, "/decision/dateDecision"},
		{"an impossible enforceability date", func(d *Decision) { d.Jugement.ExecutoireLe = "2024-03-25" }, "/decision/executoireLe"},
		{"an impossible birth date", func(d *Decision) { d.Prevenus[0].Identite.DateNaissance = "02/13/1991" }, "/prevenus/0/identite/dateNaissance"},
		{"an impossible date of facts", func(d *Decision) { d.Prevenus[0].Infractions[0].DateFaits = "x" }, "/prevenus/0/infractions/0/dateFaits"},
		{"a malformed duration", func(d *Decision) { d.Prevenus[0].Peines[0].Duree = "8 mois" }, "/prevenus/0/peines/0/duree"},
		{"a malformed amount", func(d *Decision) { d.Prevenus[0].Peines[0].Montant = "12.5" }, "/prevenus/0/peines/0/montant"},
		{"an unknown sentence code", func(d *Decision) { d.Prevenus[0].Peines[0].Code = "PRISON" }, "/prevenus/0/peines/0/code"},
		{"a transmission number below 1", func(d *Decision) { d.NumeroTransmission = 0 }, "/numeroTransmission"},
		{"no defendant", func(d *Decision) { d.Prevenus = nil }, "/prevenus"},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is a permanent error naming "+tt.field, func(t *testing.T) {
			d := mustDecode(t, exampleBody(t, exampleProbation))
			tt.edit(d)
			msgs, err := ToJudgments(d, fixedNow)
			require.ErrorIs(t, err, ErrInvalidDecision)
			assert.True(t, connectors.IsPermanent(err))
			assert.Nil(t, msgs)
			assert.Contains(t, err.Error(), tt.field)
			for _, value := range []string{"31/02/2024", "2024-03-25", "02/13/1991", "8 mois", "12.5", "PRISON", "MARTIN"} {
				assert.NotContains(t, err.Error(), value, "no value in an error")
			}
		})
	}
	_, err := ToJudgments(nil, fixedNow)
	require.ErrorIs(t, err, ErrInvalidDecision)
}

// golden is the stored form of a message: the id, random, is left out.
func golden(t *testing.T, msgs []*canonical.Message) []byte {
	t.Helper()
	out := make([]canonical.Message, len(msgs))
	for i, m := range msgs {
		out[i] = *m
		out[i].ID = "(random)"
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	require.NoError(t, enc.Encode(out))
	return buf.Bytes()
}

func TestContractExamplesMapToGoldenCanonicalJudgments(t *testing.T) {
	reg := registry(t)
	// The canonical examples of schemas/examples/judgment hold the same judgments.
	canonicalExample := map[string]string{
		exampleFerme:     "ferme-sursis-partiel-mandat-depot.json",
		exampleProbation: "sursis-probatoire-obligations.json",
	}
	for _, name := range examples {
		t.Run(name, func(t *testing.T) {
			msgs, err := ToJudgments(mustDecode(t, exampleBody(t, name)), fixedNow)
			require.NoError(t, err)
			requireCanonical(t, reg, msgs)

			got := golden(t, msgs)
			path := filepath.Join("testdata", "golden", name+".json")
			if *update {
				require.NoError(t, os.WriteFile(path, got, 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test -update to create it")
			assert.JSONEq(t, string(want), string(got))

			ref, err := canonical.DecodeMessage(mustRead(t, filepath.Join("..", "..", "schemas", "examples", "judgment", "valid", canonicalExample[name])))
			require.NoError(t, err)
			assert.JSONEq(t, string(ref.Data), string(msgs[0].Data), "the canonical example's data")
			assert.Equal(t, ref.FactRef, msgs[0].FactRef)
			assert.Equal(t, ref.FactVersion, msgs[0].FactVersion)
		})
	}
}

// mustRead reads a file the test needs.
func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}
