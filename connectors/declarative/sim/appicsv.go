package sim

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/text/encoding/charmap"
)

// APPIColumns are the columns of APPI's legacy CSV export, in order: the columns of
// appi.mesures_export (contracts/appi/interface.sql).
var APPIColumns = []string{
	"seq", "numero_mesure", "numero_dossier", "nom", "prenoms", "date_naissance",
	"numero_parquet", "numero_ecrou", "code_etablissement", "type_mesure", "juridiction",
	"jap", "spip_antenne", "date_decision", "date_debut", "date_fin", "obligations",
	"statut", "observations", "maj_le",
}

// Antennes are the SPIP offices of the generated export, one file each.
var Antennes = []string{"lyon-sud", "lyon-nord", "villefranche", "vienne"}

// ExportOptions shape a generated export.
type ExportOptions struct {
	// Seed makes the export reproducible.
	Seed uint64
	// Rows is the number of data lines over all files.
	Rows int
	// MalformedEvery makes every n-th row malformed (100: 1 %); 0 makes none.
	MalformedEvery int
	// Antennes are the files' antennes; default Antennes.
	Antennes []string
}

// File is one generated export file: Latin-1 text, semicolon separated, a header line.
type File struct {
	// Name is the file name, e.g. appi_mesures_lyon-sud.csv.
	Name string
	// Content is the file's bytes, Latin-1 encoded.
	Content []byte
	// Rows counts the data lines, Malformed the malformed ones among them.
	Rows, Malformed int
}

// Export is a generated export: its files and the personal data in them.
type Export struct {
	Files []File
	// Canaries are names, first names and birth dates of the rows: strings that must
	// never appear in a log or an error text.
	Canaries []string
	// Accepted counts the rows that are well formed; Malformed the others.
	Accepted, Malformed int
}

var (
	lastNames  = []string{"DUPONT", "LEFÈVRE", "GARÇON", "MÉNARD", "BOUCHÉ", "NGUYEN", "OUÉDRAOGO", "DA SILVA"}
	firstNames = []string{"Hélène", "François", "Zoé", "Jérôme", "Anaïs", "Noël", "Loïc", "Cécile"}
	kinds      = []string{"SP", "TIG", "DDSE", "SL", "PE", "LC", "LSC", "SSJ", "SME", "CJ", "AEM"}
	statuses   = []string{"A_PRENDRE_EN_CHARGE", "EN_COURS", "SUSPENDUE", "TERMINEE"}
	duties     = []string{"SOINS", "TRAVAIL", "FORMATION", "INDEMNISER_VICTIME", "STAGE"}
)

// malformations are the kinds of broken line an old export holds, in turn.
var malformations = []func(fields []string) string{
	func(f []string) string { return strings.Join(f[:len(f)-3], ";") },            // a cut line
	func(f []string) string { f[13] = "31/02/2024"; return strings.Join(f, ";") }, // an impossible date
	func(f []string) string { f[9] = "XYZ"; return strings.Join(f, ";") },         // an unknown measure kind
	func(f []string) string { f[18] = `"non fermé`; return strings.Join(f, ";") }, // an unclosed quote
	func(f []string) string { f[0] = "n/a"; return strings.Join(f, ";") },         // a seq that is no number
	func(f []string) string { f[17] = ""; return strings.Join(f, ";") },           // a missing status
}

// APPIExport generates a legacy APPI export as the old batch wrote it: one file per
// antenne, semicolon separated, Latin-1, dates JJ/MM/AAAA, first names space
// separated, obligations ';'-joined inside a quoted field.
func APPIExport(opts ExportOptions) Export {
	antennes := opts.Antennes
	if len(antennes) == 0 {
		antennes = Antennes
	}
	rng := rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x5deece66d))
	bodies := make([]strings.Builder, len(antennes))
	files := make([]File, len(antennes))
	for i, a := range antennes {
		files[i].Name = "appi_mesures_" + a + ".csv"
		bodies[i].WriteString(strings.Join(APPIColumns, ";") + "\r\n")
	}
	ex := Export{}
	seen := map[string]bool{}
	day := func(t time.Time) string { return t.Format("02/01/2006") }
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for r := 1; r <= opts.Rows; r++ {
		i := rng.IntN(len(antennes))
		nom := lastNames[rng.IntN(len(lastNames))]
		prenoms := firstNames[rng.IntN(len(firstNames))] + " " + firstNames[rng.IntN(len(firstNames))]
		birth := time.Date(1960+rng.IntN(40), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC)
		decision := base.AddDate(0, 0, rng.IntN(300))
		var obligations []string
		for _, d := range duties {
			if rng.IntN(3) == 0 {
				obligations = append(obligations, d)
			}
		}
		fields := []string{
			fmt.Sprint(r), fmt.Sprintf("M%07d", r), fmt.Sprintf("D%06d", 1+rng.IntN(opts.Rows/2+1)), nom, prenoms, day(birth),
			fmt.Sprintf("%011d", 24000000000+rng.IntN(999999)), "", "", kinds[rng.IntN(len(kinds))], "TJ LYON",
			"", "SPIP 69 - antenne " + antennes[i], day(decision), day(decision.AddDate(0, 0, 15)), "",
			`"` + strings.Join(obligations, ";") + `"`, statuses[rng.IntN(len(statuses))], "", decision.Format("02/01/2006 15:04"),
		}
		if rng.IntN(4) == 0 {
			fields[15] = day(decision.AddDate(1+rng.IntN(3), 0, 0))
		}
		if rng.IntN(5) == 0 {
			fields[18] = `"Suivi renforcé; voir note du ` + day(decision) + `"`
		}
		for _, c := range []string{nom, birth.Format("2006-01-02"), day(birth)} {
			if !seen[c] {
				seen[c] = true
				ex.Canaries = append(ex.Canaries, c)
			}
		}
		for _, p := range strings.Fields(prenoms) {
			if !seen[p] {
				seen[p] = true
				ex.Canaries = append(ex.Canaries, p)
			}
		}
		line := strings.Join(fields, ";")
		files[i].Rows++
		if opts.MalformedEvery > 0 && r%opts.MalformedEvery == 0 {
			line = malformations[(r/opts.MalformedEvery)%len(malformations)](fields)
			files[i].Malformed++
			ex.Malformed++
		} else {
			ex.Accepted++
		}
		bodies[i].WriteString(line + "\r\n")
	}
	for i := range files {
		b, err := charmap.ISO8859_1.NewEncoder().Bytes([]byte(bodies[i].String()))
		if err != nil {
			panic(err) // every generated character is in Latin-1
		}
		files[i].Content = b
	}
	ex.Files = files
	return ex
}

// Drop writes the files into dir as a batch does: each written under a hidden name,
// then renamed, so that a reader never sees half a file.
func (ex Export) Drop(dir string) error {
	for _, f := range ex.Files {
		tmp := filepath.Join(dir, "."+f.Name+".part")
		if err := os.WriteFile(tmp, f.Content, 0o600); err != nil {
			return fmt.Errorf("sim: write %s: %w", f.Name, err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, f.Name)); err != nil {
			return fmt.Errorf("sim: drop %s: %w", f.Name, err)
		}
	}
	return nil
}

// Lines returns a file's lines, decoded from Latin-1 (for tests).
func (f File) Lines() []string {
	b, _ := charmap.ISO8859_1.NewDecoder().Bytes(f.Content)
	return strings.Split(strings.TrimRight(string(bytes.ReplaceAll(b, []byte("\r"), nil)), "\n"), "\n")
}
