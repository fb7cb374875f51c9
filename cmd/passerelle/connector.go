package main

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"go/format"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"github.com/spf13/cobra"

	"passerelle/canonical"
)

// connectorTemplates are the files `passerelle connector new` writes, as text/template
// with [[ ]] delimiters (Go code is full of braces); the .tmpl suffix is dropped.
//
//go:embed connectortmpl
var connectorTemplates embed.FS

// errScaffold marks a refused `connector new`.
var errScaffold = errors.New("connector new")

// scaffold is what the templates are filled with.
type scaffold struct {
	// Name is the package and the connector kind (saphir).
	Name string
	// System is the system's name in upper case (SAPHIR), its factsystem.
	System string
	// Title is Name capitalised, for test names (Saphir).
	Title string
	// Kind is source, sink or both; KindLabel says it for the summary.
	Kind, KindLabel string
	// Type is the canonical type's short name the connector maps to or from.
	Type string
	// Source and Sink say what to generate.
	Source, Sink bool
}

var connectorName = regexp.MustCompile(`^[a-z][a-z0-9]{1,30}$`)

func newConnectorCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "connector",
		Short: "Work on connectors: generate a new one",
	}
	var kind, dir, typ string
	newCmd := &cobra.Command{
		Use:   "new NAME --kind source|sink|both",
		Short: "Generate a connector package, registered, that compiles and passes make test",
		Long: `Generates connectors/NAME in the repository at --dir: config.go, client.go, mapper.go,
source.go and/or sink.go, errors.go, doc.go, todo.go, a simulator skeleton in sim/, fixtures
in testdata/ and an acceptance test running connectors/connectortest; and registers it in
connectors/builtin/builtin.go.

What is left to write is marked TODO. While todo.go says scaffolded, the connector refuses
every configuration (config check fails on a file that enables it) and its acceptance test
checks only that, so make test passes at once; set scaffolded to false and the acceptance
suite runs, failing on each TODO left until it is filled. docs/connectors.md walks through it.`,
		Args: cobraArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := newScaffold(args[0], kind, typ)
			if err != nil {
				return usageError{err}
			}
			files, err := generateConnector(dir, s)
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			out := cmd.OutOrStdout()
			for _, f := range files {
				_, _ = fmt.Fprintln(out, "wrote", f)
			}
			_, _ = fmt.Fprintf(out, "\nconnectors/%s is registered and compiles; make test passes as it is.\n"+
				"Next: grep -rn TODO connectors/%s, fill each one (docs/connectors.md), then set\n"+
				"scaffolded to false in connectors/%s/todo.go and run go test ./connectors/%s/ until it passes.\n",
				s.Name, s.Name, s.Name, s.Name)
			return nil
		},
	}
	newCmd.Flags().StringVar(&kind, "kind", "", "source, sink or both (required)")
	newCmd.Flags().StringVar(&dir, "dir", ".", "the repository's root")
	newCmd.Flags().StringVar(&typ, "type", canonical.NameMeasure, "the canonical type the connector maps to or from (short name)")
	cmd.AddCommand(newCmd)
	return cmd
}

// newScaffold checks the command's arguments.
func newScaffold(name, kind, typ string) (scaffold, error) {
	if !connectorName.MatchString(name) || token.IsKeyword(name) {
		return scaffold{}, fmt.Errorf("%w: the name must be 2 to 31 lower-case letters and digits, a letter first (it is the Go package and the connector kind): %q", errScaffold, name)
	}
	s := scaffold{Name: name, System: strings.ToUpper(name), Title: strings.ToUpper(name[:1]) + name[1:], Kind: kind}
	switch kind {
	case "source":
		s.Source, s.KindLabel = true, "source"
	case "sink":
		s.Sink, s.KindLabel = true, "sink"
	case "both":
		s.Source, s.Sink, s.KindLabel = true, true, "sink and source"
	default:
		return scaffold{}, fmt.Errorf("%w: --kind must be source, sink or both", errScaffold)
	}
	info, ok := canonical.LookupName(typ)
	if !ok {
		return scaffold{}, fmt.Errorf("%w: --type %q is not a canonical type's short name", errScaffold, typ)
	}
	s.Type = info.Name
	return s, nil
}

// generateConnector writes the package and registers it; it returns the files
// written (relative to root). It refuses to overwrite anything.
func generateConnector(root string, s scaffold) ([]string, error) {
	builtinPath := filepath.Join(root, "connectors", "builtin", "builtin.go")
	registry, err := os.ReadFile(builtinPath)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not the repository's root: %w", errScaffold, root, err)
	}
	pkgDir := filepath.Join(root, "connectors", s.Name)
	if _, err := os.Stat(pkgDir); err == nil {
		return nil, fmt.Errorf("%w: connectors/%s already exists", errScaffold, s.Name)
	}
	registered, err := registerConnector(registry, s.Name)
	if err != nil {
		return nil, err
	}
	type file struct {
		rel  string
		body []byte
	}
	var files []file
	err = fs.WalkDir(connectorTemplates, "connectortmpl", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := strings.TrimSuffix(strings.TrimPrefix(p, "connectortmpl/"), ".tmpl")
		if (rel == "source.go" && !s.Source) || (rel == "sink.go" && !s.Sink) {
			return nil
		}
		if strings.HasPrefix(rel, "testdata/") && !s.Source {
			return nil // the sink's fixture is the schemas' examples
		}
		body, err := render(p, s)
		if err != nil {
			return err
		}
		files = append(files, file{rel: rel, body: body})
		return nil
	})
	if err != nil {
		return nil, err
	}
	var written []string
	for _, f := range files {
		dest := filepath.Join(pkgDir, filepath.FromSlash(f.rel))
		if err := os.MkdirAll(filepath.Dir(dest), 0o750); err != nil {
			return written, fmt.Errorf("%w: %w", errScaffold, err)
		}
		if err := os.WriteFile(dest, f.body, 0o600); err != nil {
			return written, fmt.Errorf("%w: %w", errScaffold, err)
		}
		written = append(written, path.Join("connectors", s.Name, f.rel))
	}
	if err := os.WriteFile(builtinPath, registered, 0o600); err != nil { //nolint:gosec // G703: the path is the operator's own --dir, as G304's exclusion says.
		return written, fmt.Errorf("%w: register: %w", errScaffold, err)
	}
	return append(written, "connectors/builtin/builtin.go (registered)"), nil
}

// render fills one template; Go files are gofmt-ed (a template that makes code gofmt
// would change, or that does not parse, is a defect of the generator).
func render(name string, s scaffold) ([]byte, error) {
	raw, err := fs.ReadFile(connectorTemplates, name)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errScaffold, err)
	}
	tmpl, err := template.New(path.Base(name)).Delims("[[", "]]").Option("missingkey=error").Parse(string(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: template %s: %w", errScaffold, name, err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, s); err != nil {
		return nil, fmt.Errorf("%w: template %s: %w", errScaffold, name, err)
	}
	if !strings.HasSuffix(strings.TrimSuffix(name, ".tmpl"), ".go") {
		return buf.Bytes(), nil
	}
	out, err := format.Source(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%w: generated %s does not parse: %w", errScaffold, name, err)
	}
	return out, nil
}

// registerConnector adds the import of connectors/<name> and its Spec to the source of
// connectors/builtin/builtin.go, each in sorted place, and returns the new source.
func registerConnector(src []byte, name string) ([]byte, error) {
	importLine := "\t\"passerelle/connectors/" + name + "\""
	specLine := "\t\t" + name + ".Spec,"
	lines := strings.Split(string(src), "\n")
	if strings.Contains(string(src), strings.TrimSpace(importLine)) {
		return nil, fmt.Errorf("%w: connectors/builtin already imports connectors/%s", errScaffold, name)
	}
	// The import: into the run of passerelle/connectors/ imports.
	first, last := -1, -1
	for i, l := range lines {
		if strings.HasPrefix(l, "\t\"passerelle/connectors/") {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return nil, fmt.Errorf("%w: connectors/builtin/builtin.go imports no connector: cannot find where to register", errScaffold)
	}
	lines = insertSorted(lines, first, last, importLine)
	// The Spec: into the list Specs returns.
	start := -1
	for i, l := range lines {
		if strings.Contains(l, "return []connectors.Spec{") {
			start = i + 1
			break
		}
	}
	if start < 0 {
		return nil, fmt.Errorf("%w: connectors/builtin/builtin.go has no Specs list", errScaffold)
	}
	end := start
	for end < len(lines) && strings.HasPrefix(lines[end], "\t\t") && strings.HasSuffix(strings.TrimSpace(lines[end]), ".Spec,") {
		end++
	}
	if end == start {
		return nil, fmt.Errorf("%w: the Specs list of connectors/builtin/builtin.go is not one Spec per line", errScaffold)
	}
	lines = insertSorted(lines, start, end-1, specLine)
	out := []byte(strings.Join(lines, "\n"))
	if _, err := parser.ParseFile(token.NewFileSet(), "builtin.go", out, parser.AllErrors); err != nil {
		return nil, fmt.Errorf("%w: registering broke builtin.go: %w", errScaffold, err)
	}
	formatted, err := format.Source(out)
	if err != nil {
		return nil, fmt.Errorf("%w: registering broke builtin.go: %w", errScaffold, err)
	}
	return formatted, nil
}

// insertSorted inserts line into lines[first..last] (inclusive) and sorts that run.
func insertSorted(lines []string, first, last int, line string) []string {
	run := append(append([]string(nil), lines[first:last+1]...), line)
	sort.Strings(run)
	out := append([]string(nil), lines[:first]...)
	out = append(out, run...)
	return append(out, lines[last+1:]...)
}
