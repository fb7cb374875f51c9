package prisme

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"passerelle/canonical"
	"passerelle/connectors"
	"passerelle/connectors/cassiopee"
	"passerelle/connectors/prisme/sim"
	"passerelle/internal/jsonstrict"
	"passerelle/pipeline/policy"
	"passerelle/schemas"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// endpointOf is the endpoint each canonical type goes to.
var endpointOf = map[string]string{
	canonical.NamePenalRecord:  PathFichesPenales,
	canonical.NameCustodyEvent: PathEvenementsDetention,
	canonical.NameJudgment:     PathDecisions,
	canonical.NameMeasure:      PathMesures,
}

func TestTheContractCopyIsTheSimulatorsContract(t *testing.T) {
	copyInTestdata, err := os.ReadFile(filepath.Join("testdata", "openapi.yaml"))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(sim.OpenAPI, copyInTestdata), "testdata/openapi.yaml must be contracts/prisme/openapi.yaml, as the simulator embeds it")
}

func TestEveryCanonicalExampleMapsToAGoldenBodyPrismeAccepts(t *testing.T) {
	for _, name := range []string{canonical.NamePenalRecord, canonical.NameCustodyEvent, canonical.NameJudgment, canonical.NameMeasure} {
		for _, path := range validExamples(t, name) {
			t.Run(name+"/"+baseName(path), func(t *testing.T) {
				m := exampleMessage(t, path)
				endpoint, body, err := BodyFor(m)
				if baseName(path) == "maj-fiche-penale" {
					require.ErrorIs(t, err, ErrNotForPrisme, "PRISME has no MAJ_FICHE_PENALE custody event")
					assert.False(t, connectors.IsPermanent(err), "nothing to send is not a failure")
					assert.Empty(t, endpoint)
					assert.Nil(t, body)
					return
				}
				require.NoError(t, err)
				assert.Equal(t, endpointOf[name], endpoint)
				requirePrismeValid(t, endpoint, body)
				checkGolden(t, filepath.Join(name, baseName(path)+".json"), indented(t, body))
			})
		}
	}
}

func TestCassiopeeExamplesEndAsGoldenPrismeDecisions(t *testing.T) {
	// Flow 2 end to end, without HTTP: the clerk's body → Decode → ToJudgments →
	// BodyFor → the PRISME decision. The canonical judgment examples hold the same
	// judgments, so their bodies must be the same too.
	canonicalTwin := map[string]string{
		"ferme-mandat-depot": "ferme-sursis-partiel-mandat-depot",
		"sursis-probatoire":  "sursis-probatoire-obligations",
	}
	now := time.Date(2024, 3, 25, 9, 47, 12, 0, time.UTC)
	for name, twin := range canonicalTwin {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("..", "cassiopee", "testdata", "contract", name+".json"))
			require.NoError(t, err)
			d, problems, err := cassiopee.Decode(raw)
			require.NoError(t, err, "%v", problems)
			msgs, err := cassiopee.ToJudgments(d, now)
			require.NoError(t, err)
			require.Len(t, msgs, 1)

			endpoint, body, err := BodyFor(msgs[0])
			require.NoError(t, err)
			assert.Equal(t, PathDecisions, endpoint)
			requirePrismeValid(t, endpoint, body)
			got := indented(t, body)
			checkGolden(t, filepath.Join("cassiopee", name+".json"), got)

			twinBody, err := os.ReadFile(filepath.Join("testdata", "golden", canonical.NameJudgment, twin+".json"))
			require.NoError(t, err)
			assert.JSONEq(t, string(twinBody), string(got))
		})
	}
}

func TestFichePenaleOfMapsEachRule(t *testing.T) {
	dur := func(y, m, d int) *Duree { return &Duree{Annees: y, Mois: m, Jours: d} }
	tests := []struct {
		name  string
		file  string
		edit  func(p *canonical.PenalRecord)
		check func(t *testing.T, f *FichePenale)
	}{
		{"reductionsJours is RP plus RPS minus RETRAIT days", "condamne-sursis-partiel-reductions", func(*canonical.PenalRecord) {},
			func(t *testing.T, f *FichePenale) { assert.Equal(t, canonical.Ptr(60+30-10), f.ReductionsJours) }},
		{"a withdrawal larger than the reductions gives a negative net", "condamne-sursis-partiel-reductions", func(p *canonical.PenalRecord) {
			p.Reductions = []canonical.Reduction{{Type: canonical.ReductionRP, Days: 5, DecisionDate: "2024-01-01"}, {Type: canonical.ReductionRetrait, Days: 12, DecisionDate: "2024-02-01"}}
		}, func(t *testing.T, f *FichePenale) { assert.Equal(t, canonical.Ptr(-7), f.ReductionsJours) }},
		{"an empty list of reductions is zero days", "reclusion-periode-surete-levee", func(*canonical.PenalRecord) {},
			func(t *testing.T, f *FichePenale) { assert.Equal(t, canonical.Ptr(0), f.ReductionsJours) }},
		{"no reductions field sends no reductionsJours: unknown is not zero", "prevenu-sans-condamnation", func(*canonical.PenalRecord) {},
			func(t *testing.T, f *FichePenale) { assert.Nil(t, f.ReductionsJours) }},
		{"the quantum becomes duree and the partie sursis dureeSursis, as pronounced", "condamne-sursis-partiel-reductions", func(*canonical.PenalRecord) {},
			func(t *testing.T, f *FichePenale) {
				p := f.Condamnations[0].Peines[0]
				assert.Equal(t, dur(2, 6, 0), p.Duree)
				assert.Equal(t, dur(0, 6, 0), p.DureeSursis)
			}},
		{"18 months stay 18 months", "mixte-plusieurs-condamnations", func(*canonical.PenalRecord) {},
			func(t *testing.T, f *FichePenale) { assert.Equal(t, dur(0, 18, 0), f.Condamnations[1].Peines[0].Duree) }},
		{"the end date becomes dateFin and the start dateDebutExecution", "condamne-sursis-partiel-reductions", func(*canonical.PenalRecord) {},
			func(t *testing.T, f *FichePenale) {
				assert.Equal(t, "2026-02-04", f.Condamnations[0].Peines[0].DateFin)
				assert.Equal(t, "2024-02-05", f.Condamnations[0].Peines[0].DateDebutExecution)
			}},
		{"the NATINF code becomes natinf, in the plural arrays", "mixte-plusieurs-condamnations", func(*canonical.PenalRecord) {},
			func(t *testing.T, f *FichePenale) {
				require.Len(t, f.Condamnations, 2)
				require.Len(t, f.Condamnations[0].Infractions, 2)
				assert.Equal(t, Infraction{Natinf: "4285", Libelle: "Transport non autorisé de stupéfiants", DateFaits: "2022-03-02"}, f.Condamnations[0].Infractions[1])
			}},
		{"a remand prisoner's empty convictions are sent empty", "prevenu-sans-condamnation", func(*canonical.PenalRecord) {},
			func(t *testing.T, f *FichePenale) {
				assert.NotNil(t, f.Condamnations)
				assert.Empty(t, f.Condamnations)
			}},
		{"the conviction's fields keep their meaning", "mixte-plusieurs-condamnations", func(*canonical.PenalRecord) {},
			func(t *testing.T, f *FichePenale) {
				c := f.Condamnations[0]
				assert.Equal(t, "CA-DOUAI-2023-004410", c.ReferenceDecision)
				assert.Equal(t, "ARRET", c.NatureDecision)
				assert.Equal(t, "Cour d'appel de Douai", c.Juridiction)
				assert.Equal(t, "2023-05-10", c.DateDecision)
				assert.Equal(t, "22045678901", c.NumeroParquet)
			}},
		{"the record's fields keep their meaning", "reclusion-periode-surete-levee", func(*canonical.PenalRecord) {},
			func(t *testing.T, f *FichePenale) {
				assert.Equal(t, "GENESIS", f.Source)
				assert.Equal(t, int64(31), f.Version)
				assert.Equal(t, "10-0318", f.NumeroEcrou)
				assert.Equal(t, "0690401", f.CodeEtablissement)
				assert.Equal(t, "2010-03-08", f.DateEcrou)
				assert.Equal(t, "CONDAMNE", f.Statut)
				assert.Equal(t, "2017-09-07", f.FinPeriodeSurete)
				assert.Equal(t, "2024-09-30", f.DateLiberationPrevisionnelle)
				assert.Equal(t, "2024-05-13", f.DateLevee)
			}},
		{"identifiers travel in personne.identifiants, numerosParquet included", "mixte-plusieurs-condamnations", func(*canonical.PenalRecord) {},
			func(t *testing.T, f *FichePenale) {
				assert.Equal(t, Identifiants{NumeroEcrou: "23-1187", CodeEtablissement: "0590201", NumerosParquet: []string{"22045678901", "23051234567"}}, f.Personne.Identifiants)
			}},
		{"the PRISME dossierId is never sent: it is PRISME's own answer", "mixte-plusieurs-condamnations", func(p *canonical.PenalRecord) {
			p.Person.Identifiers.PrismeFileID = "DOS-000042"
		}, func(t *testing.T, f *FichePenale) {
			assert.NotContains(t, string(indented(t, f)), "DOS-000042")
		}},
		{"the fiche's écrou completes identifiants when the person has none", "mixte-plusieurs-condamnations", func(p *canonical.PenalRecord) {
			p.Person.Identifiers.CommittalNumber, p.Person.Identifiers.EstablishmentCode = "", ""
		}, func(t *testing.T, f *FichePenale) {
			assert.Equal(t, "23-1187", f.Personne.Identifiants.NumeroEcrou)
			assert.Equal(t, "0590201", f.Personne.Identifiants.CodeEtablissement)
		}},
		{"a person's own écrou is never replaced or mixed", "mixte-plusieurs-condamnations", func(p *canonical.PenalRecord) {
			p.Person.Identifiers.CommittalNumber, p.Person.Identifiers.EstablishmentCode = "99-0001", ""
		}, func(t *testing.T, f *FichePenale) {
			assert.Equal(t, "99-0001", f.Personne.Identifiants.NumeroEcrou)
			assert.Empty(t, f.Personne.Identifiants.CodeEtablissement)
		}},
		{"first names are an array in their order", "prevenu-sans-condamnation", func(*canonical.PenalRecord) {},
			func(t *testing.T, f *FichePenale) {
				assert.Equal(t, []string{"Emma", "Louise", "Marie"}, f.Personne.Prenoms)
			}},
		{"amounts and daily amounts are sent in cents", "mixte-plusieurs-condamnations", func(p *canonical.PenalRecord) {
			p.Convictions[1].Sentences = append(p.Convictions[1].Sentences,
				canonical.Sentence{Kind: canonical.SentenceAmende, AmountCents: canonical.Ptr[int64](50000)},
				canonical.Sentence{Kind: canonical.SentenceJoursAmende, DailyAmountCents: canonical.Ptr[int64](1250), Duration: &canonical.Duration{Days: 60}})
		}, func(t *testing.T, f *FichePenale) {
			ps := f.Condamnations[1].Peines
			assert.Equal(t, canonical.Ptr[int64](50000), ps[1].MontantCentimes)
			assert.Equal(t, canonical.Ptr[int64](1250), ps[2].MontantJournalierCentimes)
			assert.Nil(t, ps[2].MontantCentimes)
			assert.Equal(t, dur(0, 0, 60), ps[2].Duree)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := example[canonical.PenalRecord](t, canonical.NamePenalRecord, tt.file)
			tt.edit(p)
			f, err := FichePenaleOf(p)
			require.NoError(t, err)
			requirePrismeValid(t, PathFichesPenales, f)
			tt.check(t, f)
		})
	}
}

func TestEvenementDetentionOfMapsEachRule(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		check func(t *testing.T, e *EvenementDetention)
	}{
		{"the movement's sequence becomes sequenceGenesis and its kind the type", "ecrou-mandat-depot", func(t *testing.T, e *EvenementDetention) {
			assert.Equal(t, int64(1048213), e.SequenceGenesis)
			assert.Equal(t, "ECROU", e.Type)
			assert.Equal(t, "GENESIS", e.Source)
		}},
		{"the horodatage becomes date with its own offset", "ecrou-mandat-depot", func(t *testing.T, e *EvenementDetention) {
			assert.Equal(t, "2024-02-05T18:42:10+01:00", e.Date)
		}},
		{"fractions of a second are kept", "maj-fiche-penale", nil},
		{"a transfer carries its destination", "transfert-vers-longuenesse", func(t *testing.T, e *EvenementDetention) {
			assert.Equal(t, "TRANSFERT", e.Type)
			assert.Equal(t, "0620101", e.CodeEtablissementDestination)
			assert.Equal(t, "24-0977", e.NumeroEcrouDestination)
			assert.Equal(t, "23-1187", e.NumeroEcrou)
			assert.Equal(t, "0590201", e.CodeEtablissement)
		}},
		{"a release is a LEVEE_ECROU", "levee-ecrou-liberation", func(t *testing.T, e *EvenementDetention) {
			assert.Equal(t, "LEVEE_ECROU", e.Type)
			assert.Empty(t, e.CodeEtablissementDestination)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := example[canonical.CustodyEvent](t, canonical.NameCustodyEvent, tt.file)
			if tt.check == nil { // the MAJ example, made an ECROU to test the date
				ev.Kind = canonical.CustodyEventEcrou
				e, err := EvenementDetentionOf(ev)
				require.NoError(t, err)
				assert.Equal(t, "2025-01-08T13:00:03.25Z", e.Date)
				return
			}
			e, err := EvenementDetentionOf(ev)
			require.NoError(t, err)
			requirePrismeValid(t, PathEvenementsDetention, e)
			tt.check(t, e)
		})
	}
	t.Run("a MAJ_FICHE_PENALE movement has nothing to send", func(t *testing.T) {
		e, err := EvenementDetentionOf(example[canonical.CustodyEvent](t, canonical.NameCustodyEvent, "maj-fiche-penale"))
		require.ErrorIs(t, err, ErrNotForPrisme)
		assert.False(t, connectors.IsPermanent(err))
		assert.Nil(t, e)
	})
	t.Run("the movement's écrou completes identifiants when the person has none", func(t *testing.T) {
		ev := example[canonical.CustodyEvent](t, canonical.NameCustodyEvent, "levee-ecrou-liberation")
		ev.Person.Identifiers = canonical.Identifiers{}
		e, err := EvenementDetentionOf(ev)
		require.NoError(t, err)
		assert.Equal(t, Identifiants{NumeroEcrou: "24-2031", CodeEtablissement: "0130101"}, e.Personne.Identifiants)
	})
	t.Run("a kind PRISME does not know is unmappable", func(t *testing.T) {
		ev := example[canonical.CustodyEvent](t, canonical.NameCustodyEvent, "levee-ecrou-liberation")
		ev.Kind = "EVASION"
		_, err := EvenementDetentionOf(ev)
		require.ErrorIs(t, err, ErrUnmappable)
		assert.True(t, connectors.IsPermanent(err))
	})
}

func TestDecisionOfMapsEachRule(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		edit  func(j *canonical.Judgment)
		check func(t *testing.T, d *Decision)
	}{
		{"the judgment's fields keep their meaning", "sursis-probatoire-obligations", func(*canonical.Judgment) {}, func(t *testing.T, d *Decision) {
			assert.Equal(t, "CASSIOPEE", d.Source)
			assert.Equal(t, int64(1), d.NumeroTransmission)
			assert.Equal(t, JuridictionDecision{Code: "690123", Libelle: "TJ LYON"}, d.Juridiction)
			assert.Equal(t, "24012345678", d.NumeroParquet)
			assert.Equal(t, "2024/1187", d.NumeroJugement)
			assert.Equal(t, "2024-03-14", d.DateDecision)
			assert.Equal(t, "2024-03-25", d.ExecutoireLe)
			assert.Equal(t, "JUGEMENT", d.Nature)
			assert.Equal(t, "CONTRADICTOIRE", d.Caractere)
		}},
		{"the clerk is not sent: PRISME's juridiction has code and libelle only", "sursis-probatoire-obligations", func(*canonical.Judgment) {}, func(t *testing.T, d *Decision) {
			assert.NotContains(t, string(indented(t, d)), "Greffe")
		}},
		{"the mandat de dépôt has no PRISME field and is not sent", "ferme-sursis-partiel-mandat-depot", func(*canonical.Judgment) {}, func(t *testing.T, d *Decision) {
			assert.NotContains(t, string(indented(t, d)), "committal")
			assert.NotContains(t, string(indented(t, d)), "mandat")
		}},
		{"the probation period and obligations go with the sentence", "sursis-probatoire-obligations", func(*canonical.Judgment) {}, func(t *testing.T, d *Decision) {
			p := d.Peines[0]
			assert.Equal(t, "SURSIS_PROBATOIRE", p.Nature)
			assert.Equal(t, &Duree{Annees: 2}, p.DelaiEpreuve)
			assert.Equal(t, []string{"SOINS", "INTERDICTION_CONTACT_VICTIME", "STAGE"}, p.Obligations)
			assert.Equal(t, "Soins en addictologie. Interdiction d'entrer en contact avec la victime.", p.PrecisionObligations)
		}},
		{"the address goes to PRISME, which needs it to convoke the person", "sursis-probatoire-obligations", func(*canonical.Judgment) {}, func(t *testing.T, d *Decision) {
			assert.Equal(t, "12 rue des Tanneurs 69003 LYON", d.Personne.Adresse)
		}},
		{"the amount of a fine is sent in cents", "ferme-sursis-partiel-mandat-depot", func(*canonical.Judgment) {}, func(t *testing.T, d *Decision) {
			assert.Equal(t, canonical.Ptr[int64](50000), d.Peines[1].MontantCentimes)
		}},
		{"a day-fine sends its amount per day and its days", "crpc-jours-amende-stage-interdiction", func(*canonical.Judgment) {}, func(t *testing.T, d *Decision) {
			for _, p := range d.Peines {
				if p.Nature == "JOURS_AMENDE" {
					assert.NotNil(t, p.MontantJournalierCentimes)
					assert.Nil(t, p.MontantCentimes)
					require.NotNil(t, p.Duree)
					assert.Zero(t, p.Duree.Annees+p.Duree.Mois)
					return
				}
			}
			t.Fatal("no JOURS_AMENDE in the example")
		}},
		{"TIG hours and an appeal are sent", "defaut-signifier-tig-appel", func(*canonical.Judgment) {}, func(t *testing.T, d *Decision) {
			assert.NotNil(t, d.Appel)
			found := false
			for _, p := range d.Peines {
				found = found || (p.Nature == "TIG" && p.Heures > 0)
			}
			assert.True(t, found)
		}},
		{"the committal number travels alone when the court knows no establishment", "ferme-sursis-partiel-mandat-depot", func(*canonical.Judgment) {}, func(t *testing.T, d *Decision) {
			assert.Equal(t, Identifiants{NumeroEcrou: "24-0412", NumerosParquet: []string{"23098765432"}}, d.Personne.Identifiants)
		}},
		{"the numéro parquet completes numerosParquet when the person has none", "sursis-probatoire-obligations", func(j *canonical.Judgment) {
			j.Person.Identifiers.ProsecutionNumbers = nil
		}, func(t *testing.T, d *Decision) {
			assert.Equal(t, []string{"24012345678"}, d.Personne.Identifiants.NumerosParquet)
		}},
		{"first names are an array in their order", "sursis-probatoire-obligations", func(*canonical.Judgment) {}, func(t *testing.T, d *Decision) {
			assert.Equal(t, []string{"Julien", "Pierre"}, d.Personne.Prenoms)
		}},
		{"an unknown appeal stays absent", "sursis-probatoire-obligations", func(*canonical.Judgment) {}, func(t *testing.T, d *Decision) {
			assert.Nil(t, d.Appel)
			assert.NotContains(t, string(indented(t, d)), "appel")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := example[canonical.Judgment](t, canonical.NameJudgment, tt.file)
			tt.edit(j)
			d, err := DecisionOf(j)
			require.NoError(t, err)
			requirePrismeValid(t, PathDecisions, d)
			tt.check(t, d)
		})
	}
}

func TestMesureOfMapsEachRule(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		check func(t *testing.T, m *Mesure)
	}{
		{"the APPI seq becomes Mesure.version", "sursis-probatoire-en-cours", func(t *testing.T, m *Mesure) {
			assert.Equal(t, int64(88412), m.Version)
			assert.Equal(t, "APPI", m.Source)
		}},
		{"snake_case columns keep their meaning in camelCase", "sursis-probatoire-en-cours", func(t *testing.T, m *Mesure) {
			assert.Equal(t, "M-69-2024-018734", m.NumeroMesure)
			assert.Equal(t, "SP", m.TypeMesure)
			assert.Equal(t, "TJ LYON", m.Juridiction)
			assert.Equal(t, "Mme Claire BERTRAND", m.Jap)
			assert.Equal(t, "SPIP 69 - antenne Lyon Sud", m.SpipAntenne)
			assert.Equal(t, "2024-03-14", m.DateDecision)
			assert.Equal(t, "2024-03-25", m.DateDebut)
			assert.Equal(t, "2026-03-24", m.DateFin)
			assert.Equal(t, "EN_COURS", m.Statut)
		}},
		{"obligations are an array", "sursis-probatoire-en-cours", func(t *testing.T, m *Mesure) {
			assert.Equal(t, []string{"SOINS", "INTERDICTION_CONTACT_VICTIME", "STAGE"}, m.Obligations)
		}},
		{"no obligation is an empty array", "ddse-a-prendre-en-charge", func(t *testing.T, m *Mesure) {
			assert.NotNil(t, m.Obligations)
			assert.Contains(t, string(indented(t, m)), `"obligations": []`)
		}},
		{"the APPI file number travels in identifiants", "ddse-a-prendre-en-charge", func(t *testing.T, m *Mesure) {
			assert.Equal(t, Identifiants{NumeroEcrou: "24-0655", CodeEtablissement: "0310301", NumeroDossierAppi: "APPI-31-2019-000877", NumerosParquet: []string{"24019988776"}}, m.Personne.Identifiants)
		}},
		{"the JAP office's observations are never sent", "lsc-terminee-observations", func(t *testing.T, m *Mesure) {
			assert.NotContains(t, string(indented(t, m)), "incident")
			assert.NotContains(t, string(indented(t, m)), "observations")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := MesureOf(example[canonical.Measure](t, canonical.NameMeasure, tt.file))
			require.NoError(t, err)
			requirePrismeValid(t, PathMesures, ms)
			tt.check(t, ms)
		})
	}
}

// reduce applies a real allow-list (pipeline/policy) to a message, as the sink gets it.
func reduce(t *testing.T, m *canonical.Message, recipient string, paths []string) *canonical.Message {
	t.Helper()
	p, err := policy.Compile(m.Type, recipient, paths)
	require.NoError(t, err)
	data, err := p.Apply(m.Data)
	require.NoError(t, err)
	out := *m
	out.Data = data
	return &out
}

// personPaths are the person fields PRISME needs.
var personPaths = []string{"person.lastName", "person.firstNames", "person.birthDate"}

func TestABodyIsBuiltFromWhatThePolicyLeft(t *testing.T) {
	m := exampleMessage(t, filepath.Join(examplesDir, canonical.NameJudgment, "valid", "sursis-probatoire-obligations.json"))
	paths := append([]string{
		"transmissionNumber", "court.code", "court.label", "prosecutionNumber", "decisionDate", "nature", "character",
		"offences[].natinf", "offences[].label", "sentences[].kind", "sentences[].duration.years", "sentences[].duration.months", "sentences[].duration.days",
	}, personPaths...)
	endpoint, body, err := BodyFor(reduce(t, m, policy.Probation, paths))
	require.NoError(t, err)
	requirePrismeValid(t, endpoint, body)
	d := body.(*Decision)
	assert.Empty(t, d.Personne.Adresse, "the policy removed the address")
	assert.Empty(t, d.Peines[0].PrecisionObligations)
	assert.Nil(t, d.Peines[0].DureeSursis)
	assert.Nil(t, d.Peines[0].Obligations, "removed obligations are not sent as an empty list")
	assert.Empty(t, d.ExecutoireLe)
	assert.Equal(t, []string{"24012345678"}, d.Personne.Identifiants.NumerosParquet, "completed from the judgment's own numéro parquet")
	assert.Equal(t, &Duree{Mois: 8}, d.Peines[0].Duree)
}

func TestARequiredFieldThePolicyRemovedIsAPermanentErrorNamingIt(t *testing.T) {
	load := func(name, file string) *canonical.Message {
		return exampleMessage(t, filepath.Join(examplesDir, name, "valid", file+".json"))
	}
	tests := []struct {
		name    string
		msg     *canonical.Message
		paths   []string
		missing []string
	}{
		{"a judgment without the person's birth date and the sentences' kind",
			load(canonical.NameJudgment, "sursis-probatoire-obligations"),
			[]string{"transmissionNumber", "court.code", "court.label", "prosecutionNumber", "decisionDate", "nature", "offences[].natinf", "offences[].label", "sentences[].hours", "person.lastName", "person.firstNames"},
			[]string{"personne.dateNaissance", "peines[0].nature"}},
		{"a judgment whose offences were all removed",
			load(canonical.NameJudgment, "sursis-probatoire-obligations"),
			append([]string{"transmissionNumber", "court.code", "court.label", "prosecutionNumber", "decisionDate", "nature", "sentences[].kind"}, personPaths...),
			[]string{"infractions"}},
		{"a judgment without its transmission number",
			load(canonical.NameJudgment, "sursis-probatoire-obligations"),
			append([]string{"court.code", "court.label", "prosecutionNumber", "decisionDate", "nature", "offences[].natinf", "offences[].label", "sentences[].kind"}, personPaths...),
			[]string{"numeroTransmission"}},
		{"a penal record without its version",
			load(canonical.NamePenalRecord, "prevenu-sans-condamnation"),
			append([]string{"committalNumber", "establishmentCode", "committalDate", "status", "convictions[].court"}, personPaths...),
			[]string{"version"}},
		{"a penal record without convictions and a conviction's date",
			load(canonical.NamePenalRecord, "condamne-sursis-partiel-reductions"),
			append([]string{"version", "committalNumber", "establishmentCode", "committalDate", "status", "convictions[].court", "convictions[].offences[].natinf", "convictions[].offences[].label", "convictions[].sentences[].kind"}, personPaths...),
			[]string{"condamnations[0].dateDecision"}},
		{"a penal record whose convictions were all removed",
			load(canonical.NamePenalRecord, "condamne-sursis-partiel-reductions"),
			append([]string{"version", "committalNumber", "establishmentCode", "committalDate", "status"}, personPaths...),
			[]string{"condamnations"}},
		{"a measure without status and first names",
			load(canonical.NameMeasure, "sursis-probatoire-en-cours"),
			[]string{"version", "measureNumber", "kind", "court", "decisionDate", "person.lastName", "person.birthDate"},
			[]string{"statut", "personne.prenoms"}},
		{"a custody event without its horodatage and type",
			load(canonical.NameCustodyEvent, "ecrou-mandat-depot"),
			append([]string{"sequence", "committalNumber", "establishmentCode"}, personPaths...),
			[]string{"type", "date"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			endpoint, body, err := BodyFor(reduce(t, tt.msg, policy.Probation, tt.paths))
			require.ErrorIs(t, err, ErrMissingField)
			assert.True(t, connectors.IsPermanent(err), "an operator must fix the policy: no retry helps")
			assert.Empty(t, endpoint)
			assert.Nil(t, body)
			for _, field := range tt.missing {
				assert.Contains(t, err.Error(), field)
			}
		})
	}
}

func TestBodyForDispatchesByType(t *testing.T) {
	for _, name := range []string{canonical.NameCaseTransfer, canonical.NameReport} {
		t.Run("a "+name+" comes from PRISME: nothing to send", func(t *testing.T) {
			_, body, err := BodyFor(exampleMessage(t, validExamples(t, name)[0]))
			require.ErrorIs(t, err, ErrNotForPrisme)
			assert.False(t, connectors.IsPermanent(err))
			assert.Nil(t, body)
		})
	}
	t.Run("an unknown type is unmappable", func(t *testing.T) {
		m := exampleMessage(t, validExamples(t, canonical.NameJudgment)[0])
		m.Type = "fr.justice.judgment.v2"
		_, _, err := BodyFor(m)
		require.ErrorIs(t, err, ErrUnmappable)
		require.ErrorIs(t, err, canonical.ErrUnknownType)
		assert.True(t, connectors.IsPermanent(err))
	})
	t.Run("data that is not its type is unmappable, without quoting it", func(t *testing.T) {
		m := exampleMessage(t, validExamples(t, canonical.NameJudgment)[0])
		m.Data = json.RawMessage(`{"transmissionNumber":"MARTIN"}`)
		_, _, err := BodyFor(m)
		require.ErrorIs(t, err, ErrUnmappable)
		assert.True(t, connectors.IsPermanent(err))
		assert.NotContains(t, err.Error(), "MARTIN")
	})
	t.Run("a nil message or payload is unmappable", func(t *testing.T) {
		_, _, err := BodyFor(nil)
		require.ErrorIs(t, err, ErrUnmappable)
		for _, err := range []error{
			second(FichePenaleOf(nil)), second(EvenementDetentionOf(nil)), second(DecisionOf(nil)), second(MesureOf(nil)),
		} {
			require.ErrorIs(t, err, ErrUnmappable)
		}
	})
}

// second returns the error of a two-value call.
func second[T any](_ T, err error) error { return err }

func TestMissingFieldErrorsCarryNoValue(t *testing.T) {
	j := example[canonical.Judgment](t, canonical.NameJudgment, "sursis-probatoire-obligations")
	j.Person.BirthDate = ""
	_, err := DecisionOf(j)
	require.ErrorIs(t, err, ErrMissingField)
	for _, value := range []string{"MARTIN", "Julien", "LYON", "24012345678"} {
		assert.NotContains(t, err.Error(), value)
	}
}

// FuzzBodyFor feeds arbitrary data as each canonical type: BodyFor never panics, and
// data the canonical schemas accept always gives a body PRISME accepts (or nothing to
// send): the mapper neither loses a required field nor invents an unknown one.
func FuzzBodyFor(f *testing.F) {
	types := []string{canonical.TypePenalRecord, canonical.TypeCustodyEvent, canonical.TypeJudgment, canonical.TypeMeasure, canonical.TypeCaseTransfer, canonical.TypeReport}
	for i, typ := range types {
		info, _ := canonical.LookupType(typ)
		for _, path := range validExamples(f, info.Name) {
			f.Add(uint8(i), []byte(exampleMessage(f, path).Data))
		}
	}
	f.Add(uint8(2), []byte(`{}`))
	f.Add(uint8(0), []byte(`{"version":null}`))
	f.Add(uint8(1), []byte(`{"kind":"MAJ_FICHE_PENALE"}`))
	f.Add(uint8(3), []byte(`[]`))
	reg, err := schemas.Load()
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		typ := types[int(which)%len(types)]
		info, _ := canonical.LookupType(typ)
		m := &canonical.Message{SpecVersion: canonical.SpecVersion, ID: "00000000-0000-4000-8000-000000000000", Source: "/connectors/fuzz",
			Type: typ, Time: time.Unix(0, 0).UTC(), Subject: "s", DataSchema: info.DataSchema, FactSystem: "FUZZ", FactRef: "r", Data: data}
		endpoint, body, err := BodyFor(m)
		if err != nil {
			assert.Nil(t, body)
			assert.Empty(t, endpoint)
		}
		decoded, derr := jsonstrict.Decode(data)
		if derr != nil {
			return
		}
		doc := map[string]any{"specversion": m.SpecVersion, "id": m.ID, "source": m.Source, "type": m.Type, "time": "1970-01-01T00:00:00Z",
			"subject": m.Subject, "dataschema": m.DataSchema, "factsystem": m.FactSystem, "factref": m.FactRef, "factversion": json.Number("0"), "data": decoded}
		if reg.Validate(doc) != nil {
			return
		}
		if err != nil {
			require.True(t, errors.Is(err, ErrNotForPrisme), "canonical data refused: %v", err)
			return
		}
		requirePrismeValid(t, endpoint, body)
	})
}

// BenchmarkFichePenaleOf measures mapping and encoding one fiche, the largest example.
func BenchmarkFichePenaleOf(b *testing.B) {
	p := example[canonical.PenalRecord](b, canonical.NamePenalRecord, "mixte-plusieurs-condamnations")
	b.ReportAllocs()
	for b.Loop() {
		f, err := FichePenaleOf(p)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBodyFor measures the sink's whole mapping of a message: decode its data,
// map, encode.
func BenchmarkBodyFor(b *testing.B) {
	for _, name := range []string{canonical.NamePenalRecord, canonical.NameJudgment} {
		m := exampleMessage(b, validExamples(b, name)[1])
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, body, err := BodyFor(m)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := json.Marshal(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Helpers.

// examplesDir holds the canonical examples, from this package.
var examplesDir = filepath.Join("..", "..", "schemas", "examples")

// validExamples returns the valid canonical examples of a type, sorted.
func validExamples(t testing.TB, name string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(examplesDir, name, "valid", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no valid %s example", name)
	sort.Strings(files)
	return files
}

// exampleMessage reads a canonical example message.
func exampleMessage(t testing.TB, path string) *canonical.Message {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	m, err := canonical.DecodeMessage(raw)
	require.NoError(t, err)
	return m
}

// example returns the payload of schemas/examples/<name>/valid/<file>.json.
func example[T any](t testing.TB, name, file string) *T {
	t.Helper()
	m := exampleMessage(t, filepath.Join(examplesDir, name, "valid", file+".json"))
	v := new(T)
	require.NoError(t, m.DecodeData(v))
	return v
}

// baseName is a file's name without folder and extension.
func baseName(path string) string {
	return strings.TrimSuffix(filepath.Base(path), ".json")
}

// schemaOf names the component schema of each endpoint.
var schemaOf = map[string]string{
	PathFichesPenales:       "FichePenale",
	PathDecisions:           "Decision",
	PathMesures:             "Mesure",
	PathEvenementsDetention: "EvenementDetention",
}

// contractSchemas compiles the component schemas of testdata/openapi.yaml once (a copy
// of contracts/prisme/openapi.yaml) with format assertions on, as PRISME validates.
var contractSchemas = sync.OnceValues(func() (map[string]*jsonschema.Schema, error) {
	spec, err := os.ReadFile(filepath.Join("testdata", "openapi.yaml"))
	if err != nil {
		return nil, err
	}
	var doc struct {
		Components struct {
			Schemas map[string]any `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(spec, &doc); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(map[string]any{"components": map[string]any{"schemas": doc.Components.Schemas}})
	if err != nil {
		return nil, err
	}
	value, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	const url = "urn:prisme:openapi"
	if err := c.AddResource(url, value); err != nil {
		return nil, err
	}
	out := map[string]*jsonschema.Schema{}
	for _, name := range schemaOf {
		if out[name], err = c.Compile(url + "#/components/schemas/" + name); err != nil {
			return nil, err
		}
	}
	return out, nil
})

// requirePrismeValid validates a body against the component schema of its endpoint.
func requirePrismeValid(t testing.TB, endpoint string, body any) {
	t.Helper()
	schemas, err := contractSchemas()
	require.NoError(t, err)
	sch, ok := schemas[schemaOf[endpoint]]
	require.True(t, ok, "no schema for endpoint %q", endpoint)
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	require.NoError(t, err)
	require.NoError(t, sch.Validate(v), "body for %s: %s", endpoint, raw)
}

// indented marshals a body as the golden files hold it.
func indented(t testing.TB, body any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	require.NoError(t, enc.Encode(body))
	return buf.Bytes()
}

// checkGolden compares got with testdata/golden/<rel>, rewriting it under -update.
func checkGolden(t testing.TB, rel string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", rel)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create %s", path)
	require.JSONEq(t, string(want), string(got))
}
