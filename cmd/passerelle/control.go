package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"passerelle/config"
	"passerelle/connectors"
	"passerelle/pipeline"
	"passerelle/pipeline/console"
	"passerelle/pipeline/store"
)

// control is what the operator controls work with: the configuration's routes and
// sources, and the store their state lives in (so that every hub process honours it).
type control struct {
	cfg       *config.Config
	instances map[string]*connectors.Instance
	routing   *pipeline.Routing
	store     *store.Store
}

func openControl(ctx context.Context, cfgPath string) (*control, error) {
	b, err := build(cfgPath)
	if err != nil {
		return nil, err
	}
	cfg, instances, routing := b.cfg, b.instances, b.routing
	st, err := store.Open(ctx, cfg.Database.URL, store.Options{MaxConns: 4, AuditKey: []byte(os.Getenv("PASSERELLE_AUDIT_KEY"))})
	if err != nil {
		return nil, err
	}
	return &control{cfg: cfg, instances: instances, routing: routing, store: st}, nil
}

// sources returns the names of the configured source instances (polling and push).
func (c *control) sources() []string {
	var out []string
	for name, inst := range c.instances {
		if inst.Source != nil || inst.Serve != nil {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func (c *control) has(kind, name string) bool {
	if kind == pipeline.ControlRoute {
		return c.routing.Route(name) != nil
	}
	for _, s := range c.sources() {
		if s == name {
			return true
		}
	}
	return false
}

// setPaused is the body of the pause and resume commands of routes and sources.
func setPaused(cmd *cobra.Command, cfgPath, kind, name string, paused bool, reason string) error {
	c, err := openControl(cmd.Context(), cfgPath)
	if err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	defer c.store.Close()
	if !c.has(kind, name) {
		return &exitError{code: 1, msg: fmt.Sprintf("%s %q: %v", kind, name, pipeline.ErrUnknownControl)}
	}
	changed, err := c.store.SetPaused(cmd.Context(), kind, name, paused, reason, operator())
	if err != nil {
		return err
	}
	verb := "resumed"
	if paused {
		verb = "paused"
	}
	if !changed {
		_, _ = fmt.Fprintf(cmd.OutOrStdout(), "%s %s was already %s\n", kind, name, verb)
		return nil
	}
	_, _ = fmt.Fprintf(cmd.OutOrStdout(), "%s %s %s (every hub process honours it within a second)\n", kind, name, verb)
	return nil
}

func pauseCommands(kind string, cfgPath *string) []*cobra.Command {
	var reason string
	pause := &cobra.Command{
		Use:   "pause NAME",
		Short: "Pause a " + kind + " in every hub process (audited with the operator's name)",
		Args:  cobraArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return setPaused(cmd, *cfgPath, kind, args[0], true, reason)
		},
	}
	pause.Flags().StringVar(&reason, "reason", "", "why, for the other operators (no personal data)")
	resume := &cobra.Command{
		Use:   "resume NAME",
		Short: "Resume a paused " + kind + " (audited with the operator's name)",
		Args:  cobraArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return setPaused(cmd, *cfgPath, kind, args[0], false, "")
		},
	}
	return []*cobra.Command{pause, resume}
}

func newSourcesCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "sources",
		Short: "List, pause, resume sources and reset their checkpoints",
		Long: `Operator controls of the sources. A paused source stops reading in every hub process
and gives up its lease; its checkpoint can then be reset to a position (to read again
from there, or to skip ahead), and it reads from that position when resumed. Each act
is audited with the operator's name (PASSERELLE_OPERATOR, else the system user).`,
	}
	cmd.PersistentFlags().StringVarP(&cfgPath, "config", "c", "passerelle.yaml", "configuration file")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the sources with their state and checkpoint",
		Args:  cobraArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := openControl(cmd.Context(), cfgPath)
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			defer c.store.Close()
			controls, err := c.store.Controls(cmd.Context())
			if err != nil {
				return err
			}
			states, err := pipeline.SourceStates(cmd.Context(), c.store, c.sources(), controls)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			_, _ = fmt.Fprintln(tw, "SOURCE\tSTATE\tCHECKPOINT\tWHY")
			for _, s := range states {
				_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, s.State, s.Position, s.Why)
			}
			return tw.Flush()
		},
	}
	var wait time.Duration
	reset := &cobra.Command{
		Use:   "reset NAME POSITION",
		Short: "Set a paused source's checkpoint to POSITION (the connector's own position format)",
		Long: `Sets the checkpoint of a paused source to POSITION, in the connector's own format (a
byte offset for jsonl, the position GENESIS or APPI returned...). It takes the source's
lease first, so no hub commits a batch over it; pause the source before. Facts read
again are recognised as duplicates at ingest: nothing is delivered twice.`,
		Args: cobraArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := openControl(cmd.Context(), cfgPath)
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			defer c.store.Close()
			if !c.has(pipeline.ControlSource, args[0]) {
				return &exitError{code: 1, msg: fmt.Sprintf("source %q: %v", args[0], pipeline.ErrUnknownControl)}
			}
			prev, err := pipeline.ResetCheckpoint(cmd.Context(), c.store, args[0], args[1], operator(), wait)
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			_, _ = fmt.Fprintf(cmd.OutOrStdout(), "source %s: checkpoint %q -> %q; resume it to read from there\n", args[0], prev, args[1])
			return nil
		},
	}
	reset.Flags().DurationVar(&wait, "wait", 30*time.Second, "how long to wait for a running hub to give up the source's lease")
	cmd.AddCommand(list, reset)
	cmd.AddCommand(pauseCommands(pipeline.ControlSource, &cfgPath)...)
	return cmd
}

// legalBasisCell shortens a legal basis for a table cell.
func legalBasisCell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 70 {
		return string(r[:69]) + "…"
	}
	return s
}

// consoleMount returns the web console's mount for the hub, or nil when the
// configuration has no console (no account file).
func consoleMount(cfg *config.Config, log *zap.Logger) (func(*http.ServeMux, *pipeline.Running), error) {
	path := cfg.Console.Accounts
	if v := os.Getenv("PASSERELLE_CONSOLE_ACCOUNTS"); v != "" {
		path = v
	}
	if path == "" {
		return nil, nil
	}
	accounts, err := console.LoadAccounts(path)
	if err != nil {
		return nil, err
	}
	c, err := console.New(console.Options{Auth: accounts, Log: log.Named("console"), SessionTTL: cfg.Console.SessionTTL})
	if err != nil {
		return nil, err
	}
	return c.Mount, nil
}

func newConsoleCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "console", Short: "The web console's local accounts"}
	var role, file string
	add := &cobra.Command{
		Use:   "add-account NAME",
		Short: "Add an account to a console account file (the password is read from standard input)",
		Long: `Appends NAME with a bcrypt hash of the password read from the first line of standard
input to FILE (console.accounts in the configuration), creating it with mode 0600. The
role is operator (everything) or clerk (receipts only). The file holds hashes, never
passwords; keep it out of the repository all the same.`,
		Args: cobraArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return usageError{fmt.Errorf("--file is required")}
			}
			pw, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
			if err != nil && pw == "" {
				return usageError{fmt.Errorf("give the password on standard input")}
			}
			line, err := console.AccountLine(args[0], strings.TrimRight(pw, "\r\n"), role)
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			if _, err := fmt.Fprintln(f, line); err != nil {
				_ = f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			_, _ = fmt.Fprintf(cmd.OutOrStdout(), "account %s (%s) added to %s\n", args[0], role, file)
			return nil
		},
	}
	add.Flags().StringVar(&role, "role", console.RoleOperator, "operator or clerk")
	add.Flags().StringVarP(&file, "file", "f", "", "the account file")
	cmd.AddCommand(add)
	return cmd
}
