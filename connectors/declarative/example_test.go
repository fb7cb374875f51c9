package declarative

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/connectors"
	"passerelle/connectors/connectortest"
	"passerelle/connectors/declarative/sim"
	"passerelle/schemas"
)

// The worked example of docs/connectors.md, end to end on the source's side: APPI's
// legacy export of 10,000 rows in four Latin-1 files, 1 % of them malformed, read as
// the pipeline reads (each Read given the position committed with the facts before
// it), with a crash and a new instance halfway.
func TestTheLegacyAPPIExportLoadsAsMeasures(t *testing.T) {
	dir := t.TempDir()
	ex := sim.APPIExport(sim.ExportOptions{Seed: 2024, Rows: 10_000, MalformedEvery: 100})
	require.Equal(t, 9_900, ex.Accepted)
	require.Equal(t, 100, ex.Malformed)
	require.NoError(t, ex.Drop(dir))
	settings := exampleSettings(t, dir)
	ordinal := map[string]int64{} // files are read in name order
	for i, name := range sortedNames(ex) {
		ordinal[name] = int64(i + 1)
	}

	reg, err := schemas.Load()
	require.NoError(t, err)
	src := newSource(t, settings).Source
	var facts []connectors.Fact
	pos := ""
	for reads := 0; ; reads++ {
		require.Less(t, reads, 1000, "the source never reaches the end")
		if reads == 10 {
			src = newSource(t, settings).Source // a crash: a new process resumes from the checkpoint alone
		}
		b, err := src.Read(t.Context(), pos)
		require.NoError(t, err)
		if len(b.Facts) == 0 && b.Next == pos {
			break
		}
		facts = append(facts, b.Facts...)
		pos = b.Next // committed with the facts
	}

	accepted, rejected := 0, 0
	refs := map[string]bool{}
	for _, f := range facts {
		if f.Err != nil {
			rejected++
			continue
		}
		accepted++
		for _, m := range f.Messages {
			require.NoError(t, connectortest.ValidateMessage(reg, m))
			assert.False(t, refs[m.IdempotencyKey()], "a fact read twice")
			refs[m.IdempotencyKey()] = true
		}
	}
	assert.Equal(t, 9_900, accepted, "measure facts accepted")
	assert.Equal(t, 100, rejected, "lines rejected")

	t.Run("every file moved to done/ with its report, nothing deleted", func(t *testing.T) {
		left, err := filepath.Glob(filepath.Join(dir, "*.csv"))
		require.NoError(t, err)
		assert.Empty(t, left, "files left in the folder")
		total := 0
		for _, f := range ex.Files {
			moved := filepath.Join(dir, DoneDir, ordinalName(ordinal[f.Name], f.Name))
			got, err := os.ReadFile(moved)
			require.NoError(t, err, "file %s in done/", f.Name)
			assert.Equal(t, f.Content, got, "the file is moved as it was dropped")
			var rep Report
			raw, err := os.ReadFile(moved + ".report.json")
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(raw, &rep))
			assert.Equal(t, f.Rows, rep.Records)
			assert.Equal(t, f.Malformed, rep.Rejected)
			assert.Equal(t, f.Rows-f.Malformed, rep.Accepted)
			assert.Len(t, rep.Reasons, f.Malformed)
			total += rep.Accepted
		}
		assert.Equal(t, 9_900, total)
	})
	t.Run("100 lines in rejected/, with one reason per line", func(t *testing.T) {
		reasonLine := regexp.MustCompile(`^line [0-9]+: (decode|map): declarative: .+`)
		lines, reasons := 0, 0
		for _, f := range ex.Files {
			base := filepath.Join(dir, RejectedDir, ordinalName(ordinal[f.Name], f.Name))
			if f.Malformed == 0 {
				assert.NoFileExists(t, base+".lines")
				continue
			}
			rl, err := os.ReadFile(base + ".lines")
			require.NoError(t, err)
			rr, err := os.ReadFile(base + ".reasons")
			require.NoError(t, err)
			l := bytes.Count(rl, []byte("\n")) - 1 // the header line first
			r := bytes.Count(rr, []byte("\n"))
			assert.Equal(t, f.Malformed, l)
			assert.Equal(t, l, r, "one reason per rejected line")
			lines += l
			reasons += r
			sc := bufio.NewScanner(bytes.NewReader(rr))
			for sc.Scan() {
				assert.Regexp(t, reasonLine, sc.Text())
				for _, c := range ex.Canaries {
					assert.NotContains(t, sc.Text(), c, "a reason carries personal data")
				}
			}
			assert.True(t, bytes.HasPrefix(rl, f.Content[:bytes.IndexByte(f.Content, '\n')]), "the rejected lines keep the header, in Latin-1")
		}
		assert.Equal(t, 100, lines)
		assert.Equal(t, 100, reasons)
	})
	t.Run("each kind of malformed line has its own reason", func(t *testing.T) {
		text := ""
		for _, want := range []string{
			"17 fields, the header has 20",
			"mapping.decisionDate: date: not a valid date in the form JJ/MM/AAAA",
			"/data/kind (rule enum)",
			"a quoted field is not closed",
			"fact.version",
			"/data/status (rule required)",
		} {
			assert.True(t, strings.Contains(text, want) || anyFileSays(t, dir, want), "no reason says %q", want)
		}
	})
}

// anyFileSays reports whether any file's reasons hold want.
func anyFileSays(t *testing.T, dir, want string) bool {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, RejectedDir, "*.reasons"))
	require.NoError(t, err)
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(raw), want) {
			return true
		}
	}
	return false
}

// sortedNames are the export's file names in name order, the order they are read in.
func sortedNames(ex sim.Export) []string {
	names := make([]string, len(ex.Files))
	for i, f := range ex.Files {
		names[i] = f.Name
	}
	sort.Strings(names)
	return names
}
