package appi

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/canonical"
	"passerelle/connectors"
	"passerelle/connectors/appi/sim"
	"passerelle/connectors/connectortest"
	"passerelle/schemas"
)

// TestExportRowsMapToCanonicalMeasures writes one row per rule into a real
// mesures_export, reads them through the source and checks each measure.
func TestExportRowsMapToCanonicalMeasures(t *testing.T) {
	cases := []struct {
		name  string
		row   func(r *sim.Mesure)
		check func(t *testing.T, m canonical.Measure, msg *canonical.Message)
	}{
		{"obligations separated by ';' map to a list in their order", func(r *sim.Mesure) { r.Obligations = sim.Str("SOINS;TRAVAIL") },
			func(t *testing.T, m canonical.Measure, _ *canonical.Message) {
				assert.Equal(t, []canonical.Obligation{"SOINS", "TRAVAIL"}, m.Obligations)
			}},
		{"an empty obligations column maps to an empty list", func(r *sim.Mesure) { r.Obligations = sim.Str("") },
			func(t *testing.T, m canonical.Measure, msg *canonical.Message) {
				assert.NotNil(t, m.Obligations)
				assert.Empty(t, m.Obligations)
				assert.Contains(t, string(msg.Data), `"obligations":[]`)
			}},
		{"a NULL obligations column maps to an empty list", func(r *sim.Mesure) { r.Obligations = nil },
			func(t *testing.T, m canonical.Measure, msg *canonical.Message) {
				assert.Contains(t, string(msg.Data), `"obligations":[]`)
			}},
		{"one obligation maps to a list of one", func(r *sim.Mesure) { r.Obligations = sim.Str("INDEMNISER_VICTIME") },
			func(t *testing.T, m canonical.Measure, _ *canonical.Message) {
				assert.Equal(t, []canonical.Obligation{"INDEMNISER_VICTIME"}, m.Obligations)
			}},
		{"spaces around codes and empty elements are no obligations", func(r *sim.Mesure) { r.Obligations = sim.Str(" SOINS ;;TRAVAIL;") },
			func(t *testing.T, m canonical.Measure, _ *canonical.Message) {
				assert.Equal(t, []canonical.Obligation{"SOINS", "TRAVAIL"}, m.Obligations)
			}},
		{"space-separated first names map to a list in the same order", func(r *sim.Mesure) { r.Prenoms = "Marie-Claire  Hélène Aïcha" },
			func(t *testing.T, m canonical.Measure, _ *canonical.Message) {
				assert.Equal(t, []string{"Marie-Claire", "Hélène", "Aïcha"}, m.Person.FirstNames)
			}},
		{"numero_dossier is the person's APPI file number", nil,
			func(t *testing.T, m canonical.Measure, _ *canonical.Message) {
				assert.Equal(t, "202400004512", m.Person.Identifiers.AppiFileNumber)
			}},
		{"numero_parquet is the first prosecution number", nil,
			func(t *testing.T, m canonical.Measure, _ *canonical.Message) {
				assert.Equal(t, []string{"24123000456"}, m.Person.Identifiers.ProsecutionNumbers)
			}},
		{"a NULL numero_parquet gives no prosecution number", func(r *sim.Mesure) { r.NumeroParquet = nil },
			func(t *testing.T, m canonical.Measure, msg *canonical.Message) {
				assert.Nil(t, m.Person.Identifiers.ProsecutionNumbers)
				assert.NotContains(t, string(msg.Data), "prosecutionNumbers")
			}},
		{"numero_ecrou and code_etablissement are the committal identifiers", func(r *sim.Mesure) {
			r.NumeroEcrou, r.CodeEtablissement, r.TypeMesure = sim.Str("24-0412"), sim.Str("FR0690"), "LC"
		}, func(t *testing.T, m canonical.Measure, _ *canonical.Message) {
			assert.Equal(t, "24-0412", m.Person.Identifiers.CommittalNumber)
			assert.Equal(t, "FR0690", m.Person.Identifiers.EstablishmentCode)
			assert.Equal(t, canonical.MeasureLC, m.Kind)
		}},
		{"seq is the measure's version and the fact's version", nil,
			func(t *testing.T, m canonical.Measure, msg *canonical.Message) {
				assert.Equal(t, msg.FactVersion, m.Version)
				assert.Equal(t, canonical.SystemAPPI, msg.FactSystem)
				assert.Equal(t, "mesure/M-69-2024-018734", msg.FactRef)
				assert.Equal(t, "APPI:mesure/M-69-2024-018734:"+strconv.FormatInt(m.Version, 10), msg.IdempotencyKey())
			}},
		{"snake_case columns map to the fields of the same meaning", nil,
			func(t *testing.T, m canonical.Measure, msg *canonical.Message) {
				assert.Equal(t, "M-69-2024-018734", m.MeasureNumber)
				assert.Equal(t, canonical.MeasureSP, m.Kind)
				assert.Equal(t, "TJ LYON", m.Court)
				assert.Equal(t, "Mme Claire VASSEUR", m.Judge)
				assert.Equal(t, "SPIP 69 - antenne Lyon Sud", m.SPIPOffice)
				assert.Equal(t, canonical.Date("2024-06-12"), m.DecisionDate)
				assert.Equal(t, canonical.Date("2024-07-01"), m.StartDate)
				assert.Equal(t, canonical.Date("2026-07-01"), m.EndDate)
				assert.Equal(t, canonical.MeasureStatusEnCours, m.Status)
				assert.Equal(t, "MARTIN", m.Person.LastName)
				assert.Equal(t, canonical.Date("1991-11-02"), m.Person.BirthDate)
			}},
		{"maj_le is updatedAt and the message's time, in UTC", func(r *sim.Mesure) {
			r.MajLe = time.Date(2024, 9, 16, 10, 30, 0, 123456000, time.FixedZone("CEST", 7200))
		}, func(t *testing.T, m canonical.Measure, msg *canonical.Message) {
			want := time.Date(2024, 9, 16, 8, 30, 0, 123456000, time.UTC)
			assert.True(t, want.Equal(m.UpdatedAt), "%s", m.UpdatedAt)
			assert.True(t, want.Equal(msg.Time))
			assert.Equal(t, time.UTC, m.UpdatedAt.Location())
		}},
		{"observations stay in the canonical message", func(r *sim.Mesure) { r.Observations = sim.Str("Situation à revoir") },
			func(t *testing.T, m canonical.Measure, _ *canonical.Message) {
				assert.Equal(t, "Situation à revoir", m.Observations)
			}},
		{"NULL optional columns are absent from the measure", func(r *sim.Mesure) {
			r.JAP, r.SPIPAntenne, r.DateDebut, r.DateFin, r.Observations = nil, nil, "", "", nil
		}, func(t *testing.T, m canonical.Measure, msg *canonical.Message) {
			for _, field := range []string{"judge", "spipOffice", "startDate", "endDate", "observations"} {
				assert.NotContains(t, string(msg.Data), `"`+field+`"`)
			}
		}},
		{"empty optional columns are absent from the measure", func(r *sim.Mesure) {
			r.JAP, r.SPIPAntenne, r.Observations = sim.Str(""), sim.Str(""), sim.Str("")
		}, func(t *testing.T, m canonical.Measure, msg *canonical.Message) {
			for _, field := range []string{"judge", "spipOffice", "observations"} {
				assert.NotContains(t, string(msg.Data), `"`+field+`"`)
			}
		}},
		{"a measure decided before 2020 keeps its SME code", func(r *sim.Mesure) { r.TypeMesure, r.DateDecision = "SME", "2018-03-05" },
			func(t *testing.T, m canonical.Measure, _ *canonical.Message) {
				assert.Equal(t, canonical.MeasureSME, m.Kind)
			}},
	}
	db := newAPPI(t)
	rows := make([]*sim.Mesure, len(cases))
	for i, c := range cases {
		rows[i] = baseRow()
		if c.row != nil {
			c.row(rows[i])
		}
	}
	require.NoError(t, db.Insert(context.Background(), rows...))
	facts, _ := readAll(t, newSource(t, db, time.Hour, 0), "")
	require.Len(t, facts, len(cases))
	reg, err := schemas.Load()
	require.NoError(t, err)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := facts[i]
			require.Equal(t, rows[i].Seq, f.Fact.Version)
			m := measureOf(t, f)
			require.NoError(t, connectortest.ValidateMessage(reg, f.Messages[0]), "every case is a valid measure")
			c.check(t, m, f.Messages[0])
		})
	}
}

// TestRowsThatCannotBeMappedAreQuarantinedFacts checks the failures of the map stage.
func TestRowsThatCannotBeMappedAreQuarantinedFacts(t *testing.T) {
	db := newAPPI(t)
	blank := baseRow()
	blank.NumeroMesure = "  "
	good := baseRow()
	require.NoError(t, db.Insert(context.Background(), blank, good))
	src := newSource(t, db, time.Hour, 0)
	facts, _ := readAll(t, src, "")
	require.Len(t, facts, 2)

	t.Run("a blank numero_mesure is a map failure with its raw row and no identity", func(t *testing.T) {
		f := facts[0]
		require.ErrorIs(t, f.Err, ErrInvalidRow)
		assert.Equal(t, "map", f.Stage)
		assert.Nil(t, f.Fact)
		assert.Equal(t, ContentTypeRow, f.ContentType)
		assert.NotContains(t, f.Err.Error(), "MARTIN")
		_, err := src.Decode(context.Background(), f.Raw, f.ContentType)
		require.ErrorIs(t, err, ErrInvalidRow, "the replay fails the same way")
		assert.True(t, connectors.IsPermanent(err))
	})
	t.Run("the next row is mapped: one bad row never stops the feed", func(t *testing.T) {
		assert.NoError(t, facts[1].Err)
	})
	t.Run("a maj_le that does not parse is a map failure naming the column", func(t *testing.T) {
		r, err := DecodeRow(facts[1].Raw)
		require.NoError(t, err)
		r.MajLe = "yesterday"
		_, err = MeasureMessage(r)
		require.ErrorIs(t, err, ErrInvalidRow)
		assert.Contains(t, err.Error(), "maj_le")
	})
	t.Run("a raw row replays to the same fact", func(t *testing.T) {
		msgs, err := src.Decode(context.Background(), facts[1].Raw, facts[1].ContentType)
		require.NoError(t, err)
		require.Len(t, msgs, 1)
		assert.Equal(t, facts[1].Messages[0].IdempotencyKey(), msgs[0].IdempotencyKey())
		assert.JSONEq(t, string(facts[1].Messages[0].Data), string(msgs[0].Data))
	})
	t.Run("bytes that are not a raw row are refused without quoting them", func(t *testing.T) {
		for _, raw := range []string{`{"seq":1,"nom":"MARTIN","extra":1}`, `{"seq":"MARTIN"}`, `{"seq":1}{}`, `MARTIN`} {
			_, err := src.Decode(context.Background(), []byte(raw), ContentTypeRow)
			require.ErrorIs(t, err, ErrInvalidRaw, raw)
			assert.NotContains(t, err.Error(), "MARTIN")
		}
	})
}
