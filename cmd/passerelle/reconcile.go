package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"passerelle/connectors"
	"passerelle/pipeline"
	"passerelle/pipeline/store"
)

// reconcileShown bounds the facts listed on the terminal; --detail has them all.
const reconcileShown = 20

func newReconcileCmd() *cobra.Command {
	var cfgPath, from, to, detail string
	var replay bool
	cmd := &cobra.Command{
		Use:   "reconcile --from SOURCE --to DESTINATION",
		Short: "Prove, fact by fact, that what a source holds reached a destination",
		Long: `Compares what the source connector SOURCE holds (asked directly when the connector
can list it, else what the hub accepted from it) with what the destination connector
DESTINATION acknowledged and, when it can say, still holds: each fact is ok, missing,
stale (an older version there), pending (on its way), quarantined (with the reason) or
extra (the source no longer holds it). Run it before and after a data takeover.

--detail FILE writes every fact that is not ok (CSV, or JSON when FILE ends in .json).
--replay sends again what the destination acknowledged and then lost (through the
running hub, with the same idempotency keys; audited with PASSERELLE_OPERATOR); run
reconcile again once the hub has delivered them.

Exit code: 0 when nothing is missing, stale, pending or quarantined; 1 otherwise; 2 on
usage errors.`,
		Args: cobraArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" || to == "" {
				return usageError{fmt.Errorf("--from and --to are required")}
			}
			return runReconcile(cmd, cfgPath, from, to, detail, replay)
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "passerelle.yaml", "configuration file")
	cmd.Flags().StringVar(&from, "from", "", "source connector instance")
	cmd.Flags().StringVar(&to, "to", "", "destination connector instance")
	cmd.Flags().StringVar(&detail, "detail", "", "write every fact that is not ok to this file (.csv or .json)")
	cmd.Flags().BoolVar(&replay, "replay", false, "send again what the destination acknowledged and then lost")
	return cmd
}

func runReconcile(cmd *cobra.Command, cfgPath, from, to, detail string, replay bool) error {
	ctx := cmd.Context()
	b, err := build(cfgPath)
	if err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	cfg, instances := b.cfg, b.instances
	src, ok := instances[from]
	if !ok || (src.Source == nil && src.Decoder == nil) {
		return usageError{fmt.Errorf("--from %s: no source connector of that name in %s", from, cfgPath)}
	}
	dst, ok := instances[to]
	if !ok || dst.Sink == nil {
		return usageError{fmt.Errorf("--to %s: no destination connector of that name in %s", to, cfgPath)}
	}
	types := b.routing.Destinations()[to]
	if len(types) == 0 {
		return usageError{fmt.Errorf("no route goes to %s", to)}
	}
	st, err := store.Open(ctx, cfg.Database.URL, store.Options{MaxConns: 4, AuditKey: []byte(os.Getenv("PASSERELLE_AUDIT_KEY"))})
	if err != nil {
		return err
	}
	defer st.Close()
	rc := &pipeline.Reconciler{Store: st, Source: from, Destination: to, Types: types}
	if inv, ok := src.Source.(connectors.Inventory); ok {
		rc.Inventory = inv
	}
	if h, ok := dst.Sink.(connectors.Holdings); ok {
		rc.Holdings = h
	}
	res, err := rc.Run(ctx)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	printReconciliation(out, res)
	if detail != "" {
		if err := writeReconcileDetail(detail, res.Facts); err != nil {
			return err
		}
		_, _ = fmt.Fprintf(out, "detail: %s (%d facts)\n", detail, len(res.Facts))
	}
	if replay {
		n, err := st.Redeliver(ctx, to, res.Gaps(), operator())
		if err != nil {
			return err
		}
		_, _ = fmt.Fprintf(out, "replay: %d fact(s) sent again to %s through the running hub; reconcile again once delivered\n", n, to)
	}
	if !res.Clean() {
		return &exitError{code: 1}
	}
	return nil
}

// printReconciliation writes the human-readable summary.
func printReconciliation(out io.Writer, r *pipeline.Reconciliation) {
	asked := func(b bool, what string) string {
		if b {
			return what + " asked directly"
		}
		return what + ": the hub's records stand for it"
	}
	_, _ = fmt.Fprintf(out, "reconcile %s → %s (%s; %s)\n", r.Source, r.Destination,
		asked(r.SourceInventory, "source"), asked(r.DestinationHoldings, "destination"))
	for _, c := range []string{pipeline.ClassOK, pipeline.ClassMissing, pipeline.ClassStale, pipeline.ClassPending,
		pipeline.ClassQuarantined, pipeline.ClassExtra} {
		_, _ = fmt.Fprintf(out, "  %-12s %d\n", c, r.Counts[c])
	}
	shown := r.Facts
	sort.SliceStable(shown, func(i, j int) bool { return shown[i].Class < shown[j].Class })
	for i, f := range shown {
		if i == reconcileShown {
			_, _ = fmt.Fprintf(out, "  … and %d more (--detail FILE lists them all)\n", len(shown)-i)
			break
		}
		_, _ = fmt.Fprintf(out, "  %-12s %s %s: %s\n", f.Class, f.System, f.Ref, f.Reason)
	}
	if r.Clean() {
		_, _ = fmt.Fprintln(out, "nothing is missing, stale, pending or quarantined")
	}
}

// writeReconcileDetail writes facts as CSV, or JSON for a .json file.
func writeReconcileDetail(path string, facts []pipeline.FactReport) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if strings.EqualFold(filepath.Ext(path), ".json") {
		enc := json.NewEncoder(f)
		enc.SetIndent("", "  ")
		if facts == nil {
			facts = []pipeline.FactReport{}
		}
		err = enc.Encode(facts)
	} else {
		w := csv.NewWriter(f)
		_ = w.Write([]string{"class", "system", "ref", "source_version", "hub_version", "acked_version", "held_version", "reason", "quarantine_id"})
		for _, r := range facts {
			held := ""
			if r.Held != nil {
				held = strconv.FormatInt(*r.Held, 10)
			}
			_ = w.Write([]string{r.Class, r.System, r.Ref, strconv.FormatInt(r.Source, 10), strconv.FormatInt(r.Hub, 10),
				strconv.FormatInt(r.Acked, 10), held, r.Reason, strconv.FormatInt(r.QuarantineID, 10)})
		}
		w.Flush()
		err = w.Error()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("reconcile: write %s: %w", path, err)
	}
	return nil
}
