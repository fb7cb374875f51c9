package appi

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"passerelle/canonical"
	"passerelle/connectors"
	"passerelle/connectors/appi/sim"
)

// exampleMessages loads the valid canonical examples of a type (schemas/examples).
func exampleMessages(t testing.TB, name string) []*canonical.Message {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "schemas", "examples", name, "valid", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var out []*canonical.Message
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		m, err := canonical.DecodeMessage(raw)
		require.NoError(t, err, f)
		out = append(out, m)
	}
	return out
}

// newSink is a sink on db.
func newSink(t testing.TB, db appiDB) *Sink {
	t.Helper()
	return NewSink(connectorPool(t, db.URL), SinkOptions{Logger: zap.NewNop()})
}

// deliver delivers m with its own idempotency key.
func deliver(ctx context.Context, s *Sink, m *canonical.Message) (connectors.Receipt, error) {
	return s.Deliver(ctx, connectors.Delivery{Message: m, IdempotencyKey: m.IdempotencyKey(), Attempt: 1})
}

// withData returns a copy of m whose data is changed by edit (on the decoded JSON).
func withData(t testing.TB, m *canonical.Message, edit func(d map[string]any)) *canonical.Message {
	t.Helper()
	var d map[string]any
	require.NoError(t, json.Unmarshal(m.Data, &d))
	edit(d)
	raw, err := json.Marshal(d)
	require.NoError(t, err)
	c := *m
	c.Data = raw
	return &c
}

func TestACaseTransferBecomesOneDessaisissementRow(t *testing.T) {
	ctx := context.Background()
	db := newAPPI(t)
	s := newSink(t, db)
	var m *canonical.Message
	for _, x := range exampleMessages(t, "case-transfer") {
		if strings.Contains(string(x.Data), "EVT-2024-0091823") {
			m = x
		}
	}
	require.NotNil(t, m, "the DEMENAGEMENT example with documents")
	var ct canonical.CaseTransfer
	require.NoError(t, m.DecodeData(&ct))
	rec, err := deliver(ctx, s, m)
	require.NoError(t, err)
	rows, err := db.Dessaisissements(ctx)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	r := rows[0]

	cases := []struct {
		name string
		got  any
		want any
	}{
		{"reference_externe is the PRISME event's id", r.ReferenceExterne, strings.TrimPrefix(m.FactRef, "evenement/")},
		{"application_origine is PRISME", r.ApplicationOrigine, "PRISME"},
		{"numero_dossier_origine is the PRISME dossierId", r.NumeroDossierOrigine, ct.PrismeFileID},
		{"nom is the last name", r.Nom, ct.Person.LastName},
		{"first names are joined by one space", r.Prenoms, strings.Join(ct.Person.FirstNames, " ")},
		{"date_naissance is the birth date", r.DateNaissance, string(ct.Person.BirthDate)},
		{"the courts are the origin and destination", r.JuridictionOrigine + "→" + r.JuridictionDestination, ct.OriginCourt + "→" + ct.DestinationCourt},
		{"motif is the reason", r.Motif, string(ct.Reason)},
		{"date_dessaisissement is the transfer's date", r.DateDessaisissement, string(ct.Date)},
		{"the receipt is the row's id", rec.ID, strconv.FormatInt(r.ID, 10)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { assert.Equal(t, c.want, c.got) })
	}
	t.Run("mesures is a JSON array with snake_case keys", func(t *testing.T) {
		var got []map[string]any
		require.NoError(t, json.Unmarshal(r.Mesures, &got))
		require.Len(t, got, len(ct.Measures))
		for i, want := range ct.Measures {
			assert.Equal(t, want.MeasureNumber, got[i]["numero_mesure"])
			assert.Equal(t, string(want.Kind), got[i]["type_mesure"])
			assert.Contains(t, got[i], "date_debut")
			assert.Contains(t, got[i], "date_fin")
			assert.IsType(t, []any{}, got[i]["obligations"], "obligations is always an array")
		}
	})
	t.Run("pieces is a JSON array of titre, type, sha256 and taille", func(t *testing.T) {
		var got []map[string]any
		require.NoError(t, json.Unmarshal(r.Pieces, &got))
		require.Len(t, got, len(ct.Documents))
		require.NotEmpty(t, got)
		for i, want := range ct.Documents {
			assert.Equal(t, want.Title, got[i]["titre"])
			assert.Equal(t, want.SHA256, got[i]["sha256"])
			assert.InDelta(t, float64(want.Size), got[i]["taille"], 0)
		}
	})
	t.Run("the next appointment has no column and is not written", func(t *testing.T) {
		assert.NotContains(t, string(r.Mesures)+string(r.Pieces), "ppointment")
	})
}

func TestAReportBecomesOneRapportRow(t *testing.T) {
	ctx := context.Background()
	db := newAPPI(t)
	s := newSink(t, db)
	msgs := exampleMessages(t, "report")
	for _, m := range msgs {
		_, err := deliver(ctx, s, m)
		require.NoError(t, err)
	}
	rows, err := db.Rapports(ctx)
	require.NoError(t, err)
	require.Len(t, rows, len(msgs))
	byKey := map[string]sim.Rapport{}
	for _, r := range rows {
		byKey[r.ReferenceExterne] = r
	}
	for _, m := range msgs {
		var rp canonical.Report
		require.NoError(t, m.DecodeData(&rp))
		r, ok := byKey[strings.TrimPrefix(m.FactRef, "evenement/")]
		require.True(t, ok, "reference_externe is the PRISME event's id")
		t.Run(rp.EventID, func(t *testing.T) {
			assert.Equal(t, "PRISME", r.ApplicationOrigine)
			if n := rp.Person.Identifiers.AppiFileNumber; n != "" {
				require.NotNil(t, r.NumeroDossier, "numero_dossier is filled when the APPI file number is known")
				assert.Equal(t, n, *r.NumeroDossier)
			} else {
				assert.Nil(t, r.NumeroDossier, "numero_dossier is NULL when the APPI file number is unknown")
			}
			if rp.MeasureNumber != "" {
				require.NotNil(t, r.NumeroMesure)
				assert.Equal(t, rp.MeasureNumber, *r.NumeroMesure)
			} else {
				assert.Nil(t, r.NumeroMesure)
			}
			assert.Equal(t, strings.Join(rp.Person.FirstNames, " "), r.Prenoms)
			assert.Equal(t, string(rp.Person.BirthDate), r.DateNaissance)
			assert.Equal(t, string(rp.Kind), r.TypeRapport)
			assert.Equal(t, rp.ValidatedBy, r.ValidePar)
			assert.True(t, rp.ValidatedAt.Equal(r.ValideLe))
			var doc map[string]any
			require.NoError(t, json.Unmarshal(r.Document, &doc))
			assert.Equal(t, map[string]any{"titre": rp.Document.Title, "mediaType": rp.Document.MediaType,
				"sha256": rp.Document.SHA256, "taille": float64(rp.Document.Size),
				"contenuBase64": rp.Document.ContentBase64}, doc)
		})
	}
}

func TestTheSameKeyTwiceIsOneRowAndASuccess(t *testing.T) {
	ctx := context.Background()
	db := newAPPI(t)
	s := newSink(t, db)
	for _, m := range append(exampleMessages(t, "case-transfer"), exampleMessages(t, "report")...) {
		first, err := deliver(ctx, s, m)
		require.NoError(t, err)
		again, err := s.Deliver(ctx, connectors.Delivery{Message: m, IdempotencyKey: m.IdempotencyKey(), Attempt: 2})
		require.NoError(t, err, "a conflict on reference_externe is a success")
		assert.Equal(t, first.ID, again.ID, "the receipt is the existing row's id")
		var detail Receipt
		require.NoError(t, json.Unmarshal(again.Detail, &detail))
		assert.True(t, detail.Replay)
	}
	c, err := db.Count(ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, c.Dessaisissements)
	assert.Equal(t, 3, c.Rapports)
}

func TestADocumentWhoseContentDoesNotMatchItsDigestIsRefused(t *testing.T) {
	ctx := context.Background()
	db := newAPPI(t)
	s := newSink(t, db)
	m := exampleMessages(t, "report")[0]
	other := []byte("%PDF-1.7 a different document")
	sum := sha256.Sum256(other)
	cases := map[string]func(doc map[string]any){
		"content changed, digest kept": func(doc map[string]any) {
			doc["contentBase64"] = base64.StdEncoding.EncodeToString(other)
			doc["size"] = len(other)
		},
		"digest changed, content kept": func(doc map[string]any) { doc["sha256"] = hex.EncodeToString(sum[:]) },
		"size changed":                 func(doc map[string]any) { doc["size"] = 1 },
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			bad := withData(t, m, func(d map[string]any) { edit(d["document"].(map[string]any)) })
			_, err := deliver(ctx, s, bad)
			require.ErrorIs(t, err, ErrDigestMismatch)
			assert.True(t, connectors.IsPermanent(err))
			assert.NotContains(t, err.Error(), hex.EncodeToString(sum[:]), "no digest in the text")
		})
	}
	c, err := db.Count(ctx)
	require.NoError(t, err)
	assert.Zero(t, c.Rapports, "nothing was written")
}

func TestRowsTheDatabaseRefusesArePermanentErrorsNamingTheRule(t *testing.T) {
	ctx := context.Background()
	db := newAPPI(t)
	_, err := db.Pool().Exec(ctx, `ALTER TABLE appi.dessaisissements_entrants
		ADD CONSTRAINT motif_connu CHECK (motif IN ('DEMENAGEMENT', 'INCARCERATION'))`)
	require.NoError(t, err)
	s := newSink(t, db)
	var autre *canonical.Message
	for _, m := range exampleMessages(t, "case-transfer") {
		if strings.Contains(string(m.Data), `"AUTRE"`) {
			autre = m
		}
	}
	require.NotNil(t, autre)
	_, err = deliver(ctx, s, autre)
	require.ErrorIs(t, err, ErrRefused)
	assert.True(t, connectors.IsPermanent(err))
	assert.Contains(t, err.Error(), "motif_connu")
	assert.Contains(t, err.Error(), "CHECK")
	assert.NotContains(t, err.Error(), "GARCIA")
	assert.NotContains(t, err.Error(), "AUTRE", "no value of the row")
}

func TestMessagesThatCannotMakeARowArePermanent(t *testing.T) {
	ctx := context.Background()
	db := newAPPI(t)
	s := newSink(t, db)
	ct := exampleMessages(t, "case-transfer")[0]
	cases := []struct {
		name string
		d    connectors.Delivery
		is   error
	}{
		{"a measure is not for APPI's intake tables", connectors.Delivery{Message: &canonical.Message{ID: "x", Type: canonical.TypeMeasure, Data: []byte(`{}`)}, IdempotencyKey: "k"}, ErrUnsupported},
		{"a delivery without an idempotency key", connectors.Delivery{Message: ct}, ErrIdempotencyKey},
		{"a case transfer whose policy removed the last name", connectors.Delivery{Message: withData(t, ct, func(d map[string]any) {
			delete(d["person"].(map[string]any), "lastName")
		}), IdempotencyKey: "k1"}, ErrInvalidMessage},
		{"a case transfer whose data does not decode", connectors.Delivery{Message: withData(t, ct, func(d map[string]any) { d["date"] = 12 }), IdempotencyKey: "k2"}, ErrInvalidMessage},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.Deliver(ctx, c.d)
			require.ErrorIs(t, err, c.is)
			assert.True(t, connectors.IsPermanent(err))
		})
	}
	t.Run("a missing field is named with its column", func(t *testing.T) {
		_, err := s.Deliver(ctx, cases[2].d)
		assert.Contains(t, err.Error(), "person.lastName")
		assert.Contains(t, err.Error(), "column nom")
	})
}

func TestAnUnreachableDatabaseIsATransientDeliveryError(t *testing.T) {
	s := NewSink(connectorPool(t, "postgres://postgres@127.0.0.1:1/appi"), SinkOptions{})
	_, err := deliver(context.Background(), s, exampleMessages(t, "report")[0])
	require.ErrorIs(t, err, ErrUnavailable)
	assert.ErrorIs(t, err, connectors.ErrTransient)
}

func TestWithThePartnerGrantsOnlyTheSinkStillWritesOnce(t *testing.T) {
	ctx := context.Background()
	db := newAPPI(t)
	role := "appi_partner_" + strconv.FormatInt(time.Now().UnixNano()%1e9, 10)
	require.NoError(t, db.GrantPartner(ctx, role))
	t.Cleanup(func() {
		_, _ = db.Pool().Exec(context.Background(), "DROP OWNED BY "+role)
		_, _ = db.Pool().Exec(context.Background(), "DROP ROLE IF EXISTS "+role)
	})
	cfg, err := pgx.ParseConfig(db.URL)
	require.NoError(t, err)
	partnerURL := strings.Replace(db.URL, "//"+cfg.User+"@", "//"+role+"@", 1)
	require.NotEqual(t, db.URL, partnerURL)
	s := newSink(t, appiDB{URL: partnerURL})
	m := exampleMessages(t, "case-transfer")[0]

	first, err := deliver(ctx, s, m)
	require.NoError(t, err)
	assert.Equal(t, strings.TrimPrefix(m.FactRef, "evenement/"), first.ID, "the receipt is reference_externe when the id cannot be read")
	again, err := deliver(ctx, s, m)
	require.NoError(t, err)
	var detail Receipt
	require.NoError(t, json.Unmarshal(again.Detail, &detail))
	assert.True(t, detail.Replay)
	c, err := db.Count(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, c.Dessaisissements)

	t.Run("and the source reads mesures_export with them", func(t *testing.T) {
		require.NoError(t, db.Insert(ctx, baseRow()))
		facts, _ := readAll(t, newSource(t, appiDB{URL: partnerURL}, time.Hour, 0), "")
		assert.Len(t, facts, 1)
	})
}

func TestFirstNamesAreJoinedByOneSpace(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
	}{
		{[]string{"Julien", "Pierre"}, "Julien Pierre"},
		{[]string{"Marie-Claire", " Hélène  Aïcha "}, "Marie-Claire Hélène Aïcha"},
		{[]string{"Léa"}, "Léa"},
		{[]string{"", "Inès"}, "Inès"},
	} {
		assert.Equal(t, c.want, JoinFirstNames(c.in))
	}
}
