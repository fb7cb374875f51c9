package schemas

import (
	"errors"
	"strings"
)

// Sentinel errors.
var (
	// ErrInvalid marks a document that breaks its schema: every *ValidationError matches
	// it with errors.Is. A schema violation is permanent; retrying cannot fix it.
	ErrInvalid = errors.New("schemas: document does not match its schema")
	// ErrUnknownType is returned by ValidateAs for a type or name the registry does not
	// hold: a mistake of the caller, not of the document.
	ErrUnknownType = errors.New("schemas: unknown canonical type")
)

// Violation is one rule a document breaks, at one place.
//
// Message quotes the offending value, because the person who must correct the
// document needs to see it; values are personal data (names, birth dates, addresses).
// So a Violation goes to logs only through Redacted (or LogString), which keeps the
// pointer and the keyword: never log Message, nor String.
type Violation struct {
	// Pointer is the JSON pointer (RFC 6901) of the offending value; for a missing
	// field, the pointer the field would have; for an unknown field, that field's pointer.
	// The empty string is the document itself.
	Pointer string
	// Keyword is the JSON Schema keyword that failed: required, type, pattern, format,
	// enum, const, minimum, additionalProperties, unevaluatedProperties, …
	Keyword string
	// Message says what is wrong in words a court clerk can act on, quoting the value.
	Message string
}

// String is the form for the person who sent the document:
// `/data/offences/0/natinf: "12A" does not match ^[0-9]{1,6}$ (rule pattern)`.
// It quotes values: not for logs.
func (v Violation) String() string {
	return displayPointer(v.Pointer) + ": " + v.Message + " (rule " + v.Keyword + ")"
}

// Redacted is the form for logs: the pointer and the keyword, never the value, e.g.
// `/data/person/birthDate (rule format)`.
func (v Violation) Redacted() string {
	return displayPointer(v.Pointer) + " (rule " + v.Keyword + ")"
}

// LogString is Redacted, under the name the other packages use for their log forms.
func (v Violation) LogString() string { return v.Redacted() }

func displayPointer(p string) string {
	if p == "" {
		return "(document)"
	}
	return p
}

// ValidationError lists every violation of a document, ordered by pointer.
//
// Its Error text is redacted (pointers and keywords only), so that logging the error
// the usual way (zap.Error) leaks no personal data; the messages for the sender are in
// Violations, each with its String form.
type ValidationError struct {
	// Type is the canonical type the document was checked against, empty when the
	// document's type could not be determined.
	Type string
	// Violations are the leaf causes, at least one, ordered by pointer.
	Violations []Violation
}

// Error returns the redacted summary: the type and each violation's pointer and keyword.
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("schemas: ")
	if e.Type != "" {
		b.WriteString(e.Type)
		b.WriteString(": ")
	}
	b.WriteString("document does not match its schema: ")
	for i, v := range e.Violations {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(v.Redacted())
	}
	return b.String()
}

// LogString is Error: already free of values.
func (e *ValidationError) LogString() string { return e.Error() }

// Is reports whether target is ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Redacted returns each violation's redacted form, for a log field.
func (e *ValidationError) Redacted() []string {
	out := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		out[i] = v.Redacted()
	}
	return out
}
