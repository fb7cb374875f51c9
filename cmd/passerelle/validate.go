package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"passerelle/internal/jsonstrict"
	"passerelle/schemas"
)

// stdinName is how the validate command names its standard input in its output.
const stdinName = "stdin"

func newValidateCmd() *cobra.Command {
	var typ string
	cmd := &cobra.Command{
		Use:   "validate [--type T] FILE... | -",
		Short: "Check canonical messages against their schemas",
		Long: `Reads each FILE (or the standard input for -) as one canonical message, decodes it
strictly (at most 10 MiB, 64 levels of nesting, UTF-8, no duplicate key, nothing after
the value) and validates it against the schema its "type" names, or against --type
(a short name such as penal-record, or a type such as fr.justice.penal-record.v1).

Prints one line per file that is valid, and one line per violation otherwise:
  FILE: POINTER: MESSAGE (rule KEYWORD)
  FILE: not accepted: REASON          (the file is not strict JSON)
  FILE: cannot read: REASON
The messages quote the offending values: the output is for the person correcting
the file, not for logs.

Exit 0 when every file is valid, 1 when any is not (or cannot be read), 2 on a usage
error (no file, unknown --type).`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("validate: give at least one FILE, or - for the standard input")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, err := schemas.Load()
			if err != nil {
				return err
			}
			if typ != "" {
				if _, ok := reg.Lookup(typ); !ok {
					return usageError{fmt.Errorf("unknown --type %q; known types: %s", typ, knownTypes(reg))}
				}
			}
			if n := countStdin(args); n > 1 {
				return usageError{errors.New("the standard input (-) can be read only once")}
			}
			out := cmd.OutOrStdout()
			bad := 0
			for _, arg := range args {
				docType, lines := validateFile(reg, typ, arg, cmd.InOrStdin())
				if len(lines) > 0 {
					bad++
				} else {
					lines = []string{"valid (" + docType + ")"}
				}
				name := arg
				if arg == "-" {
					name = stdinName
				}
				for _, l := range lines {
					if _, err := fmt.Fprintf(out, "%s: %s\n", name, l); err != nil {
						return fmt.Errorf("validate: write output: %w", err)
					}
				}
			}
			if bad > 0 {
				return &exitError{code: 1, msg: fmt.Sprintf("%d of %d file(s) not valid", bad, len(args))}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&typ, "type", "", "validate as this type (short name or CloudEvents type) instead of the document's own type attribute")
	return cmd
}

// validateFile reads, decodes and validates one file, and returns the type it was
// validated as and the lines to print after its name: none when it is valid.
func validateFile(reg *schemas.Registry, typ, arg string, stdin io.Reader) (string, []string) {
	r := stdin
	if arg != "-" {
		f, err := os.Open(arg)
		if err != nil {
			return "", []string{"cannot read: " + pathErrorReason(err)}
		}
		defer func() { _ = f.Close() }() // read-only: a close error changes nothing
		r = f
	}
	doc, err := jsonstrict.DecodeReader(r)
	if err != nil {
		var je *jsonstrict.Error
		switch {
		case errors.Is(err, jsonstrict.ErrRead):
			return "", []string{"cannot read: " + pathErrorReason(err)}
		case errors.As(err, &je):
			return "", []string{"not accepted: " + je.Reason()}
		default:
			return "", []string{"not accepted: " + err.Error()}
		}
	}
	var docType string
	if typ != "" {
		info, _ := reg.Lookup(typ)
		docType = info.Type
		err = reg.ValidateAs(typ, doc)
	} else {
		if obj, ok := doc.(map[string]any); ok {
			docType, _ = obj["type"].(string)
		}
		err = reg.Validate(doc)
	}
	if err == nil {
		return docType, nil
	}
	var verr *schemas.ValidationError
	if !errors.As(err, &verr) {
		return docType, []string{"cannot validate: " + err.Error()}
	}
	lines := make([]string, len(verr.Violations))
	for i, v := range verr.Violations {
		lines[i] = v.String()
	}
	return docType, lines
}

// pathErrorReason drops the path that *os.PathError repeats: the line already starts
// with it.
func pathErrorReason(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func countStdin(args []string) int {
	n := 0
	for _, a := range args {
		if a == "-" {
			n++
		}
	}
	return n
}

func knownTypes(reg *schemas.Registry) string {
	var names []string
	for _, t := range reg.Types() {
		names = append(names, t.Name+" ("+t.Type+")")
	}
	return strings.Join(names, ", ")
}
