// Command passerelle is the one binary of the Passerelle integration hub: it serves
// the flows, runs the demo, and carries the operator's tools (validate, replay,
// reconcile, audit, subject, connectors, schemas).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	os.Exit(exitCode(err))
}

// exitCode turns a command's error into the process exit code: 0 on success, the code
// an *exitError carries (1 for "the input is invalid"), 2 for usage errors.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(os.Stderr, ee.msg)
		}
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "passerelle:", err)
	if isUsage(err) {
		return 2
	}
	return 1
}
