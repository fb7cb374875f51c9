package schemas

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"passerelle/internal/jsonstrict"
)

// files holds the schemas and their examples. Both patterns name what exists today
// and anything added later under them: a new *.v2.json or a new example folder needs
// no change here.
//
//go:embed *.json examples
var files embed.FS

// Files returns the embedded schema files (at the root, `<name>.v<N>.json`) and their
// examples (`examples/<name>/valid/*.json`, `examples/<name>/invalid/*.json`).
func Files() fs.FS { return files }

// TypeInfo describes one canonical message type.
type TypeInfo struct {
	// Name is the short name, e.g. penal-record.
	Name string
	// Version is the schema's major version, e.g. 1.
	Version int
	// Type is the CloudEvents type, e.g. fr.justice.penal-record.v1.
	Type string
	// ID is the schema's $id, e.g. urn:passerelle:schema:penal-record:v1.
	ID string
	// File is the schema's file name, e.g. penal-record.v1.json.
	File string
}

// Registry holds the canonical schemas, compiled once, with format assertions on (a
// `format: date` refuses 2024-02-31). It is immutable and safe for concurrent use.
type Registry struct {
	types  []TypeInfo // message types, by name then version
	byType map[string]*jsonschema.Schema
	files  []schemaFile // every schema file, shared definitions included
}

// schemaFile is one embedded schema file and the names it answers to.
type schemaFile struct {
	name    string // penal-record, envelope, common
	version int
	id      string
	typ     string // CloudEvents type; empty for shared definitions
	file    string
	raw     []byte
}

var loadOnce = sync.OnceValues(func() (*Registry, error) { return load(true) })

// Load returns the registry of the embedded schemas. The schemas are compiled on the
// first call only; every later call returns the same registry (or the same error).
func Load() (*Registry, error) { return loadOnce() }

// load compiles the embedded schemas; inlined, the message types reach their shared
// definitions without a `$ref` (inline.go), which the tests check changes no verdict
// and no violation.
func load(inlined bool) (*Registry, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	// No loader: every $ref must resolve to an embedded file, never to the network
	// or the file system.
	c.UseLoader(jsonschema.SchemeURLLoader{})

	sfs, docs, err := compiledDocs(inlined)
	if err != nil {
		return nil, err
	}
	r := &Registry{byType: map[string]*jsonschema.Schema{}, files: sfs}
	for _, sf := range sfs {
		if err := c.AddResource(sf.id, docs[sf.id]); err != nil {
			return nil, fmt.Errorf("schemas: add %s: %w", sf.file, err)
		}
	}
	for _, sf := range r.files {
		if sf.typ == "" {
			continue
		}
		if _, dup := r.byType[sf.typ]; dup {
			return nil, fmt.Errorf("schemas: %s: type %s is already defined by another file", sf.file, sf.typ)
		}
		sch, err := c.Compile(sf.id)
		if err != nil {
			return nil, fmt.Errorf("schemas: compile %s: %w", sf.file, err)
		}
		r.byType[sf.typ] = sch
		r.types = append(r.types, TypeInfo{Name: sf.name, Version: sf.version, Type: sf.typ, ID: sf.id, File: sf.file})
	}
	if len(r.types) == 0 {
		return nil, errors.New("schemas: no message type among the embedded schemas")
	}
	slices.SortFunc(r.types, func(a, b TypeInfo) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return a.Version - b.Version
	})
	return r, nil
}

// compiledDocs reads every embedded schema file and returns the documents the
// compiler is given, by $id: the files as written, or with the message types inlined.
func compiledDocs(inlined bool) ([]schemaFile, map[string]any, error) {
	entries, err := fs.Glob(files, "*.json")
	if err != nil {
		return nil, nil, fmt.Errorf("schemas: list embedded files: %w", err)
	}
	var sfs []schemaFile
	written := map[string]any{}
	for _, file := range entries {
		sf, doc, err := readSchemaFile(file)
		if err != nil {
			return nil, nil, err
		}
		if _, dup := written[sf.id]; dup {
			return nil, nil, fmt.Errorf("schemas: %s: $id %s is already used by another file", file, sf.id)
		}
		written[sf.id] = doc
		sfs = append(sfs, sf)
	}
	if !inlined {
		return sfs, written, nil
	}
	in := inliner{docs: written}
	out := make(map[string]any, len(written))
	for _, sf := range sfs {
		out[sf.id] = written[sf.id]
		if sf.typ != "" {
			out[sf.id] = in.inline(written[sf.id], sf.id)
		}
	}
	return sfs, out, nil
}

// readSchemaFile reads one embedded schema strictly (a duplicate key in a schema is a
// bug) and works out its names: a file whose properties.type has a const string is a
// message type; the others (envelope, common) hold shared definitions.
func readSchemaFile(file string) (schemaFile, any, error) {
	raw, err := files.ReadFile(file)
	if err != nil {
		return schemaFile{}, nil, fmt.Errorf("schemas: read %s: %w", file, err)
	}
	doc, err := jsonstrict.Decode(raw)
	if err != nil {
		return schemaFile{}, nil, fmt.Errorf("schemas: decode %s: %w", file, err)
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return schemaFile{}, nil, fmt.Errorf("schemas: %s is not a JSON object", file)
	}
	id, _ := obj["$id"].(string)
	if id == "" {
		return schemaFile{}, nil, fmt.Errorf("schemas: %s has no $id", file)
	}
	base := strings.TrimSuffix(file, ".json")
	name, version := base, 0
	if i := strings.LastIndex(base, ".v"); i > 0 {
		if v, err := strconv.Atoi(base[i+2:]); err == nil {
			name, version = base[:i], v
		}
	}
	sf := schemaFile{name: name, version: version, id: id, file: file, raw: raw}
	if props, ok := obj["properties"].(map[string]any); ok {
		if t, ok := props["type"].(map[string]any); ok {
			sf.typ, _ = t["const"].(string)
		}
	}
	return sf, doc, nil
}

// Types lists the message types, by name then version.
func (r *Registry) Types() []TypeInfo { return slices.Clone(r.types) }

// Lookup finds a message type by short name (penal-record, the newest version),
// name with version (penal-record.v1), CloudEvents type, $id or file name.
func (r *Registry) Lookup(nameOrType string) (TypeInfo, bool) {
	var found TypeInfo
	ok := false
	for _, t := range r.types {
		if matches(nameOrType, t.Name, t.Version, t.Type, t.ID, t.File) && (!ok || t.Version > found.Version) {
			found, ok = t, true
		}
	}
	return found, ok
}

// Schema returns the JSON text of a schema, found as Lookup finds a type; the shared
// files answer to their names too (envelope, common).
func (r *Registry) Schema(nameOrType string) ([]byte, bool) {
	var found *schemaFile
	for i := range r.files {
		f := &r.files[i]
		if matches(nameOrType, f.name, f.version, f.typ, f.id, f.file) && (found == nil || f.version > found.version) {
			found = f
		}
	}
	if found == nil {
		return nil, false
	}
	return bytes.Clone(found.raw), true
}

func matches(q, name string, version int, typ, id, file string) bool {
	return q != "" && (q == name || q == name+".v"+strconv.Itoa(version) || q == typ || q == id || q == file || q == path.Base(file))
}

// Validate checks a decoded document (from jsonstrict or encoding/json with UseNumber)
// against the schema its `type` attribute names. A document that is not an object, or
// whose type is missing or unknown, gets a violation at /type (or at the root) like any
// other. It returns nil or a *ValidationError.
func (r *Registry) Validate(doc any) error {
	obj, ok := doc.(map[string]any)
	if !ok {
		return &ValidationError{Violations: []Violation{{
			Pointer: "", Keyword: "type",
			Message: "expected a message (a JSON object), got " + gotValue(doc),
		}}}
	}
	t, present := obj["type"]
	if !present {
		return &ValidationError{Violations: []Violation{{
			Pointer: "/type", Keyword: "required",
			Message: `missing required field "type" (the message type, e.g. ` + r.types[0].Type + ")",
		}}}
	}
	typ, ok := t.(string)
	if !ok {
		return &ValidationError{Violations: []Violation{{
			Pointer: "/type", Keyword: "type",
			Message: "expected a text in double quotes, got " + gotValue(t),
		}}}
	}
	sch, ok := r.byType[typ]
	if !ok {
		known := make([]string, len(r.types))
		for i, ti := range r.types {
			known[i] = ti.Type
		}
		return &ValidationError{Violations: []Violation{{
			Pointer: "/type", Keyword: "enum",
			Message: quoteValue(typ) + " is not a known message type; known types: " + strings.Join(known, ", "),
		}}}
	}
	return validate(typ, sch, doc)
}

// ValidateAs checks doc against the schema of the given type (short name, CloudEvents
// type or $id), whatever its `type` attribute says (a mismatch is then a `const`
// violation at /type). An unknown typ is ErrUnknownType; otherwise it returns nil or a
// *ValidationError.
func (r *Registry) ValidateAs(typ string, doc any) error {
	info, ok := r.Lookup(typ)
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownType, typ)
	}
	return validate(info.Type, r.byType[info.Type], doc)
}

func validate(typ string, sch *jsonschema.Schema, doc any) error {
	err := sch.Validate(doc)
	if err == nil {
		return nil
	}
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return fmt.Errorf("schemas: validate %s: %w", typ, err)
	}
	return &ValidationError{Type: typ, Violations: flatten(verr, doc)}
}
