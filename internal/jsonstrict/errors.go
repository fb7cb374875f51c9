package jsonstrict

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors, one per reason a document is refused. Every error Decode returns is
// an *Error that wraps exactly one of them, so callers test the reason with errors.Is.
var (
	// ErrTooLarge: the document is longer than the size limit. The reader stops at the
	// limit; nothing past it is read.
	ErrTooLarge = errors.New("document too large")
	// ErrTooDeep: objects and arrays are nested deeper than the depth limit.
	ErrTooDeep = errors.New("nesting too deep")
	// ErrDuplicateKey: an object names the same key twice (after unescaping), which
	// encoding/json would silently resolve by keeping the last one.
	ErrDuplicateKey = errors.New("duplicate object key")
	// ErrInvalidUTF8: a string holds bytes that are not UTF-8, or a \u escape that is a
	// lone UTF-16 surrogate (it has no UTF-8 form).
	ErrInvalidUTF8 = errors.New("invalid UTF-8")
	// ErrSyntax: the bytes are not JSON (including an empty document, a byte order mark,
	// a control character inside a string, binary garbage).
	ErrSyntax = errors.New("invalid JSON syntax")
	// ErrTrailingData: something other than white space follows the top-level value.
	ErrTrailingData = errors.New("data after the JSON value")
	// ErrNumberOutOfRange: a number literal is longer than MaxNumberLength characters or
	// its exponent is beyond ±MaxExponent. Such numbers have no IEEE 754 double form, and
	// arbitrary-precision arithmetic on them (JSON Schema's integer and minimum checks use
	// math/big) would cost milliseconds each: a cheap way to stall a validator.
	ErrNumberOutOfRange = errors.New("number out of range")
	// ErrRead: the reader failed before the document was complete.
	ErrRead = errors.New("read failed")
)

// Error tells why and where a document was refused. Reason and Pointer name the
// document's structure (key names, indexes) but never quote a value, so the text is
// fit for the person who sent the document; logs should still use LogString, which
// leaves out key names as well, since a hostile document chooses its own keys.
type Error struct {
	// Err is the sentinel: ErrTooLarge, ErrTooDeep, ErrDuplicateKey, ErrInvalidUTF8,
	// ErrSyntax, ErrTrailingData, ErrNumberOutOfRange or ErrRead.
	Err error
	// Offset is the byte offset in the input where the problem was found.
	Offset int64
	// Pointer is the JSON pointer (RFC 6901) of the value being read when the problem was
	// found: the object for a duplicate key, the container for excessive depth, the
	// string for invalid UTF-8. Empty for the root and for problems outside any value.
	Pointer string
	// Detail says what was expected or found, in words, without any value.
	Detail string

	// path holds the pointer's tokens innermost first while the error unwinds.
	path []string
	// cause is the underlying I/O error of ErrRead.
	cause error
}

// Error returns "jsonstrict: " followed by Reason.
func (e *Error) Error() string { return "jsonstrict: " + e.Reason() }

// Unwrap returns the sentinel and, for ErrRead, the I/O error.
func (e *Error) Unwrap() []error {
	if e.cause != nil {
		return []error{e.Err, e.cause}
	}
	return []error{e.Err}
}

// Reason is the sentence for the sender: what is wrong and where, e.g.
// `duplicate key "x" at /data (byte 412)`.
func (e *Error) Reason() string {
	var b strings.Builder
	b.WriteString(e.Detail)
	if e.Pointer != "" {
		b.WriteString(" at ")
		b.WriteString(e.Pointer)
	}
	if !errors.Is(e.Err, ErrTooLarge) && !errors.Is(e.Err, ErrRead) {
		b.WriteString(" (byte ")
		b.WriteString(strconv.FormatInt(e.Offset, 10))
		b.WriteString(")")
	}
	return b.String()
}

// LogString is the form for logs: the sentinel's text and the byte offset, nothing the
// document chose (no key, no pointer, no value).
func (e *Error) LogString() string {
	return e.Err.Error() + " at byte " + strconv.FormatInt(e.Offset, 10)
}

// finish turns the innermost-first path into Pointer.
func (e *Error) finish() *Error {
	if len(e.path) == 0 {
		return e
	}
	var b strings.Builder
	for i := len(e.path) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(escapePointerToken(e.path[i]))
	}
	e.Pointer = b.String()
	e.path = nil
	return e
}

// escapePointerToken escapes ~ and / as RFC 6901 says.
func escapePointerToken(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}
