package declarative

import (
	"strings"
	"testing"
	"time"
)

// BenchmarkALineOfTheExport is the declarative source's hot path: one Latin-1 CSV
// line decoded, mapped by the worked example's CEL expressions and validated.
func BenchmarkALineOfTheExport(b *testing.B) {
	src := newSource(b, exampleSettings(b, b.TempDir())).Source.(*filesSource)
	cols := appiColumns(b)
	header := []byte(strings.Join(cols, ";"))
	line := []byte(`10;M0000010;D000004;DUPONT;Helene Zoe;17/06/1988;24000123456;;;TIG;TJ LYON;;SPIP 69 - antenne lyon-sud;01/03/2024;16/03/2024;;"SOINS;STAGE";EN_COURS;;01/03/2024 00:00`)
	at := time.Unix(0, 0)
	b.ReportAllocs()
	for b.Loop() {
		if f := src.makeFact(line, header, cols, "appi.csv", 2, at); f.Err != nil {
			b.Fatal(f.Err)
		}
	}
}
