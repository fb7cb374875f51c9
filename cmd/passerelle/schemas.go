package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"passerelle/schemas"
)

func newSchemasCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schemas",
		Short: "List and show the canonical message schemas",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the canonical message types: short name, CloudEvents type, schema $id",
		Args:  cobraArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, err := schemas.Load()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			_, _ = fmt.Fprintln(tw, "NAME\tTYPE\tSCHEMA ID")
			for _, t := range reg.Types() {
				_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\n", t.Name, t.Type, t.ID)
			}
			if err := tw.Flush(); err != nil {
				return fmt.Errorf("schemas list: write output: %w", err)
			}
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "show T",
		Short: "Print the JSON Schema of a type (short name, CloudEvents type or $id; also envelope, common)",
		Args:  cobraArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, err := schemas.Load()
			if err != nil {
				return err
			}
			raw, ok := reg.Schema(args[0])
			if !ok {
				return usageError{fmt.Errorf("unknown schema %q; known types: %s (and envelope, common)", args[0], knownTypes(reg))}
			}
			if _, err := cmd.OutOrStdout().Write(raw); err != nil {
				return fmt.Errorf("schemas show: write output: %w", err)
			}
			return nil
		},
	})
	return cmd
}
