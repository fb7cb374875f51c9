package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"passerelle/config"
	"passerelle/connectors/cassiopee"
	"passerelle/pipeline"
	"passerelle/pipeline/store"
)

func newCassiopeeCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "cassiopee", Short: "Cassiopée tools: import exported decisions"}
	cmd.AddCommand(newCassiopeeImportCmd())
	return cmd
}

func newCassiopeeImportCmd() *cobra.Command {
	var cfgPath, connector string
	var workers int
	cmd := &cobra.Command{
		Use:   "import DIR",
		Short: "Import a folder of exported Cassiopée decisions (backfill), with receipts",
		Long: `Takes every *.json file under DIR (one decision each, in the format a clerk's
workstation sends) through the same validation, mapping, dedup and receipts as the
HTTPS intake, straight into the store: each file's court is its juridiction.code. A
file imported twice is a duplicate (the same receipt); an older transmission than one
already received is recorded as stale and never sent. Progress goes to stderr, the
summary to stdout: accepted, duplicates, stale, rejected with the pointer and rule of
each problem (never a value). Exits 1 when a file was rejected or could not be
recorded. The hub (passerelle serve) delivers what was accepted.`,
		Args: cobraArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := build(cfgPath)
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			cfg, reg, routing := b.cfg, b.schemas, b.routing
			st, err := store.Open(cmd.Context(), cfg.Database.URL, store.Options{MaxConns: int32(max(workers, 1)*2 + 2),
				AuditKey: []byte(os.Getenv("PASSERELLE_AUDIT_KEY"))})
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			defer st.Close()
			host := &pipeline.PushHost{Name: connector, Store: st, Log: zap.NewNop(),
				Ingester: &pipeline.Ingester{Store: st, Schemas: reg, Routing: routing, Log: zap.NewNop(),
					HoldDoubtful: cfg.Identities.Doubtful == config.DoubtfulWait}}
			bar := &progressBar{w: cmd.ErrOrStderr()}
			im := &cassiopee.Importer{Host: host, Workers: workers, Progress: bar.update}
			files, err := im.Import(cmd.Context(), args[0])
			bar.finish()
			if err != nil && files == nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			failed := printImportSummary(cmd.OutOrStdout(), files)
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			if failed > 0 {
				return &exitError{code: 1, msg: fmt.Sprintf("%d file(s) rejected or not recorded", failed)}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "passerelle.yaml", "configuration file")
	cmd.Flags().StringVar(&connector, "connector", "cassiopee", "the Cassiopée connector instance the receipts belong to")
	cmd.Flags().IntVar(&workers, "workers", 4, "files imported at once")
	return cmd
}

// printImportSummary writes the counts and every rejected file with its reasons, and
// returns how many files were rejected or failed.
func printImportSummary(w io.Writer, files []cassiopee.ImportedFile) int {
	count := map[cassiopee.ImportOutcome]int{}
	judgments := 0
	for _, f := range files {
		count[f.Outcome]++
		if f.Outcome == cassiopee.ImportAccepted {
			judgments += f.Messages
		}
	}
	_, _ = fmt.Fprintf(w, "files:      %d\n", len(files))
	_, _ = fmt.Fprintf(w, "accepted:   %d (%d judgments)\n", count[cassiopee.ImportAccepted], judgments)
	_, _ = fmt.Fprintf(w, "duplicates: %d\n", count[cassiopee.ImportDuplicate])
	_, _ = fmt.Fprintf(w, "stale:      %d\n", count[cassiopee.ImportStale])
	_, _ = fmt.Fprintf(w, "rejected:   %d\n", count[cassiopee.ImportRejected])
	if n := count[cassiopee.ImportFailed]; n > 0 {
		_, _ = fmt.Fprintf(w, "failed:     %d (not recorded: import them again)\n", n)
	}
	bad := make([]cassiopee.ImportedFile, 0)
	for _, f := range files {
		if f.Outcome == cassiopee.ImportRejected || f.Outcome == cassiopee.ImportFailed {
			bad = append(bad, f)
		}
	}
	sort.Slice(bad, func(i, j int) bool { return bad[i].Path < bad[j].Path })
	for _, f := range bad {
		_, _ = fmt.Fprintf(w, "%s %s: %s\n", f.Outcome, f.Path, strings.Join(f.Reasons, "; "))
	}
	return len(bad)
}

// progressBar draws "[=====     ] 12/40 files" on one line of stderr, at most every
// 100 ms.
type progressBar struct {
	w    io.Writer
	mu   sync.Mutex
	last time.Time
	done int
	all  int
}

func (p *progressBar) update(done, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done, p.all = done, total
	if done < total && time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	const width = 30
	filled := width * done / max(total, 1)
	_, _ = fmt.Fprintf(p.w, "\rimport [%s%s] %d/%d files", strings.Repeat("=", filled), strings.Repeat(" ", width-filled), done, total)
}

func (p *progressBar) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.all > 0 {
		_, _ = fmt.Fprintln(p.w)
	}
}
