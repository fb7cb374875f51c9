package appi

import (
	"errors"
	"strings"
	"testing"
	"time"

	"passerelle/canonical"
	"passerelle/connectors"
	"passerelle/connectors/appi/sim"
)

// rowOf is the Row the source reads for a simulator row of seq seq: the text forms
// PostgreSQL gives (maj_le in UTC, ISO).
func rowOf(m *sim.Mesure, seq int64) *Row {
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	return &Row{Seq: seq, NumeroMesure: m.NumeroMesure, NumeroDossier: m.NumeroDossier, Nom: m.Nom,
		Prenoms: m.Prenoms, DateNaissance: m.DateNaissance, NumeroParquet: m.NumeroParquet,
		NumeroEcrou: m.NumeroEcrou, CodeEtablissement: m.CodeEtablissement, TypeMesure: m.TypeMesure,
		Juridiction: m.Juridiction, JAP: m.JAP, SPIPAntenne: m.SPIPAntenne, DateDecision: m.DateDecision,
		DateDebut: opt(m.DateDebut), DateFin: opt(m.DateFin), Obligations: m.Obligations, Statut: m.Statut,
		Observations: m.Observations, MajLe: m.MajLe.UTC().Format("2006-01-02 15:04:05.999999-07")}
}

// FuzzDecodeRow feeds raw rows to the replay decoder and the mapper: no input makes
// them panic; what decodes encodes back to the same row; what maps is the measure of
// that row's seq and numero_mesure, with a list of obligations; what fails is a
// permanent error of the package's sentinels that quotes none of the row's text.
func FuzzDecodeRow(f *testing.F) {
	g := sim.NewGenerator(sim.GeneratorOptions{Seed: 5, People: 6})
	for i, m := range g.Rows(40) {
		f.Add(EncodeRow(rowOf(m, int64(i+1))))
	}
	for _, s := range []string{
		`{"seq":1,"numero_mesure":"M-1","obligations":null,"maj_le":"2024-09-02 07:05:00+00"}`,
		`{"seq":2,"numero_mesure":"M-1","obligations":";;SOINS; ;","maj_le":"2024-09-02T07:05:00Z"}`,
		`{"seq":0,"numero_mesure":"M-1"}`,
		`{"seq":3,"numero_mesure":" ","maj_le":"x"}`,
		`{"seq":-9223372036854775808}`,
		`{"seq":1e3}`, `[]`, `null`, `{}`, `{"seq":1}{"seq":2}`, `{"prenoms":"\u0000\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := DecodeRow(raw)
		if err != nil {
			if !errors.Is(err, ErrInvalidRaw) || !connectors.IsPermanent(err) {
				t.Fatalf("a decoding failure is not a permanent ErrInvalidRaw: %v", err)
			}
			return
		}
		again, err := DecodeRow(EncodeRow(r))
		if err != nil {
			t.Fatalf("a decoded row does not decode again: %v", err)
		}
		if string(EncodeRow(again)) != string(EncodeRow(r)) {
			t.Fatal("a decoded row does not encode back to itself")
		}
		msg, err := MeasureMessage(r)
		if err != nil {
			if !errors.Is(err, ErrInvalidRow) {
				t.Fatalf("a mapping failure is not an ErrInvalidRow: %v", err)
			}
			for _, v := range []string{r.Nom, r.Prenoms, r.DateNaissance, text(r.Observations)} {
				if len(v) > 3 && strings.Contains(err.Error(), v) {
					t.Fatalf("the error quotes the row: %v", err)
				}
			}
			return
		}
		var m canonical.Measure
		if err := msg.DecodeData(&m); err != nil {
			t.Fatalf("the message's data does not decode: %v", err)
		}
		if m.Version != r.Seq || msg.FactVersion != r.Seq || msg.FactRef != canonical.APPIMeasureRef(r.NumeroMesure) {
			t.Fatal("the measure's version or fact is not the row's")
		}
		if m.Obligations == nil || m.UpdatedAt.Location() != time.UTC {
			t.Fatal("obligations must be a list and updatedAt in UTC")
		}
	})
}
