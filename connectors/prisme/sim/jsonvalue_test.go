package sim

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNumbersCompareByValue(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		eq   bool
	}{
		{"1", "1.0", true},
		{"1", "1e0", true},
		{"100", "1E2", true},
		{"100", "1e+2", true},
		{"0.0012", "12e-4", true},
		{"0", "-0", true},
		{"0", "0.000e10", true},
		{"-1.5", "-15e-1", true},
		{"1", "-1", false},
		{"1", "10", false},
		{"0.1", "0.01", false},
		{"12345678901234567890", "12345678901234567891", false},
	} {
		t.Run(tc.a+" and "+tc.b, func(t *testing.T) {
			assert.Equal(t, tc.eq, numbersEqual(tc.a, tc.b))
			assert.Equal(t, tc.eq, numbersEqual(tc.b, tc.a))
		})
	}
}

func TestInt64Of(t *testing.T) {
	for _, tc := range []struct {
		lit string
		v   int64
		ok  bool
	}{
		{"42", 42, true}, {"4.0", 4, true}, {"4e3", 4000, true}, {"-7", -7, true}, {"0e5", 0, true},
		{"9223372036854775807", math.MaxInt64, true}, {"9223372036854775808", 0, false},
		{"1.5", 0, false}, {"1e19", 0, false}, {"1e-1", 0, false},
	} {
		t.Run(tc.lit, func(t *testing.T) {
			v, ok := int64Of(json.Number(tc.lit))
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.v, v)
		})
	}
}

func TestJSONEqualIgnoresMemberOrder(t *testing.T) {
	a, err := decodeJSON([]byte(`{"a":[1,{"b":true,"c":null}],"d":"x"}`))
	require.NoError(t, err)
	b, err := decodeJSON([]byte(`{"d":"x","a":[1.0,{"c":null,"b":true}]}`))
	require.NoError(t, err)
	assert.True(t, jsonEqual(a, b))
	c, err := decodeJSON([]byte(`{"d":"x","a":[{"c":null,"b":true},1]}`))
	require.NoError(t, err)
	assert.False(t, jsonEqual(a, c), "array order matters")
	assert.Equal(t, jsonDigest(a), jsonDigest(b), "the digest compares as jsonEqual does")
	assert.NotEqual(t, jsonDigest(a), jsonDigest(c))
}

// FuzzJSONDigestIsJSONEqual checks that two decoded values have the same digest
// exactly when jsonEqual holds: an Idempotency-Key remembers its body's digest only.
func FuzzJSONDigestIsJSONEqual(f *testing.F) {
	for _, s := range [][2]string{
		{`{"a":1,"b":[true,null]}`, `{"b":[true,null],"a":1.0}`}, {`{"a":1}`, `{"a":"1"}`}, {`[1,2]`, `[2,1]`},
		{`{"a":{"b":1}}`, `{"a":{"b":1},"c":null}`}, {`-0`, `0e5`}, {`1e999`, `1e999`}, {`1e999`, `10e998`},
		{`["ab","c"]`, `["a","bc"]`}, {`{"ab":"c"}`, `{"a":"bc"}`}, {`[[]]`, `[[],[]]`}, {`""`, `null`}, {`0.5`, `5e-1`},
	} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		va, err := decodeJSON(a)
		if err != nil {
			return
		}
		vb, err := decodeJSON(b)
		if err != nil {
			return
		}
		require.Equal(t, jsonEqual(va, vb), jsonDigest(va) == jsonDigest(vb), "%s vs %s", a, b)
	})
}

// FuzzNumbersEqual checks the decimal comparison against float64 where float64 is
// exact: two literals of at most 15 significant digits in the normal range are equal
// exactly when their float64 values are.
func FuzzNumbersEqual(f *testing.F) {
	for _, s := range [][2]string{{"1", "1.0"}, {"1e2", "100"}, {"-0", "0"}, {"0.1", "1e-1"}, {"123.456", "123456e-3"}, {"7", "8"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if !isNumberLiteral(a) || !isNumberLiteral(b) {
			return
		}
		eq := numbersEqual(a, b)
		require.Equal(t, eq, numbersEqual(b, a), "symmetric")
		require.True(t, numbersEqual(a, a), "reflexive")
		if !floatExact(a) || !floatExact(b) {
			return
		}
		fa, _ := strconv.ParseFloat(a, 64)
		fb, _ := strconv.ParseFloat(b, 64)
		require.Equal(t, fa == fb, eq, "%s vs %s", a, b)
	})
}

// isNumberLiteral reports whether s is exactly one JSON number.
func isNumberLiteral(s string) bool {
	v, err := decodeJSON([]byte(s))
	if err != nil {
		return false
	}
	n, ok := v.(json.Number)
	return ok && string(n) == s
}

// floatExact reports whether float64 represents the decimal literal s uniquely: at
// most 15 significant digits, in the normal range.
func floatExact(s string) bool {
	d, ok := parseDecimal(s)
	if !ok || len(d.digits) > 15 {
		return false
	}
	return d.digits == "" || (d.exp > -300 && d.exp < 300)
}

// FuzzDecodeJSON checks that decoding never panics and that a decoded value equals
// itself and its re-encoding.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `null`, `{"a":1e999}`, `{"a":[1,2,{"b":"c"}]}`, `{} {}`, `"\ud800"`,
		strings.Repeat("[", 20000) + strings.Repeat("]", 20000)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := decodeJSON(b)
		if err != nil {
			return
		}
		require.True(t, jsonEqual(v, v))
		re, err := json.Marshal(v)
		require.NoError(t, err)
		w, err := decodeJSON(re)
		require.NoError(t, err)
		require.True(t, jsonEqual(v, w), "%s", re)
		require.Equal(t, jsonDigest(v), jsonDigest(w), "%s", re)
		_ = numberViolations(v, "", nil)
	})
}
