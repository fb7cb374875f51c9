package appi

import (
	"testing"

	"passerelle/connectors/appi/sim"
)

// BenchmarkMeasureMessage maps one export row to its canonical message (the
// source's hot path besides the query).
func BenchmarkMeasureMessage(b *testing.B) {
	rows := sim.NewGenerator(sim.GeneratorOptions{Seed: 2}).Rows(256)
	in := make([]*Row, len(rows))
	for i, m := range rows {
		in[i] = rowOf(m, int64(i+1))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := MeasureMessage(in[i%len(in)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeRow decodes a quarantined raw row (replay).
func BenchmarkDecodeRow(b *testing.B) {
	raw := EncodeRow(rowOf(sim.NewGenerator(sim.GeneratorOptions{Seed: 2}).Next(), 1))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeRow(raw); err != nil {
			b.Fatal(err)
		}
	}
}
