package sim

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// errTrailingData reports a body holding more than one JSON value.
var errTrailingData = errors.New("données après la valeur JSON")

// decodeJSON decodes one JSON value, numbers kept as json.Number so that none is
// rounded, and refuses anything after it.
func decodeJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode body: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errTrailingData
	}
	return v, nil
}

// Limits on a number literal: beyond them PRISME answers 422 rather than spend
// unbounded time on arbitrary-precision arithmetic (RFC 8259 section 6 lets an
// implementation limit the range it accepts; these keep every float64).
const (
	maxNumberLen      = 64
	maxNumberExponent = 308
)

// numberViolations lists the numbers of v outside the accepted range, each with its
// JSON pointer.
func numberViolations(v any, ptr string, out []Violation) []Violation {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			out = numberViolations(e, ptr+"/"+escapePointer(k), out)
		}
	case []any:
		for i, e := range x {
			out = numberViolations(e, ptr+"/"+strconv.Itoa(i), out)
		}
	case json.Number:
		if !numberInRange(string(x)) {
			out = append(out, Violation{Pointer: ptr, Detail: fmt.Sprintf(
				"nombre hors de la plage acceptée (au plus %d caractères, exposant décimal entre -%d et %d)",
				maxNumberLen, maxNumberExponent, maxNumberExponent)})
		}
	}
	return out
}

// numberInRange reports whether a JSON number literal is short enough and its decimal
// exponent, if any, small enough.
func numberInRange(lit string) bool {
	if len(lit) > maxNumberLen {
		return false
	}
	i := strings.IndexAny(lit, "eE")
	if i < 0 {
		return true
	}
	e, err := strconv.Atoi(lit[i+1:])
	return err == nil && e >= -maxNumberExponent && e <= maxNumberExponent
}

// escapePointer escapes one reference token of a JSON pointer (RFC 6901).
func escapePointer(tok string) string {
	if !strings.ContainsAny(tok, "~/") {
		return tok
	}
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
}

// jsonEqual compares two decoded JSON values as values, not bytes: object member
// order does not matter and numbers compare by their mathematical value
// (1, 1.0 and 1e0 are equal).
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !jsonEqual(xv, yv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case json.Number:
		y, ok := b.(json.Number)
		return ok && numbersEqual(string(x), string(y))
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case nil:
		return b == nil
	}
	return false
}

// jsonDigest is the SHA-256 of a decoded JSON value in a canonical form: two values
// have the same digest exactly when jsonEqual holds between them (object members
// sorted, numbers in normal form), short of a hash collision. An Idempotency-Key
// remembers the digest of its body, not the body: 32 bytes where a decoded body takes
// kilobytes, for the 30 days the contract keeps keys.
func jsonDigest(v any) [32]byte {
	h := sha256.New()
	var buf []byte
	var walk func(v any)
	str := func(tag byte, s string) {
		buf = append(buf[:0], tag)
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		h.Write(buf)
		_, _ = io.WriteString(h, s)
	}
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			h.Write(binary.AppendUvarint([]byte{'{'}, uint64(len(keys))))
			for _, k := range keys {
				str('k', k)
				walk(x[k])
			}
		case []any:
			h.Write(binary.AppendUvarint([]byte{'['}, uint64(len(x))))
			for _, e := range x {
				walk(e)
			}
		case json.Number:
			d, ok := parseDecimal(string(x))
			if !ok {
				str('N', string(x)) // equal only to the same literal, as numbersEqual says
				return
			}
			sign := byte('+')
			if d.neg {
				sign = '-'
			}
			str('n', string(sign)+d.digits)
			h.Write(binary.AppendVarint(nil, d.exp))
		case string:
			str('s', x)
		case bool:
			if x {
				h.Write([]byte{'t'})
			} else {
				h.Write([]byte{'f'})
			}
		case nil:
			h.Write([]byte{'z'})
		default:
			str('?', fmt.Sprintf("%T", v)) // not a decoded JSON value: never equal to one
		}
	}
	walk(v)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// decimal is a JSON number in normal form: value = (-1 if neg) × 0.digits × 10^exp,
// digits without leading or trailing zeros; zero has no digits.
type decimal struct {
	neg    bool
	digits string
	exp    int64
}

// parseDecimal brings a JSON number literal to normal form.
func parseDecimal(lit string) (decimal, bool) {
	var d decimal
	s := lit
	if strings.HasPrefix(s, "-") {
		d.neg = true
		s = s[1:]
	}
	var exp int64
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.ParseInt(strings.TrimPrefix(s[i+1:], "+"), 10, 64)
		if err != nil || e > math.MaxInt32 || e < math.MinInt32 {
			return d, false
		}
		exp = e
		s = s[:i]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	digits := intPart + frac
	exp += int64(len(intPart))
	trimmed := strings.TrimLeft(digits, "0")
	exp -= int64(len(digits) - len(trimmed))
	d.digits = strings.TrimRight(trimmed, "0")
	if d.digits == "" {
		return decimal{}, true
	}
	d.exp = exp
	return d, true
}

// numbersEqual compares two JSON number literals by value.
func numbersEqual(a, b string) bool {
	if a == b {
		return true
	}
	da, oka := parseDecimal(a)
	db, okb := parseDecimal(b)
	if !oka || !okb {
		return false
	}
	return da == db
}

// int64Of reads a JSON integer (1, 1.0, 1e3) as an int64; false when it is not an
// integer or does not fit.
func int64Of(n json.Number) (int64, bool) {
	if v, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return v, true
	}
	d, ok := parseDecimal(string(n))
	if !ok {
		return 0, false
	}
	if d.digits == "" {
		return 0, true
	}
	if d.exp < int64(len(d.digits)) || d.exp > 19 {
		return 0, false // a fraction remains, or more than 19 digits
	}
	lit := d.digits + strings.Repeat("0", int(d.exp)-len(d.digits))
	if d.neg {
		lit = "-" + lit
	}
	v, err := strconv.ParseInt(lit, 10, 64)
	if err != nil {
		return 0, false
	}
	return v, true
}
