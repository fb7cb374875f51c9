package declarative

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/google/cel-go/ext"

	"passerelle/canonical"
	"passerelle/config"
	"passerelle/schemas"
)

// record is one decoded line: for CSV its columns by name (text), for JSON the object.
type record struct {
	row  any
	file string
	line int64
}

// vars are the CEL variables of a record.
func (r record) vars() map[string]any {
	return map[string]any{"row": r.row, "file": r.file, "line": r.line}
}

// expr is one compiled CEL expression and the setting it came from.
type expr struct {
	setting string // configuration path, for messages
	prg     cel.Program
}

// eval runs the expression on a record; its error names the setting, never a value.
func (e expr) eval(r record) (any, error) {
	out, _, err := e.prg.Eval(r.vars())
	if err != nil {
		return nil, fmt.Errorf("%s: %s", e.setting, redact(err.Error()))
	}
	v, err := native(out)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.setting, err)
	}
	return v, nil
}

// mapper turns records into canonical messages of one type, as the configuration
// says; it is immutable once built and safe for concurrent use.
type mapper struct {
	info     canonical.TypeInfo
	system   string
	source   string
	ref      expr
	version  expr
	time     *expr
	fields   []mappedField
	skeleton []string
	reg      *schemas.Registry
}

// mappedField is one mapping entry.
type mappedField struct {
	path []string
	expr expr
}

// newCELEnv declares the variables and functions mapping expressions may use: row,
// file and line; the strings extension (split, trim, lowerAscii, ...); date(text,
// layout), fields(text, separator).
func newCELEnv(rowType *cel.Type) (*cel.Env, error) {
	env, err := cel.NewEnv(
		cel.Variable("row", rowType),
		cel.Variable("file", cel.StringType),
		cel.Variable("line", cel.IntType),
		ext.Strings(),
		cel.Function("date",
			cel.Overload("date_string_string", []*cel.Type{cel.StringType, cel.StringType}, cel.StringType,
				cel.BinaryBinding(celDate))),
		cel.Function("fields",
			cel.Overload("fields_string_string", []*cel.Type{cel.StringType, cel.StringType}, cel.ListType(cel.StringType),
				cel.BinaryBinding(celFields))),
	)
	if err != nil {
		return nil, fmt.Errorf("declarative: CEL environment: %w", err)
	}
	return env, nil
}

// celDate parses text with a layout written JJ/MM/AAAA (or DD/MM/YYYY, or a Go layout)
// and returns the ISO date AAAA-MM-JJ; an impossible date (31/02/2024) is an error,
// never a guess. Empty text gives empty text (an absent optional date).
func celDate(text, layout ref.Val) ref.Val {
	s, ok1 := text.(types.String)
	l, ok2 := layout.(types.String)
	if !ok1 || !ok2 {
		return types.NewErr("date: wants two strings")
	}
	if strings.TrimSpace(string(s)) == "" {
		return types.String("")
	}
	goLayout := goDateLayout(string(l))
	t, err := time.Parse(goLayout, strings.TrimSpace(string(s)))
	if err != nil {
		return types.NewErr("date: not a valid date in the form %s", string(l))
	}
	return types.String(t.Format("2006-01-02"))
}

// goDateLayout turns JJ/MM/AAAA-style layouts into Go's.
func goDateLayout(l string) string { return dateTokens.Replace(l) }

var dateTokens = strings.NewReplacer("AAAA", "2006", "YYYY", "2006", "JJ", "02", "DD", "02", "MM", "01", "AA", "06", "YY", "06")

// celFields splits text at sep, trims each part and drops the empty ones: "" gives [],
// "SOINS; TRAVAIL" gives ["SOINS", "TRAVAIL"].
func celFields(text, sep ref.Val) ref.Val {
	s, ok1 := text.(types.String)
	p, ok2 := sep.(types.String)
	if !ok1 || !ok2 || p == "" {
		return types.NewErr("fields: wants a string and a non-empty separator")
	}
	out := []string{}
	for _, part := range strings.Split(string(s), string(p)) {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return types.DefaultTypeAdapter.NativeToValue(out)
}

var quoted = regexp.MustCompile(`'[^']*'|"[^"]*"|\x60[^\x60]*\x60`)

// celTypeNames are the quoted words of CEL errors that are types, not values.
var celTypeNames = map[string]bool{
	"'string'": true, "'int'": true, "'uint'": true, "'double'": true, "'bool'": true, "'bytes'": true,
	"'null_type'": true, "'list'": true, "'map'": true, "'timestamp'": true, "'duration'": true, "'dyn'": true,
}

// redact removes quoted parts of an evaluation error (CEL quotes the values it could
// not convert; the type names it quotes are kept) and bounds its length: error texts
// go to quarantine reasons, reports and logs.
func redact(s string) string {
	s = quoted.ReplaceAllStringFunc(s, func(q string) string {
		if celTypeNames[q] {
			return q
		}
		return "'…'"
	})
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

// native converts a CEL value to the Go value its JSON is written from.
func native(v ref.Val) (any, error) {
	switch x := v.(type) {
	case *types.Err:
		return nil, errors.New(redact(x.Error()))
	case types.Null:
		return nil, nil
	case types.String:
		return string(x), nil
	case types.Int:
		return int64(x), nil
	case types.Uint:
		return uint64(x), nil
	case types.Double:
		return float64(x), nil
	case types.Bool:
		return bool(x), nil
	case types.Timestamp:
		return x.Time.UTC().Format(time.RFC3339Nano), nil
	}
	if l, ok := v.(traits.Lister); ok {
		out := []any{}
		for it := l.Iterator(); it.HasNext() == types.True; {
			e, err := native(it.Next())
			if err != nil {
				return nil, err
			}
			if e != nil {
				out = append(out, e)
			}
		}
		return out, nil
	}
	if m, ok := v.(traits.Mapper); ok {
		out := map[string]any{}
		for it := m.Iterator(); it.HasNext() == types.True; {
			k := it.Next()
			ks, ok := k.(types.String)
			if !ok {
				return nil, errors.New("a map with a key that is not a string")
			}
			e, err := native(m.Get(k))
			if err != nil {
				return nil, err
			}
			out[string(ks)] = e
		}
		return out, nil
	}
	switch x := v.Value().(type) {
	case string, int64, float64, bool, nil:
		return x, nil
	case map[string]any, []any:
		return x, nil
	}
	return nil, fmt.Errorf("a value of CEL type %s has no JSON form", v.Type())
}

// compile compiles one expression for the setting at path; want, when known, is the
// JSON type the target field takes, checked against the expression's type.
func compile(env *cel.Env, src, path string, target *field, ps *config.Problems) *expr {
	if strings.TrimSpace(src) == "" {
		ps.Add(path, "required: a CEL expression")
		return nil
	}
	ast, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		ps.Add(path, "not a valid CEL expression: %s", oneLine(iss.Err().Error()))
		return nil
	}
	if target != nil && !target.open && len(target.types) > 0 {
		if got, ok := jsonTypeOf(ast.OutputType()); ok && !target.is(got) {
			ps.Add(path, "gives %s, the field is %s", article(got), strings.Join(target.types, " or "))
			return nil
		}
	}
	prg, err := env.Program(ast)
	if err != nil {
		ps.Add(path, "cannot run: %s", oneLine(err.Error()))
		return nil
	}
	return &expr{setting: path, prg: prg}
}

// jsonTypeOf is the JSON type of values of a CEL type, when the type says it (not dyn).
func jsonTypeOf(t *cel.Type) (string, bool) {
	switch t.Kind() {
	case types.StringKind, types.TimestampKind:
		return "string", true
	case types.IntKind, types.UintKind:
		return "integer", true
	case types.DoubleKind:
		return "number", true
	case types.BoolKind:
		return "boolean", true
	case types.ListKind:
		return "array", true
	case types.MapKind:
		return "object", true
	}
	return "", false
}

func article(jsonType string) string {
	switch jsonType {
	case "integer", "array", "object":
		return "an " + jsonType
	}
	return "a " + jsonType
}

// oneLine keeps the first line of a CEL diagnostic (the following ones draw a caret
// under the expression, which is the configuration's own text).
func oneLine(s string) string {
	s = strings.TrimPrefix(s, "ERROR: <input>:")
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// newMapper compiles and checks the mapping of c against the canonical schema of its
// type; every problem is reported under path.
func newMapper(c *Config, reg *schemas.Registry, rowType *cel.Type, source, path string) (*mapper, config.Problems) {
	var ps config.Problems
	info, ok := lookupType(c.Type)
	if !ok {
		names := make([]string, 0, len(canonical.Types()))
		for _, t := range canonical.Types() {
			names = append(names, t.Name)
		}
		ps.Add(path+".type", "must be a canonical type: one of %s", strings.Join(names, ", "))
		return nil, ps
	}
	tree, err := schemaTree(reg, info.Type)
	if err != nil {
		ps.Add(path+".type", "%v", err)
		return nil, ps
	}
	env, err := newCELEnv(rowType)
	if err != nil {
		ps.Add(path, "%v", err)
		return nil, ps
	}
	m := &mapper{info: info, system: c.System, source: source, reg: reg, skeleton: tree.requiredObjects()}
	if r := compile(env, c.Fact.Ref, path+".fact.ref", &field{types: []string{"string"}}, &ps); r != nil {
		m.ref = *r
	}
	if v := compile(env, c.Fact.Version, path+".fact.version", &field{types: []string{"integer"}}, &ps); v != nil {
		m.version = *v
	}
	if c.Time != "" {
		m.time = compile(env, c.Time, path+".time", &field{types: []string{"string"}}, &ps)
	}
	if len(c.Mapping) == 0 {
		ps.Add(path+".mapping", "required: a CEL expression for each field of %s", info.Name)
		return nil, ps
	}
	keys := make([]string, 0, len(c.Mapping))
	for k := range c.Mapping {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	mapped := map[string]bool{}
	for _, k := range keys {
		p := path + ".mapping." + k
		target := tree.lookup(k)
		if target == nil {
			ps.Add(p, "%s has no field %s", info.Name, k)
			continue
		}
		for other := range mapped {
			if strings.HasPrefix(k, other+".") || strings.HasPrefix(other, k+".") {
				ps.Add(p, "overlaps the mapping of %s", other)
			}
		}
		mapped[k] = true
		if e := compile(env, c.Mapping[k], p, target, &ps); e != nil {
			m.fields = append(m.fields, mappedField{path: strings.Split(k, "."), expr: *e})
		}
	}
	for _, missing := range tree.missingRequired(mapped) {
		ps.Add(path+".mapping", "the required field %s of %s is not mapped: the mapping cannot produce a valid %s", missing, info.Name, info.Name)
	}
	if len(ps) > 0 {
		return nil, ps
	}
	return m, nil
}

// lookupType finds a canonical type by short name or CloudEvents type.
func lookupType(s string) (canonical.TypeInfo, bool) {
	if t, ok := canonical.LookupName(s); ok {
		return t, true
	}
	return canonical.LookupType(s)
}

// placeholderSubject stands for the person id the pipeline resolves, in the
// validation the source runs itself (so that a rejected line's reason lands in the
// file's report).
const placeholderSubject = "00000000-0000-4000-8000-000000000001"

// mapRecord maps one record: the fact identity (nil when it cannot be computed), the
// message, or the error (ErrMapping or ErrInvalid).
func (m *mapper) mapRecord(r record, defaultTime time.Time) (*canonical.FactID, *canonical.Message, error) {
	refV, err := m.ref.eval(r)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrMapping, err)
	}
	verV, err := m.version.eval(r)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrMapping, err)
	}
	ref, _ := refV.(string)
	version, ok := verV.(int64)
	if ref == "" || !ok || version < 0 {
		return nil, nil, fmt.Errorf("%w: the fact's reference is empty or its version is not a non-negative integer", ErrMapping)
	}
	fact := &canonical.FactID{System: m.system, Ref: ref, Version: version}
	data := map[string]any{}
	for _, f := range m.fields {
		v, err := f.expr.eval(r)
		if err != nil {
			return fact, nil, fmt.Errorf("%w: %w", ErrMapping, err)
		}
		if v == nil || v == "" {
			continue // absent: an optional field is left out, a required one is refused below
		}
		set(data, f.path, v)
	}
	for _, obj := range m.skeleton {
		ensure(data, strings.Split(obj, "."))
	}
	at := defaultTime
	if m.time != nil {
		v, err := m.time.eval(r)
		if err != nil {
			return fact, nil, fmt.Errorf("%w: %w", ErrMapping, err)
		}
		s, _ := v.(string)
		if at, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return fact, nil, fmt.Errorf("%w: %s: not an RFC 3339 time", ErrMapping, m.time.setting)
		}
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return fact, nil, fmt.Errorf("%w: %s", ErrMapping, redact(err.Error()))
	}
	msg, err := canonical.NewMessage(m.info.Type, m.source, "", *fact, at, json.RawMessage(raw))
	if err != nil {
		return fact, nil, fmt.Errorf("%w: %s", ErrMapping, redact(err.Error()))
	}
	if err := m.validate(msg, data); err != nil {
		return fact, nil, err
	}
	return fact, msg, nil
}

// validate checks the message against its canonical schema as the pipeline will, so
// that the file's report gives the reason of every refused line.
func (m *mapper) validate(msg *canonical.Message, data map[string]any) error {
	doc := map[string]any{
		"specversion": msg.SpecVersion, "id": msg.ID, "source": msg.Source, "type": msg.Type,
		"time": msg.Time.UTC().Format(time.RFC3339Nano), "subject": placeholderSubject,
		"dataschema": msg.DataSchema, "datacontenttype": msg.DataContentType,
		"factsystem": msg.FactSystem, "factref": msg.FactRef,
		"factversion": json.Number(fmt.Sprint(msg.FactVersion)), "data": jsonNumbers(data),
	}
	err := m.reg.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *schemas.ValidationError
	if errors.As(err, &ve) {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(ve.Redacted(), "; "))
	}
	return fmt.Errorf("%w: %s", ErrInvalid, redact(err.Error()))
}

// jsonNumbers rewrites Go numbers as json.Number, the form the validator expects.
func jsonNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonNumbers(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonNumbers(e)
		}
		return out
	case int64, uint64, float64, int:
		return json.Number(fmt.Sprint(x))
	}
	return v
}

// set writes v at path in data, making the objects on the way.
func set(data map[string]any, path []string, v any) {
	cur := data
	for _, tok := range path[:len(path)-1] {
		next, ok := cur[tok].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[tok] = next
		}
		cur = next
	}
	cur[path[len(path)-1]] = v
}

// ensure makes the objects of path in data when they are missing.
func ensure(data map[string]any, path []string) {
	cur := data
	for _, tok := range path {
		next, ok := cur[tok].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[tok] = next
		}
		cur = next
	}
}
