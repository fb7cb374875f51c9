package jsonstrict

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Limits and bounds of the decoder.
const (
	// DefaultMaxBytes is the size limit when Limits.MaxBytes is zero: 10 MiB.
	DefaultMaxBytes = 10 << 20
	// DefaultMaxDepth is the nesting limit when Limits.MaxDepth is zero. A canonical
	// message nests about 7 levels.
	DefaultMaxDepth = 64
	// MaxNumberLength is the longest number literal accepted, in bytes.
	MaxNumberLength = 100
	// MaxExponent bounds the written exponent of a number literal (1e400 is accepted,
	// 1e401 is not); IEEE 754 doubles end near 1e308.
	MaxExponent = 400
)

// Limits are the bounds a document must keep. The zero value means the defaults.
type Limits struct {
	// MaxBytes is the largest document accepted, in bytes. Default DefaultMaxBytes.
	MaxBytes int64
	// MaxDepth is the deepest nesting of objects and arrays accepted; the top-level
	// object or array is depth 1. Default DefaultMaxDepth.
	MaxDepth int
}

func (l Limits) maxBytes() int64 {
	if l.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return l.MaxBytes
}

func (l Limits) maxDepth() int {
	if l.MaxDepth <= 0 {
		return DefaultMaxDepth
	}
	return l.MaxDepth
}

// Decode decodes one JSON document with the default limits. See Limits.Decode.
func Decode(data []byte) (any, error) { return Limits{}.Decode(data) }

// DecodeMember decodes one JSON document with the default limits and returns the bytes
// of one member of its top-level object. See Limits.DecodeMember.
func DecodeMember(data []byte, key string) (any, []byte, error) {
	return Limits{}.DecodeMember(data, key)
}

// DecodeReader reads and decodes one JSON document with the default limits. See
// Limits.DecodeReader.
func DecodeReader(r io.Reader) (any, error) { return Limits{}.DecodeReader(r) }

// Decode decodes data, which must hold exactly one JSON value (white space around it
// allowed), into map[string]any, []any, string, bool, nil and json.Number. Numbers stay
// as their literal text, so an integer beyond 2^53 is never rounded, and
// santhosh-tekuri/jsonschema/v6 compares json.Number exactly (math/big). Any error is
// an *Error wrapping one of the sentinels of errors.go.
func (l Limits) Decode(data []byte) (any, error) {
	if max := l.maxBytes(); int64(len(data)) > max {
		return nil, tooLarge(max)
	}
	d := decoder{data: data, maxDepth: l.maxDepth()}
	v, err := d.document()
	if err != nil {
		return nil, err.finish()
	}
	return v, nil
}

// DecodeMember decodes data as Decode does and also returns the bytes of one member of
// the top-level object as they are in data, from the first byte of its value to the
// last: a caller that must keep a member's original bytes (a CloudEvent's data, which
// the hub hashes and forwards as received) gets them from the same single pass. raw is
// nil when the document is not an object or has no such member; it aliases data.
func (l Limits) DecodeMember(data []byte, key string) (v any, raw []byte, err error) {
	if max := l.maxBytes(); int64(len(data)) > max {
		return nil, nil, tooLarge(max)
	}
	d := decoder{data: data, maxDepth: l.maxDepth(), member: key, memberStart: -1}
	v, derr := d.document()
	if derr != nil {
		return nil, nil, derr.finish()
	}
	if d.memberStart >= 0 {
		raw = data[d.memberStart:d.memberEnd:d.memberEnd]
	}
	return v, raw, nil
}

// DecodeReader reads r up to the size limit and decodes what it read as Decode does.
// It never reads more than MaxBytes+1 bytes: a larger document is refused with
// ErrTooLarge as soon as the limit is crossed (at once, without reading, when r is a
// regular file whose size is known).
func (l Limits) DecodeReader(r io.Reader) (any, error) {
	data, err := l.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return l.Decode(data)
}

// ReadAll reads r to its end as long as it stays within MaxBytes, for callers that keep
// the raw bytes (quarantine) as well as the decoded value. A longer input is refused
// with an *Error wrapping ErrTooLarge after reading at most MaxBytes+1 bytes; a read
// failure is an *Error wrapping ErrRead and the I/O error.
func (l Limits) ReadAll(r io.Reader) ([]byte, error) {
	max := l.maxBytes()
	size := int64(512)
	if f, ok := r.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			if st.Size() > max {
				return nil, tooLarge(max)
			}
			size = st.Size() + 1
		}
	} else if lr, ok := r.(interface{ Len() int }); ok {
		if int64(lr.Len()) > max {
			return nil, tooLarge(max)
		}
		size = int64(lr.Len()) + 1
	}
	buf := make([]byte, 0, min(size, max+1))
	lim := io.LimitReader(r, max+1)
	for {
		if len(buf) == cap(buf) {
			// Double, but never past the limit: a hostile stream costs at most
			// MaxBytes+1 bytes of buffer.
			grown := make([]byte, len(buf), min(2*int64(cap(buf))+512, max+1))
			copy(grown, buf)
			buf = grown
		}
		n, err := lim.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > max {
			return nil, tooLarge(max)
		}
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return nil, &Error{Err: ErrRead, Offset: int64(len(buf)), Detail: "could not read the document: " + err.Error(), cause: err}
		}
	}
}

func tooLarge(max int64) *Error {
	return &Error{Err: ErrTooLarge, Offset: max, Detail: "document larger than the limit of " + formatSize(max)}
}

// formatSize writes a byte count the way people read it: 10 MiB, 512 KiB, 1000 bytes.
func formatSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	default:
		return strconv.FormatInt(n, 10) + " bytes"
	}
}

// decoder is a single-pass recursive-descent parser over a byte slice. Recursion is
// bounded by maxDepth, so hostile nesting costs at most maxDepth stack frames.
type decoder struct {
	data     []byte
	pos      int
	depth    int
	maxDepth int
	// member is the key of the top-level member whose bytes DecodeMember returns, and
	// memberStart:memberEnd their place in data once found (memberStart -1 before).
	member                 string
	memberStart, memberEnd int
}

func (d *decoder) fail(sentinel error, at int, format string, args ...any) *Error {
	return &Error{Err: sentinel, Offset: int64(at), Detail: fmt.Sprintf(format, args...)}
}

// document parses the whole input: one value and nothing else.
func (d *decoder) document() (any, *Error) {
	if len(d.data) >= 3 && d.data[0] == 0xEF && d.data[1] == 0xBB && d.data[2] == 0xBF {
		return nil, d.fail(ErrSyntax, 0, "the document starts with a byte order mark (send UTF-8 without BOM)")
	}
	d.skipSpace()
	if d.pos == len(d.data) {
		return nil, d.fail(ErrSyntax, d.pos, "empty document: expected a JSON value")
	}
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos != len(d.data) {
		return nil, d.fail(ErrTrailingData, d.pos, "unexpected %s after the end of the JSON value", describeByte(d.data[d.pos]))
	}
	return v, nil
}

func (d *decoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// value parses one value starting at d.pos (white space already skipped).
func (d *decoder) value() (any, *Error) {
	if d.pos >= len(d.data) {
		return nil, d.fail(ErrSyntax, d.pos, "unexpected end of the document: expected a value")
	}
	switch c := d.data[d.pos]; c {
	case '{':
		return d.object()
	case '[':
		return d.array()
	case '"':
		return d.str()
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	case 'n':
		return nil, d.literal("null")
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return d.number()
		}
		return nil, d.fail(ErrSyntax, d.pos, "unexpected %s: expected a value", describeByte(c))
	}
}

func (d *decoder) literal(word string) *Error {
	if len(d.data)-d.pos >= len(word) && string(d.data[d.pos:d.pos+len(word)]) == word {
		d.pos += len(word)
		return nil
	}
	for i := 0; i < len(word); i++ {
		if d.pos+i >= len(d.data) {
			return d.fail(ErrSyntax, d.pos+i, "unexpected end of the document in literal %s", word)
		}
		if d.data[d.pos+i] != word[i] {
			return d.fail(ErrSyntax, d.pos+i, "unexpected %s in literal %s", describeByte(d.data[d.pos+i]), word)
		}
	}
	return nil // unreachable: the fast path matched
}

func (d *decoder) enter() *Error {
	d.depth++
	if d.depth > d.maxDepth {
		return d.fail(ErrTooDeep, d.pos, "nested deeper than %d levels", d.maxDepth)
	}
	return nil
}

func (d *decoder) object() (any, *Error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	start := d.pos
	d.pos++ // {
	m := make(map[string]any)
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		d.depth--
		return m, nil
	}
	for {
		if d.pos >= len(d.data) {
			return nil, d.fail(ErrSyntax, d.pos, "unexpected end of the document in the object that starts at byte %d", start)
		}
		if d.data[d.pos] != '"' {
			return nil, d.fail(ErrSyntax, d.pos, "unexpected %s: expected a key in double quotes", describeByte(d.data[d.pos]))
		}
		keyAt := d.pos
		key, err := d.stringValue()
		if err != nil {
			return nil, err
		}
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return nil, d.unexpected("':' after the key")
		}
		d.pos++
		d.skipSpace()
		valueAt := d.pos
		v, err := d.value()
		if err != nil {
			err.path = append(err.path, key)
			return nil, err
		}
		if d.depth == 1 && d.member != "" && key == d.member {
			d.memberStart, d.memberEnd = valueAt, d.pos
		}
		if _, dup := m[key]; dup {
			return nil, d.fail(ErrDuplicateKey, keyAt, "duplicate key %s", quoteKey(key))
		}
		m[key] = v
		d.skipSpace()
		if d.pos >= len(d.data) {
			return nil, d.fail(ErrSyntax, d.pos, "unexpected end of the document in the object that starts at byte %d", start)
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
			d.skipSpace()
		case '}':
			d.pos++
			d.depth--
			return m, nil
		default:
			return nil, d.unexpected("',' or '}' in an object")
		}
	}
}

func (d *decoder) array() (any, *Error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	start := d.pos
	d.pos++ // [
	a := []any{}
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		d.depth--
		return a, nil
	}
	for {
		if d.pos >= len(d.data) {
			return nil, d.fail(ErrSyntax, d.pos, "unexpected end of the document in the array that starts at byte %d", start)
		}
		v, err := d.value()
		if err != nil {
			err.path = append(err.path, strconv.Itoa(len(a)))
			return nil, err
		}
		a = append(a, v)
		d.skipSpace()
		if d.pos >= len(d.data) {
			return nil, d.fail(ErrSyntax, d.pos, "unexpected end of the document in the array that starts at byte %d", start)
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
			d.skipSpace()
		case ']':
			d.pos++
			d.depth--
			return a, nil
		default:
			return nil, d.unexpected("',' or ']' in an array")
		}
	}
}

func (d *decoder) unexpected(expected string) *Error {
	if d.pos >= len(d.data) {
		return d.fail(ErrSyntax, d.pos, "unexpected end of the document: expected %s", expected)
	}
	return d.fail(ErrSyntax, d.pos, "unexpected %s: expected %s", describeByte(d.data[d.pos]), expected)
}

func (d *decoder) str() (any, *Error) {
	s, err := d.stringValue()
	if err != nil {
		return nil, err
	}
	return s, nil
}

// stringValue parses a string at d.pos (on its opening quote). The fast path copies the
// bytes once when there is no escape; UTF-8 is checked rune by rune past ASCII.
func (d *decoder) stringValue() (string, *Error) {
	start := d.pos + 1
	i := start
	data := d.data
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			return string(data[start:i]), nil
		case c == '\\':
			return d.escapedString(start, i)
		case c < 0x20:
			return "", d.fail(ErrSyntax, i, "control character %s inside a string (it must be escaped)", describeByte(c))
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				return "", d.fail(ErrInvalidUTF8, i, "invalid UTF-8 in a string")
			}
			i += size
		}
	}
	return "", d.fail(ErrSyntax, len(data), "unexpected end of the document inside a string that starts at byte %d", start-1)
}

// escapedString continues a string whose first escape is at esc, building the value in
// a buffer.
func (d *decoder) escapedString(start, esc int) (string, *Error) {
	data := d.data
	buf := make([]byte, 0, esc-start+16)
	buf = append(buf, data[start:esc]...)
	i := esc
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			return string(buf), nil
		case c == '\\':
			if i+1 >= len(data) {
				return "", d.fail(ErrSyntax, len(data), "unexpected end of the document in an escape sequence")
			}
			switch e := data[i+1]; e {
			case '"', '\\', '/':
				buf = append(buf, e)
				i += 2
			case 'b':
				buf = append(buf, '\b')
				i += 2
			case 'f':
				buf = append(buf, '\f')
				i += 2
			case 'n':
				buf = append(buf, '\n')
				i += 2
			case 'r':
				buf = append(buf, '\r')
				i += 2
			case 't':
				buf = append(buf, '\t')
				i += 2
			case 'u':
				r, err := d.hex4(i)
				if err != nil {
					return "", err
				}
				i += 6
				if utf16.IsSurrogate(r) {
					if r >= 0xDC00 || i+6 > len(data) || data[i] != '\\' || data[i+1] != 'u' {
						return "", d.fail(ErrInvalidUTF8, i-6, "lone UTF-16 surrogate escape in a string")
					}
					r2, err := d.hex4(i)
					if err != nil {
						return "", err
					}
					combined := utf16.DecodeRune(r, r2)
					if combined == utf8.RuneError {
						return "", d.fail(ErrInvalidUTF8, i-6, "lone UTF-16 surrogate escape in a string")
					}
					r = combined
					i += 6
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return "", d.fail(ErrSyntax, i, "invalid escape sequence \\%s in a string", printableByte(e))
			}
		case c < 0x20:
			return "", d.fail(ErrSyntax, i, "control character %s inside a string (it must be escaped)", describeByte(c))
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			i++
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				return "", d.fail(ErrInvalidUTF8, i, "invalid UTF-8 in a string")
			}
			buf = append(buf, data[i:i+size]...)
			i += size
		}
	}
	return "", d.fail(ErrSyntax, len(data), "unexpected end of the document inside a string that starts at byte %d", start-1)
}

// hex4 reads the four hex digits of the \u escape at i.
func (d *decoder) hex4(i int) (rune, *Error) {
	if i+6 > len(d.data) {
		return 0, d.fail(ErrSyntax, i, "incomplete \\u escape in a string")
	}
	var r rune
	for _, c := range d.data[i+2 : i+6] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, d.fail(ErrSyntax, i, "invalid \\u escape in a string (four hexadecimal digits expected)")
		}
		r = r<<4 | rune(c)
	}
	return r, nil
}

// number checks the RFC 8259 number grammar and returns the literal as json.Number.
func (d *decoder) number() (any, *Error) {
	data := d.data
	start := d.pos
	i := start
	if data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && data[i] >= '1' && data[i] <= '9':
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
	default:
		return nil, d.numberSyntax(i, "a digit")
	}
	if i < len(data) && data[i] == '.' {
		i++
		if i >= len(data) || data[i] < '0' || data[i] > '9' {
			return nil, d.numberSyntax(i, "a digit after the decimal point")
		}
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || data[i] < '0' || data[i] > '9' {
			return nil, d.numberSyntax(i, "a digit in the exponent")
		}
		exp := 0
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			if exp <= MaxExponent {
				exp = exp*10 + int(data[i]-'0')
			}
			i++
		}
		if exp > MaxExponent {
			return nil, d.fail(ErrNumberOutOfRange, start, "number with an exponent beyond ±%d", MaxExponent)
		}
	}
	if i-start > MaxNumberLength {
		return nil, d.fail(ErrNumberOutOfRange, start, "number longer than %d characters", MaxNumberLength)
	}
	d.pos = i
	return json.Number(data[start:i]), nil
}

func (d *decoder) numberSyntax(i int, expected string) *Error {
	if i >= len(d.data) {
		return d.fail(ErrSyntax, i, "unexpected end of the document in a number: expected %s", expected)
	}
	return d.fail(ErrSyntax, i, "unexpected %s in a number: expected %s", describeByte(d.data[i]), expected)
}

// describeByte names a byte without echoing arbitrary content: printable ASCII as
// 'c', anything else as its hexadecimal value.
func describeByte(c byte) string {
	if c >= 0x20 && c < 0x7F {
		return "character '" + string(rune(c)) + "'"
	}
	return fmt.Sprintf("byte 0x%02X", c)
}

func printableByte(c byte) string {
	if c >= 0x20 && c < 0x7F {
		return string(rune(c))
	}
	return fmt.Sprintf("<0x%02X>", c)
}

// quoteKey quotes a key for an error message, cut to 64 bytes so that a hostile
// megabyte-long key does not become a megabyte-long message.
func quoteKey(k string) string {
	const max = 64
	if len(k) <= max {
		return strconv.Quote(k)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(k[cut]) {
		cut--
	}
	return strconv.Quote(k[:cut]) + "…"
}
