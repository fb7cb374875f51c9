package declarative

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/charmap"
)

func TestSplitCSVLine(t *testing.T) {
	for _, c := range []struct {
		name string
		in   string
		want []string
	}{
		{"plain fields", "a;b;c", []string{"a", "b", "c"}},
		{"empty fields are kept", ";;", []string{"", "", ""}},
		{"a quoted field holds separators", `1;"SOINS;TRAVAIL";x`, []string{"1", "SOINS;TRAVAIL", "x"}},
		{"a doubled quote is one quote", `"dit ""le juge""";2`, []string{`dit "le juge"`, "2"}},
		{"a quote inside an unquoted field is kept", `l'"avis";2`, []string{`l'"avis"`, "2"}},
		{"a quoted last field", `a;"b"`, []string{"a", "b"}},
		{"an empty quoted field", `"";x`, []string{"", "x"}},
		{"accents are kept", "Hélène;Zoé", []string{"Hélène", "Zoé"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := splitCSVLine(c.in, ';')
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
	for _, in := range []string{`"DUPONT;b`, `"DUPONT"x;b`} {
		t.Run("a broken quote is refused without quoting the line: "+in, func(t *testing.T) {
			_, err := splitCSVLine(in, ';')
			require.ErrorIs(t, err, ErrDecode)
			assert.NotContains(t, err.Error(), "DUPONT")
		})
	}
}

func TestALatin1LineDecodesToUTF8(t *testing.T) {
	latin1, err := charmap.ISO8859_1.NewEncoder().String("GARÇON;Hélène\r\n")
	require.NoError(t, err)
	f := csvFormat{sep: ';', enc: charmap.ISO8859_1, head: true}
	row, utf, err := f.row([]byte(latin1), []string{"nom", "prenoms"})
	require.NoError(t, err)
	assert.Equal(t, "GARÇON;Hélène", utf)
	assert.Equal(t, map[string]string{"nom": "GARÇON", "prenoms": "Hélène"}, row)

	_, _, err = csvFormat{sep: ';', head: true}.row([]byte(latin1), []string{"nom", "prenoms"})
	require.ErrorIs(t, err, ErrDecode, "Latin-1 read as UTF-8 is refused, not garbled")
}

// joinCSV writes fields as one CSV line, quoting every field.
func joinCSV(fields []string, sep string) string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = `"` + strings.ReplaceAll(f, `"`, `""`) + `"`
	}
	return strings.Join(out, sep)
}

// FuzzSplitCSVLine: the line decoder never panics, its errors never quote the line,
// and what it accepts written back quoted decodes to the same fields.
func FuzzSplitCSVLine(f *testing.F) {
	for _, s := range []string{
		"seq;numero_mesure;nom", `1;"SOINS;TRAVAIL";x`, `"dit ""le juge""";2`, `"open`, `"a"b`, ";;", "",
		`10;M0000010;D000004;DUPONT;Hélène Zoé;17/06/1988;24000123456;;;TIG;TJ LYON;;SPIP 69 - antenne lyon-sud;01/03/2024;16/03/2024;;"SOINS;STAGE";EN_COURS;;01/03/2024 00:00`,
	} {
		f.Add(s, ";")
	}
	f.Add("a,b", ",")
	f.Add("a\tb", "\t")
	f.Fuzz(func(t *testing.T, line, sep string) {
		r := []rune(sep)
		if len(r) != 1 || r[0] == '"' || r[0] == '\n' || r[0] == '\r' || strings.ContainsRune(line, '\n') {
			return
		}
		fields, err := splitCSVLine(line, r[0])
		if err != nil {
			if len(line) > 12 && strings.Contains(err.Error(), line) {
				t.Fatalf("the error quotes the line: %v", err)
			}
			return
		}
		if len(fields) == 0 {
			t.Fatalf("no field from %q", line)
		}
		again, err := splitCSVLine(joinCSV(fields, sep), r[0])
		if err != nil {
			t.Fatalf("the fields of %q written back do not decode: %v", line, err)
		}
		if strings.Join(again, "\x00") != strings.Join(fields, "\x00") {
			t.Fatalf("round trip of %q: %q then %q", line, fields, again)
		}
	})
}

// FuzzALineOfTheExport: any line of an APPI export, decoded and mapped by the worked
// example's configuration, gives a valid measure or a failed fact whose error quotes
// nothing of the line; never a panic.
func FuzzALineOfTheExport(f *testing.F) {
	f.Add([]byte(`10;M0000010;D000004;DUPONT;Hélène Zoé;17/06/1988;24000123456;;;TIG;TJ LYON;;SPIP 69;01/03/2024;16/03/2024;;"SOINS;STAGE";EN_COURS;;01/03/2024 00:00`))
	f.Add([]byte(`x;M1;D1;DUPONT;Zoé;31/02/1988;;;;TIG;TJ LYON;;;01/03/2024;;;;EN_COURS;;`))
	f.Add([]byte(`"open`))
	inst := newSource(f, exampleSettings(f, f.TempDir()))
	src := inst.Source.(*filesSource)
	header := []byte(strings.Join(appiColumns(f), ";"))
	f.Fuzz(func(t *testing.T, line []byte) {
		if len(line) > 4096 {
			return
		}
		fact := src.makeFact(line, header, appiColumns(t), "appi.csv", 2, time.Unix(0, 0))
		if fact.Err == nil {
			if len(fact.Messages) != 1 {
				t.Fatalf("an accepted line gives %d messages", len(fact.Messages))
			}
			return
		}
		if fact.Stage != "decode" && fact.Stage != "map" {
			t.Fatalf("stage %q", fact.Stage)
		}
		for _, field := range strings.Split(string(line), ";") {
			if len(field) >= 8 && strings.Contains(fact.Err.Error(), field) {
				t.Fatalf("the error %q quotes the field %q", fact.Err, field)
			}
		}
	})
}

// appiColumns are the worked example's configured columns.
func appiColumns(t testing.TB) []string {
	t.Helper()
	var cols []string
	for _, c := range exampleSettings(t, t.TempDir())["files"].(map[string]any)["columns"].([]any) {
		cols = append(cols, c.(string))
	}
	return cols
}

func TestEvaluationErrorsKeepTheirTypesAndLoseTheirValues(t *testing.T) {
	assert.Equal(t, "type conversion error from 'string' to 'int'", redact("type conversion error from 'string' to 'int'"))
	assert.Equal(t, "invalid RFC 3339 timestamp '…'", redact(`invalid RFC 3339 timestamp "DUPONT x"`))
	assert.Equal(t, "no '…' here", redact("no 'dupont' here"))
}
