package prisme

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxProblemBytes bounds a problem details body the sink reads (256 KiB: a 422 lists
// one entry per violation, and a thoroughly broken 1 MiB body could break many rules).
const MaxProblemBytes = 256 << 10

// MaxViolations is the number of violations a StatusError keeps; the others are
// counted (StatusError.More), so that a quarantine reason stays readable.
const MaxViolations = 10

// Problem is an RFC 9457 problem details object as PRISME answers it (the contract's
// components.responses.Problem).
type Problem struct {
	// Type identifies the kind of problem (a URI; PRISME's are urn:prisme:probleme:...).
	Type string `json:"type"`
	// Title is a short summary of the kind of problem.
	Title string `json:"title"`
	// Status repeats the HTTP status.
	Status int `json:"status"`
	// Detail explains this occurrence. It may mention the data: never log it.
	Detail string `json:"detail"`
	// Errors lists one entry per violation (422).
	Errors []ProblemError `json:"errors"`
}

// ProblemError is one entry of a problem's `errors`.
type ProblemError struct {
	// Pointer is the RFC 6901 JSON pointer of the offending member of the request body.
	Pointer string `json:"pointer"`
	// Detail says which rule is broken. It may mention the data: never log it.
	Detail string `json:"detail"`
}

// Violation is a ProblemError reduced to what may be logged: the pointer and a rule
// word (required, unknown-field, type, enum, const, format, pattern, min-length,
// max-length, min-items, max-items, minimum, maximum, range, forbidden), or "…" when
// the detail names no rule the sink recognises.
type Violation struct {
	// Pointer is the JSON pointer, sanitised.
	Pointer string
	// Rule is the rule word.
	Rule string
}

// DecodeProblem decodes a problem details body (application/problem+json). It refuses
// a body above MaxProblemBytes, a body that is not one JSON object, and members of the
// wrong JSON type; unknown members are allowed (RFC 9457 extensions).
func DecodeProblem(body []byte) (*Problem, error) {
	if len(body) > MaxProblemBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrProblemTooLarge, len(body), MaxProblemBytes)
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil, fmt.Errorf("%w: not a JSON object", ErrBadProblem)
	}
	var p Problem
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrBadProblem, jsonErrorKind(err))
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: more than one JSON document", ErrBadProblem)
	}
	return &p, nil
}

// jsonErrorKind describes a JSON decoding error without quoting the input.
func jsonErrorKind(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return fmt.Sprintf("member %q has the wrong JSON type", sanitize(te.Field, 64))
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at offset %d", se.Offset)
	}
	return "invalid JSON"
}

// statusError builds the StatusError of a failed answer: from its problem details when
// they decode, else from the status alone.
func statusError(status int, body []byte, class error) *StatusError {
	e := &StatusError{Status: status, class: class}
	p, err := DecodeProblem(body)
	if err != nil {
		e.Title = http.StatusText(status)
		return e
	}
	e.Title = sanitize(p.Title, 120)
	if e.Title == "" {
		e.Title = http.StatusText(status)
	}
	e.Type = typeSlug(p.Type)
	for i, pe := range p.Errors {
		if i >= MaxViolations {
			e.More = len(p.Errors) - MaxViolations
			break
		}
		e.Violations = append(e.Violations, Violation{Pointer: pointer(pe.Pointer), Rule: ruleOf(pe.Detail)})
	}
	return e
}

// pointer keeps a JSON pointer if it looks like one: empty or starting with "/", at
// most 200 bytes, printable. A pointer names the members of the body the hub built,
// never a value; anything else is replaced.
func pointer(p string) string {
	if p != "" && (p[0] != '/' || len(p) > 200 || sanitize(p, 200) != p) {
		return "(unreadable pointer)"
	}
	return p
}

// typeSlug returns the last segment of a problem type URI (after the last ':' or '/'),
// if it is a short slug of letters, digits, '.', '_' and '-'.
func typeSlug(t string) string {
	if i := strings.LastIndexAny(t, ":/"); i >= 0 {
		t = t[i+1:]
	}
	if t == "" || len(t) > 64 {
		return ""
	}
	for _, r := range t {
		slug := r == '-' || r == '_' || r == '.' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')
		if !slug {
			return ""
		}
	}
	return t
}

// ruleOf names the rule a violation's detail describes, without repeating the detail.
// PRISME words its details in French (the simulator's wording, contracts/prisme); the
// JSON Schema keywords are recognised too. The order matters: a pattern or a range
// detail may mention a date or a length.
func ruleOf(detail string) string {
	d := strings.ToLower(detail)
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(d, w) {
				return true
			}
		}
		return false
	}
	switch {
	case has("obligatoire", "required", "missing"):
		return "required"
	case has("champ inconnu", "unknown", "additional"):
		return "unknown-field"
	case has("type invalide", "invalid type"):
		return "type"
	case has("non autorisée", "valeurs acceptées", "enum"):
		return "enum"
	case has("valeur attendue", "const"):
		return "const"
	case has("motif", "pattern"):
		return "pattern"
	case has("plage", "range"):
		return "range"
	case has("au moins") && has("élément"), has("minitems"):
		return "min-items"
	case has("au plus") && has("élément"), has("maxitems"):
		return "max-items"
	case has("au moins", "minlength"):
		return "min-length"
	case has("au plus", "maxlength"):
		return "max-length"
	case has("inférieure", "minimum"):
		return "minimum"
	case has("supérieure", "maximum"):
		return "maximum"
	case has("date", "format"):
		return "format"
	case has("interdite", "forbidden", "false schema"):
		return "forbidden"
	}
	return "…"
}

// sanitize keeps at most n runes of s, drops invalid UTF-8 and control characters (a
// title goes into logs: no line breaks, no terminal escapes) and trims spaces.
func sanitize(s string, n int) string {
	var b strings.Builder
	count := 0
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			continue
		}
		if count == n {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
		count++
	}
	return strings.TrimSpace(b.String())
}
