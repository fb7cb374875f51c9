package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"passerelle/config"
	"passerelle/connectors"
	"passerelle/pipeline"
	"passerelle/pipeline/store"
)

// ops is what the operator commands work with: the store of a configuration, and what
// replay needs to re-inject inputs.
type ops struct {
	store    *store.Store
	ingester *pipeline.Ingester
	replayer *pipeline.Replayer
}

func openOps(ctx context.Context, cfgPath string) (*ops, error) {
	b, err := build(cfgPath)
	if err != nil {
		return nil, err
	}
	cfg, instances, reg, routing := b.cfg, b.instances, b.schemas, b.routing
	st, err := store.Open(ctx, cfg.Database.URL, store.Options{MaxConns: 4, AuditKey: []byte(os.Getenv("PASSERELLE_AUDIT_KEY"))})
	if err != nil {
		return nil, err
	}
	decoders := map[string]connectors.Decoder{}
	for name, inst := range instances {
		if inst.Decoder != nil {
			decoders[name] = inst.Decoder
		}
	}
	in := &pipeline.Ingester{Store: st, Schemas: reg, Routing: routing, Log: zap.NewNop(),
		HoldDoubtful: cfg.Identities.Doubtful == config.DoubtfulWait}
	return &ops{store: st, ingester: in, replayer: &pipeline.Replayer{Store: st, Ingester: in, Decoders: decoders}}, nil
}

// operator names who runs a command, for the audit: PASSERELLE_OPERATOR, else the
// system user.
func operator() string {
	if v := os.Getenv("PASSERELLE_OPERATOR"); v != "" {
		return "operator:" + v
	}
	if u, err := user.Current(); err == nil {
		return "operator:" + u.Username
	}
	return "operator:unknown"
}

func newQuarantineCmd() *cobra.Command {
	var cfgPath string
	var f store.QuarantineFilter
	cmd := &cobra.Command{Use: "quarantine", Short: "List and show what was quarantined, with why"}
	cmd.PersistentFlags().StringVarP(&cfgPath, "config", "c", "passerelle.yaml", "configuration file")
	list := &cobra.Command{
		Use:   "list",
		Short: "List quarantined inputs (open ones by default), newest first",
		Args:  cobraArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := openOps(cmd.Context(), cfgPath)
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			defer o.store.Close()
			items, err := o.store.ListQuarantine(cmd.Context(), f)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			_, _ = fmt.Fprintln(tw, "ID\tSTAGE\tCONNECTOR\tDESTINATION\tFACT\tATTEMPTS\tLAST FAILURE\tSTATUS\tREASON")
			for _, q := range items {
				fact := q.FactRef
				if fact != "" {
					fact = q.FactSystem + ":" + fact + ":" + strconv.FormatInt(q.FactVersion, 10)
				}
				_, _ = fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", q.ID, q.Stage, q.Connector, q.Destination, fact,
					q.Attempts, q.LastFailedAt.UTC().Format("2006-01-02 15:04:05Z"), q.Status, q.Reason)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&f.Status, "status", "open", "open, replayed or all")
	list.Flags().StringVar(&f.Stage, "stage", "", "only this stage (decode, map, validate, ingest, identity, deliver)")
	list.Flags().StringVar(&f.Connector, "connector", "", "only this connector")
	list.Flags().StringVar(&f.Reason, "reason", "", "only reasons containing this text")
	list.Flags().IntVar(&f.Limit, "limit", 100, "at most this many")
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one quarantined input, its reason and its original bytes",
		Args:  cobraArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return usageError{fmt.Errorf("ID must be a number")}
			}
			o, err := openOps(cmd.Context(), cfgPath)
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			defer o.store.Close()
			q, err := o.store.QuarantineByID(cmd.Context(), id)
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(map[string]any{
				"id": q.ID, "stage": q.Stage, "connector": q.Connector, "route": q.Route, "destination": q.Destination,
				"messageId": q.MessageID, "fact": map[string]any{"system": q.FactSystem, "ref": q.FactRef, "version": q.FactVersion},
				"reason": q.Reason, "violations": q.Violations, "attempts": q.Attempts, "firstFailedAt": q.FirstFailedAt,
				"lastFailedAt": q.LastFailedAt, "status": q.Status, "replayCount": q.ReplayCount, "contentType": q.ContentType,
				"raw": string(q.Raw),
			})
		},
	}
	cmd.AddCommand(list, show)
	return cmd
}

func newReplayCmd() *cobra.Command {
	var cfgPath, reason string
	var all bool
	cmd := &cobra.Command{
		Use:   "replay ID... | --all [--reason R]",
		Short: "Re-inject quarantined inputs, unchanged, at the stage that failed",
		Long: `Re-injects each quarantined input, byte for byte, at the stage where it failed: a
source's input goes through its connector's decoder, validation and ingest again; a
refused delivery goes back to its destination with the same idempotency key (a running
hub sends it). Each replay is audited with the operator's name (PASSERELLE_OPERATOR,
else the system user). An input that fails again is quarantined again with its new
reason. Exit 1 if any replay could not be done.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return usageError{fmt.Errorf("give quarantine ids, or --all (optionally with --reason)")}
			}
			o, err := openOps(cmd.Context(), cfgPath)
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			defer o.store.Close()
			var items []store.QuarantineItem
			if all {
				items, err = o.store.ListQuarantine(cmd.Context(), store.QuarantineFilter{Reason: reason, Limit: 100000})
				if err != nil {
					return err
				}
			}
			for _, a := range args {
				id, err := strconv.ParseInt(a, 10, 64)
				if err != nil {
					return usageError{fmt.Errorf("%q is not a quarantine id", a)}
				}
				q, err := o.store.QuarantineByID(cmd.Context(), id)
				if err != nil {
					return &exitError{code: 1, msg: err.Error()}
				}
				items = append(items, q)
			}
			failed := 0
			actor := operator()
			for _, q := range items {
				res, err := o.replayer.Replay(cmd.Context(), q, actor)
				if err != nil {
					failed++
					_, _ = fmt.Fprintf(cmd.ErrOrStderr(), "%d: not replayed: %v\n", q.ID, err)
					continue
				}
				line := fmt.Sprintf("%d: %s", q.ID, res.Outcome)
				if res.Requarantined != 0 {
					line += fmt.Sprintf(" (now quarantine %d)", res.Requarantined)
				}
				_, _ = fmt.Fprintln(cmd.OutOrStdout(), line)
			}
			if failed > 0 {
				return &exitError{code: 1, msg: fmt.Sprintf("%d of %d not replayed", failed, len(items))}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "passerelle.yaml", "configuration file")
	cmd.Flags().BoolVar(&all, "all", false, "replay every open quarantined input")
	cmd.Flags().StringVar(&reason, "reason", "", "with --all: only those whose reason contains this text")
	return cmd
}

func newAuditCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{Use: "audit", Short: "The audit log of every ingest, delivery, quarantine and replay"}
	cmd.PersistentFlags().StringVarP(&cfgPath, "config", "c", "passerelle.yaml", "configuration file")
	cmd.AddCommand(&cobra.Command{
		Use:   "verify",
		Short: "Walk the hash chain and name the first row altered, deleted or inserted",
		Long: `Recomputes every row's hash from its content and its predecessor's hash. Exit 0 and
the chain's head when it holds; exit 1 naming the first row that does not. Keep the
printed head somewhere else: comparing it later also detects rows cut from the end.
With PASSERELLE_AUDIT_KEY set (as for serve), the chain is keyed and cannot be
recomputed by someone without the key.`,
		Args: cobraArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := openOps(cmd.Context(), cfgPath)
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			defer o.store.Close()
			v, err := o.store.VerifyAudit(cmd.Context())
			if err != nil {
				return err
			}
			if v.Problem != nil {
				return &exitError{code: 1, msg: fmt.Sprintf("audit: %d rows read; %v", v.Rows, v.Problem)}
			}
			_, _ = fmt.Fprintf(cmd.OutOrStdout(), "audit chain holds: %d rows (%d to %d), head %x\n", v.Rows, v.First, v.Last, v.Head)
			return nil
		},
	})
	return cmd
}
