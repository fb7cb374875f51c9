package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"passerelle/pipeline"
)

func newRoutesCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "routes",
		Short: "List, pause and resume routes",
		Long: `Operator controls of the routes. A paused route delivers nothing in any hub process
(its deliveries wait, pending, in PostgreSQL) until it is resumed; then its backlog is
delivered, each message once. Each act is audited with the operator's name
(PASSERELLE_OPERATOR, else the system user).`,
	}
	cmd.PersistentFlags().StringVarP(&cfgPath, "config", "c", "passerelle.yaml", "configuration file")
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the routes with their state, lag (pending deliveries) and legal basis",
		Long: `Lists each route: its destination, its state (running, paused by an operator, or
disabled in the configuration), its lag (deliveries accepted and still pending), what it
delivered and quarantined, and the legal basis it transmits on. A destination that
refused most recent deliveries stops: the hub pauses its routes, with the reason, and
"routes resume" starts them again once the cause is mended.`,
		Args: cobraArgs(cobra.NoArgs),
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
			states, err := pipeline.RouteStates(cmd.Context(), c.store, c.routing, controls, nil, true)
			if err != nil {
				return err
			}
			if asJSON {
				type row struct {
					Name        string   `json:"name"`
					Destination string   `json:"destination"`
					Types       []string `json:"types"`
					State       string   `json:"state"`
					Why         string   `json:"why,omitempty"`
					Pending     int64    `json:"pending"`
					Delivered   int64    `json:"delivered"`
					Quarantined int64    `json:"quarantined"`
					LegalBasis  string   `json:"legalBasis"`
				}
				rows := make([]row, 0, len(states))
				for _, s := range states {
					rows = append(rows, row{s.Name, s.Destination, s.Types, s.State, s.Why, s.Counts.Pending, s.Counts.Delivered,
						s.Counts.Quarantined, s.LegalBasis})
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			_, _ = fmt.Fprintln(tw, "ROUTE\tDESTINATION\tSTATE\tLAG\tDELIVERED\tQUARANTINED\tLEGAL BASIS")
			var notes []string
			for _, s := range states {
				_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\n", s.Name, s.Destination, s.State, s.Counts.Pending,
					s.Counts.Delivered, s.Counts.Quarantined, legalBasisCell(s.LegalBasis))
				if s.Why != "" {
					notes = append(notes, s.Name+": "+s.Why)
				}
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(notes) > 0 {
				_, _ = fmt.Fprintln(cmd.OutOrStdout(), "\n"+strings.Join(notes, "\n"))
			}
			return nil
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	cmd.AddCommand(list)
	cmd.AddCommand(pauseCommands(pipeline.ControlRoute, &cfgPath)...)
	return cmd
}
