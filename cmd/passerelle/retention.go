package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"passerelle/pipeline"
)

func newRetentionCmd() *cobra.Command {
	var cfgPath string
	var dryRun bool
	cmd := &cobra.Command{Use: "retention", Short: "Purge what the hub no longer needs to keep"}
	cmd.PersistentFlags().StringVarP(&cfgPath, "config", "c", "passerelle.yaml", "configuration file")
	run := &cobra.Command{
		Use:   "run [--dry-run]",
		Short: "Apply the retention periods now (serve also does it every retention.every)",
		Long: `Purges, as the configuration's retention section says: the bytes of messages every
destination received, after retention.payloads (default 30 days), with the
destinations' receipts; the bytes of quarantined inputs and of messages with a
quarantined delivery after retention.quarantine (default 180 days); and after
retention.audit (default 3 years) the audit rows, the chain's head anchored first so
that audit verify still holds, with the rows of facts and deliveries whose bytes are
gone. --dry-run counts what a run would purge and purges nothing. Every run is audited
with the operator's name (PASSERELLE_OPERATOR, else the system user).`,
		Args: cobraArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, st, err := openStore(cmd.Context(), cfgPath)
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			defer st.Close()
			rep, err := st.ApplyRetention(cmd.Context(), pipeline.RetentionPeriods(cfg.Retention), operator(), dryRun)
			if err != nil {
				return err
			}
			if rep.Skipped {
				return &exitError{code: 1, msg: "retention: another run is in progress; nothing done"}
			}
			verb := "purged"
			if dryRun {
				verb = "would purge"
			}
			out := cmd.OutOrStdout()
			_, _ = fmt.Fprintf(out, "retention %s (payloads %s, quarantine %s, audit %s):\n", verb, cfg.Retention.Payloads, cfg.Retention.Quarantine, cfg.Retention.Audit)
			for _, l := range []struct {
				n    int64
				what string
			}{
				{rep.OutboxPayloads, "payloads of delivered messages"},
				{rep.QuarantinedPayloads, "payloads of messages with a quarantined delivery"},
				{rep.Receipts, "delivery receipts"},
				{rep.QuarantineBytes, "quarantined inputs' bytes"},
				{rep.AuditRows, "audit rows past the legal period (chain anchored)"},
				{rep.Messages, "fact rows past the legal period"},
				{rep.Deliveries, "delivery rows past the legal period"},
				{rep.QuarantineRows, "quarantine rows past the legal period"},
			} {
				_, _ = fmt.Fprintf(out, "  %8d %s\n", l.n, l.what)
			}
			return nil
		},
	}
	run.Flags().BoolVar(&dryRun, "dry-run", false, "count what would be purged; purge nothing")
	cmd.AddCommand(run)
	return cmd
}
