package schemas

import (
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// flatten turns jsonschema/v6's tree of errors into its leaf causes — the wrappers
// ($ref, allOf, the schema root) say nothing the leaves do not — with the pointer
// conventions of Violation, one violation per offending value, ordered by pointer.
func flatten(root *jsonschema.ValidationError, doc any) []Violation {
	var out []Violation
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		out = append(out, leaf(e, doc)...)
	}
	walk(root)
	return dedupe(out)
}

// leaf makes the violations of one leaf error.
func leaf(e *jsonschema.ValidationError, doc any) []Violation {
	loc := e.InstanceLocation
	at := pointer(loc)
	value, _ := valueAt(doc, loc)
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		vs := make([]Violation, len(k.Missing))
		for i, name := range k.Missing {
			vs[i] = Violation{Pointer: child(loc, name), Keyword: "required", Message: "missing required field " + strconv.Quote(name)}
		}
		return vs
	case *kind.DependentRequired:
		vs := make([]Violation, len(k.Missing))
		for i, name := range k.Missing {
			vs[i] = Violation{Pointer: child(loc, name), Keyword: "dependentRequired",
				Message: "missing field " + strconv.Quote(name) + ", required when " + strconv.Quote(k.Prop) + " is present"}
		}
		return vs
	case *kind.Dependency:
		vs := make([]Violation, len(k.Missing))
		for i, name := range k.Missing {
			vs[i] = Violation{Pointer: child(loc, name), Keyword: "dependencies",
				Message: "missing field " + strconv.Quote(name) + ", required when " + strconv.Quote(k.Prop) + " is present"}
		}
		return vs
	case *kind.AdditionalProperties:
		vs := make([]Violation, len(k.Properties))
		for i, name := range k.Properties {
			vs[i] = Violation{Pointer: child(loc, name), Keyword: "additionalProperties", Message: unknownField(name)}
		}
		return vs
	case *kind.FalseSchema:
		kw := schemaKeyword(e.SchemaURL)
		name := ""
		if len(loc) > 0 {
			name = loc[len(loc)-1]
		}
		switch kw {
		case "unevaluatedProperties", "additionalProperties":
			return []Violation{{Pointer: at, Keyword: kw, Message: unknownField(name)}}
		case "unevaluatedItems", "items", "additionalItems":
			return []Violation{{Pointer: at, Keyword: kw, Message: "item " + name + " is one too many for this list"}}
		default:
			return []Violation{{Pointer: at, Keyword: "false", Message: "no value is allowed here"}}
		}
	}
	kw := "schema"
	if p := e.ErrorKind.KeywordPath(); len(p) > 0 {
		kw = p[0]
	} else if _, ok := e.ErrorKind.(*kind.Not); ok {
		kw = "not"
	}
	return []Violation{{Pointer: at, Keyword: kw, Message: describe(e.ErrorKind, value)}}
}

var printer = message.NewPrinter(language.English)

// describe writes the message of a leaf that concerns the value itself.
func describe(k jsonschema.ErrorKind, value any) string {
	v := describeValue(value)
	switch k := k.(type) {
	case *kind.Type:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = article(w)
		}
		return "expected " + strings.Join(want, " or ") + ", got " + gotValue(value)
	case *kind.Pattern:
		return v + " does not match " + k.Want
	case *kind.Format:
		return v + " is not " + formatName(k.Want)
	case *kind.Enum:
		return v + " is not one of " + listValues(k.Want)
	case *kind.Const:
		return v + " is not the required value " + describeValue(k.Want)
	case *kind.MinLength:
		if k.Want == 1 {
			return "must not be empty"
		}
		return fmt.Sprintf("%s has %d characters, fewer than the %d required", v, k.Got, k.Want)
	case *kind.MaxLength:
		return fmt.Sprintf("%s has %d characters, more than the %d allowed", v, k.Got, k.Want)
	case *kind.Minimum:
		return number(value, k.Got) + " is less than the minimum " + ratString(k.Want)
	case *kind.Maximum:
		return number(value, k.Got) + " is more than the maximum " + ratString(k.Want)
	case *kind.ExclusiveMinimum:
		return number(value, k.Got) + " must be more than " + ratString(k.Want)
	case *kind.ExclusiveMaximum:
		return number(value, k.Got) + " must be less than " + ratString(k.Want)
	case *kind.MultipleOf:
		return number(value, k.Got) + " is not a multiple of " + ratString(k.Want)
	case *kind.MinItems:
		return fmt.Sprintf("the list has %s, at least %s required", items(k.Got), items(k.Want))
	case *kind.MaxItems:
		return fmt.Sprintf("the list has %s, at most %s allowed", items(k.Got), items(k.Want))
	case *kind.UniqueItems:
		return fmt.Sprintf("items %d and %d are the same; each value may appear once", k.Duplicates[0], k.Duplicates[1])
	case *kind.MinProperties:
		return fmt.Sprintf("the object has %d fields, at least %d required", k.Got, k.Want)
	case *kind.MaxProperties:
		return fmt.Sprintf("the object has %d fields, at most %d allowed", k.Got, k.Want)
	case *kind.ContentEncoding:
		return "the value is not valid " + k.Want
	}
	return k.LocalizedString(printer)
}

func unknownField(name string) string {
	return "unknown field " + quoteValue(name) + " (this object accepts only the fields its schema names)"
}

// formatName says what a format means, in the words of the message.
func formatName(f string) string {
	switch f {
	case "date":
		return "a valid date (YYYY-MM-DD, a real calendar day)"
	case "date-time":
		return "a valid date and time (RFC 3339 with its offset, e.g. 2024-03-01T08:30:00Z, a real calendar day)"
	case "time":
		return "a valid time (hh:mm:ss with its offset)"
	case "uri":
		return "a valid absolute URI"
	case "uri-reference":
		return "a valid URI reference"
	case "email":
		return "a valid e-mail address"
	case "uuid":
		return "a valid UUID"
	default:
		return "a valid " + f
	}
}

// article names a JSON type in plain words.
func article(jsonType string) string {
	switch jsonType {
	case "integer":
		return "a whole number"
	case "number":
		return "a number"
	case "string":
		return "a text in double quotes"
	case "boolean":
		return "true or false"
	case "array":
		return "a list"
	case "object":
		return "an object"
	default:
		return jsonType
	}
}

// gotValue names the value a type check refused, with its kind: the text "7", the
// number 12, a list.
func gotValue(v any) string {
	switch v.(type) {
	case string:
		return "the text " + describeValue(v)
	case json.Number:
		return "the number " + describeValue(v)
	default:
		return describeValue(v)
	}
}

func items(n int) string {
	if n == 1 {
		return "1 item"
	}
	return strconv.Itoa(n) + " items"
}

// describeValue names a value for a message: strings and numbers as written (long
// strings cut), containers by their kind only.
func describeValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return quoteValue(v)
	case bool:
		return strconv.FormatBool(v)
	case json.Number:
		return v.String()
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	default:
		return fmt.Sprint(v)
	}
}

func listValues(vs []any) string {
	out := make([]string, len(vs))
	for i, v := range vs {
		if s, ok := v.(string); ok {
			out[i] = s // enum words are read better bare: PREVENU, CONDAMNE
		} else {
			out[i] = describeValue(v)
		}
	}
	return strings.Join(out, ", ")
}

// quoteValue quotes a string for a message, cut at 80 characters.
func quoteValue(s string) string {
	const max = 80
	if utf8.RuneCountInString(s) <= max {
		return strconv.Quote(s)
	}
	n := 0
	for i := range s {
		if n == max {
			return strconv.Quote(s[:i]) + "…"
		}
		n++
	}
	return strconv.Quote(s)
}

func number(value any, got *big.Rat) string {
	if n, ok := value.(json.Number); ok {
		return n.String()
	}
	if got != nil {
		return ratString(got)
	}
	return describeValue(value)
}

func ratString(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// schemaKeyword is the last token of a schema location's fragment, e.g.
// unevaluatedProperties in urn:…:v1#/unevaluatedProperties.
func schemaKeyword(url string) string {
	_, frag, _ := strings.Cut(url, "#")
	return frag[strings.LastIndexByte(frag, '/')+1:]
}

// valueAt finds the value at an instance location.
func valueAt(doc any, loc []string) (any, bool) {
	v := doc
	for _, tok := range loc {
		switch c := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = c[tok]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			v = c[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func pointer(loc []string) string {
	var b strings.Builder
	for _, tok := range loc {
		b.WriteByte('/')
		b.WriteString(escapeToken(tok))
	}
	return b.String()
}

func child(loc []string, name string) string { return pointer(loc) + "/" + escapeToken(name) }

func escapeToken(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// keywordRank orders the keywords that can fail together on one value: the first is
// the one reported, being the one that says most (a wrong type makes the rest moot; a
// date's format says more than its pattern).
var keywordRank = map[string]int{
	"type": 0, "required": 1, "additionalProperties": 2, "unevaluatedProperties": 2,
	"const": 3, "enum": 4, "format": 5, "minLength": 6, "maxLength": 7, "pattern": 8,
}

func rank(kw string) int {
	if r, ok := keywordRank[kw]; ok {
		return r
	}
	return len(keywordRank)
}

// dedupe keeps one violation per pointer (the best-ranked keyword) and sorts them by
// pointer, array indexes in numeric order.
func dedupe(vs []Violation) []Violation {
	slices.SortStableFunc(vs, func(a, b Violation) int {
		if c := comparePointers(a.Pointer, b.Pointer); c != 0 {
			return c
		}
		if c := rank(a.Keyword) - rank(b.Keyword); c != 0 {
			return c
		}
		return strings.Compare(a.Keyword, b.Keyword)
	})
	return slices.CompactFunc(vs, func(a, b Violation) bool { return a.Pointer == b.Pointer })
}

// comparePointers orders pointers token by token, numbers numerically, so that
// /items/2 comes before /items/10 and a parent before its children.
func comparePointers(a, b string) int {
	for a != "" && b != "" {
		var ta, tb string
		ta, a = nextToken(a)
		tb, b = nextToken(b)
		if ta == tb {
			continue
		}
		na, errA := strconv.Atoi(ta)
		nb, errB := strconv.Atoi(tb)
		if errA == nil && errB == nil {
			return na - nb
		}
		return strings.Compare(ta, tb)
	}
	return len(a) - len(b)
}

// nextToken splits "/a/b" into "a" and "/b".
func nextToken(p string) (string, string) {
	p = p[1:]
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i], p[i:]
	}
	return p, ""
}
