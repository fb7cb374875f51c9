package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"passerelle/connectors/builtin"
)

func newConnectorsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "connectors",
		Short: "List the connectors compiled into this binary",
		Args:  cobraArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			_, _ = fmt.Fprintln(tw, "KIND\tWHAT IT DOES")
			for _, s := range builtin.Default().Kinds() {
				_, _ = fmt.Fprintf(tw, "%s\t%s\n", s.Kind, s.Summary)
			}
			return tw.Flush()
		},
	}
}
