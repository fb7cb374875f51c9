package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

// exitError carries an exit code chosen by a command (1: the input is invalid, 2: usage)
// with an optional message already meant for the user.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return fmt.Sprintf("exit %d: %s", e.code, e.msg) }

// usageError marks an error in how the command was called (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func isUsage(err error) bool {
	var ue usageError
	return errors.As(err, &ue)
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "passerelle",
		Short:         "Integration hub for the French justice applications (GENESIS, Cassiopée, APPI, PRISME)",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newValidateCmd(),
		newSchemasCmd(),
		newConfigCmd(),
		newServeCmd(),
		newBrokerCmd(),
		newQuarantineCmd(),
		newReplayCmd(),
		newAuditCmd(),
		newSubjectCmd(),
		newRetentionCmd(),
		newIdentitiesCmd(),
		newRoutesCmd(),
		newSourcesCmd(),
		newConsoleCmd(),
		newDemoCmd(),
		newConnectorsCmd(),
		newConnectorCmd(),
		newReconcileCmd(),
		newCassiopeeCmd(),
	)
	return root
}

// cobraArgs wraps a cobra argument validator so that its failure exits with code 2.
func cobraArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}
