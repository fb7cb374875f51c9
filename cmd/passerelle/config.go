package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Work with configuration files",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "Load a configuration and report every problem with its path",
		Long: `Loads FILE as passerelle serve would (environment overrides included:
DATABASE_URL, PASSERELLE_KAFKA_BROKERS, the secrets the connectors name), fills the
defaults and reports every problem at once, one line per problem with its path.
Exit 0 when the configuration is usable, 1 otherwise.`,
		Args: cobraArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := build(args[0])
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			cfg := b.cfg
			_, _ = fmt.Fprintf(cmd.OutOrStdout(), "%s: valid (%d connectors, %d routes)\n", args[0], len(cfg.Connectors), len(cfg.Routes))
			return nil
		},
	})
	return cmd
}
