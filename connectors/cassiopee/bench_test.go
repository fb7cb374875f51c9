package cassiopee

import (
	"testing"
)

// BenchmarkDecodeAndMap measures the work per decision from the clerk's bytes to the
// canonical messages: strict decode, contract schema, rules, mapping, marshalling.
func BenchmarkDecodeAndMap(b *testing.B) {
	for _, name := range examples {
		body := exampleBody(b, name)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				d, _, err := Decode(body)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := ToJudgments(d, fixedNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeRefusal measures a refused body, for the cost of a hostile sender.
func BenchmarkDecodeRefusal(b *testing.B) {
	doc := exampleDoc(b, exampleFerme)
	set(b, doc, "/decision/dateDecision", "31/02/2024")
	set(b, doc, peine0+"/dureeSursis", "9A")
	body := encode(b, doc)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Decode(body); err == nil {
			b.Fatal("accepted")
		}
	}
}

func BenchmarkParsers(b *testing.B) {
	b.Run("ParseDate", func(b *testing.B) {
		for b.Loop() {
			if _, err := ParseDate("14/03/2024"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ParseDuree", func(b *testing.B) {
		for b.Loop() {
			if _, err := ParseDuree("2A6M15J"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ParseMontant", func(b *testing.B) {
		for b.Loop() {
			if _, err := ParseMontant("1500,00"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
