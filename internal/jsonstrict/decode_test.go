package jsonstrict_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/internal/jsonstrict"
)

// stdDecode is the reference: encoding/json with UseNumber, one value, nothing after.
func stdDecode(t testing.TB, data []byte) (any, error) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the value")
	}
	return v, nil
}

func TestDecodeAcceptsWhatEncodingJSONAccepts(t *testing.T) {
	docs := map[string]string{
		"an object with every kind of value":     `{"s":"x","n":-12.5e3,"t":true,"f":false,"z":null,"a":[1,"2",[]],"o":{}}`,
		"a bare string":                          `"plain"`,
		"white space around the value":           " \t\r\n[1 , 2 ]\n",
		"every escape":                           `"\"\\\/\b\f\n\r\t\u00e9\u20AC\ud83d\ude00"`,
		"multibyte UTF-8 written as is":          `{"nom":"Éloïse € 😀"}`,
		"an escaped key after a plain one":       `{"a\n":1,"a":2}`,
		"zero, negative zero and exponents":      `[0,-0,0.0,1E+2,1e-2,-1.5E10]`,
		"a number at the exponent bound":         `1e400`,
		"an empty key":                           `{"":1}`,
		"nesting exactly at the limit":           strings.Repeat("[", 64) + strings.Repeat("]", 64),
		"an integer beyond 2^53 kept as written": `9007199254740993`,
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			got, err := jsonstrict.Decode([]byte(doc))
			require.NoError(t, err)
			want, err := stdDecode(t, []byte(doc))
			require.NoError(t, err)
			assert.Equal(t, want, got)
		})
	}
}

func TestDecodeKeepsLargeIntegersExact(t *testing.T) {
	v, err := jsonstrict.Decode([]byte(`{"factversion":9007199254740993}`))
	require.NoError(t, err)
	n, ok := v.(map[string]any)["factversion"].(json.Number)
	require.True(t, ok, "numbers decode as json.Number")
	assert.Equal(t, "9007199254740993", n.String(), "2^53+1 must not be rounded to 2^53")
}

func TestDecodeRefusesHostileInput(t *testing.T) {
	cases := []struct {
		name    string
		doc     string
		limits  jsonstrict.Limits
		want    error
		pointer string
		offset  int64
		reason  string
	}{
		{name: "a duplicate key names the key and the object", doc: `{"data":{"x":1,"x":2}}`, want: jsonstrict.ErrDuplicateKey, pointer: "/data", offset: 15, reason: `duplicate key "x" at /data (byte 15)`},
		{name: "a duplicate written with an escape is still a duplicate", doc: `{"a":1,"\u0061":2}`, want: jsonstrict.ErrDuplicateKey, offset: 7},
		{name: "a duplicate key at the root has an empty pointer", doc: `{"a":1,"a":1}`, want: jsonstrict.ErrDuplicateKey, reason: `duplicate key "a" (byte 7)`, offset: 7},
		{name: "invalid UTF-8 in a value gives its byte and pointer", doc: "{\"a\":[\"ok\",\"\xff\"]}", want: jsonstrict.ErrInvalidUTF8, pointer: "/a/1", offset: 12, reason: "invalid UTF-8 in a string at /a/1 (byte 12)"},
		{name: "invalid UTF-8 after an escape", doc: "\"\\n\xc3\"", want: jsonstrict.ErrInvalidUTF8, offset: 3},
		{name: "invalid UTF-8 in a key", doc: "{\"\xed\xa0\x80\":1}", want: jsonstrict.ErrInvalidUTF8, offset: 2},
		{name: "a lone high surrogate escape", doc: `"\ud800"`, want: jsonstrict.ErrInvalidUTF8, offset: 1},
		{name: "a lone low surrogate escape", doc: `"\udc00\ud800"`, want: jsonstrict.ErrInvalidUTF8, offset: 1},
		{name: "a high surrogate followed by a non-surrogate", doc: `"\ud800\u0041"`, want: jsonstrict.ErrInvalidUTF8, offset: 1},
		{name: "a byte order mark", doc: "\xef\xbb\xbf{}", want: jsonstrict.ErrSyntax, offset: 0},
		{name: "an empty document", doc: "", want: jsonstrict.ErrSyntax},
		{name: "only white space", doc: " \n ", want: jsonstrict.ErrSyntax, offset: 3},
		{name: "a second value after the first", doc: `{} {}`, want: jsonstrict.ErrTrailingData, offset: 3},
		{name: "garbage after the value", doc: `{"a":1}x`, want: jsonstrict.ErrTrailingData, offset: 7},
		{name: "a NUL byte after the value", doc: "1\x00", want: jsonstrict.ErrTrailingData, offset: 1},
		{name: "binary garbage", doc: "\x00\x01\xfe\xff", want: jsonstrict.ErrSyntax, offset: 0},
		{name: "an unterminated string", doc: `{"a":"abc`, want: jsonstrict.ErrSyntax, pointer: "/a", offset: 9},
		{name: "an unterminated object", doc: `{"a":1`, want: jsonstrict.ErrSyntax, offset: 6},
		{name: "an unterminated array", doc: `[1,`, want: jsonstrict.ErrSyntax, offset: 3},
		{name: "a trailing comma in an object", doc: `{"a":1,}`, want: jsonstrict.ErrSyntax, offset: 7},
		{name: "a trailing comma in an array", doc: `[1,]`, want: jsonstrict.ErrSyntax, pointer: "/1", offset: 3},
		{name: "a single-quoted key", doc: `{'a':1}`, want: jsonstrict.ErrSyntax, offset: 1},
		{name: "a missing colon", doc: `{"a" 1}`, want: jsonstrict.ErrSyntax, offset: 5},
		{name: "a raw control character in a string", doc: "\"a\tb\"", want: jsonstrict.ErrSyntax, offset: 2},
		{name: "an unknown escape", doc: `"\x41"`, want: jsonstrict.ErrSyntax, offset: 1},
		{name: "a short \\u escape", doc: `"\u12"`, want: jsonstrict.ErrSyntax, offset: 1},
		{name: "a misspelt literal", doc: `[tru]`, want: jsonstrict.ErrSyntax, pointer: "/0", offset: 4},
		{name: "a truncated literal", doc: `nul`, want: jsonstrict.ErrSyntax, offset: 3},
		{name: "a leading zero", doc: `01`, want: jsonstrict.ErrTrailingData, offset: 1},
		{name: "a leading plus", doc: `+1`, want: jsonstrict.ErrSyntax, offset: 0},
		{name: "a bare minus", doc: `-`, want: jsonstrict.ErrSyntax, offset: 1},
		{name: "a decimal point without digits", doc: `1.`, want: jsonstrict.ErrSyntax, offset: 2},
		{name: "an exponent without digits", doc: `1e+`, want: jsonstrict.ErrSyntax, offset: 3},
		{name: "NaN", doc: `NaN`, want: jsonstrict.ErrSyntax, offset: 0},
		{name: "an exponent beyond the bound", doc: `[1e401]`, want: jsonstrict.ErrNumberOutOfRange, pointer: "/0", offset: 1},
		{name: "a huge negative exponent", doc: `1e-99999999999999999999`, want: jsonstrict.ErrNumberOutOfRange, offset: 0},
		{name: "a number longer than the bound", doc: strings.Repeat("9", jsonstrict.MaxNumberLength+1), want: jsonstrict.ErrNumberOutOfRange, offset: 0},
		{name: "nesting one level past the limit", doc: strings.Repeat(`{"a":`, 65) + "1" + strings.Repeat("}", 65), want: jsonstrict.ErrTooDeep, pointer: strings.Repeat("/a", 64), offset: 320, reason: "nested deeper than 64 levels at " + strings.Repeat("/a", 64) + " (byte 320)"},
		{name: "a smaller depth limit", doc: `[[[]]]`, limits: jsonstrict.Limits{MaxDepth: 2}, want: jsonstrict.ErrTooDeep, pointer: "/0/0", offset: 2},
		{name: "a document over the size limit", doc: `"abcdefghijk"`, limits: jsonstrict.Limits{MaxBytes: 10}, want: jsonstrict.ErrTooLarge, offset: 10, reason: "document larger than the limit of 10 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := tc.limits.Decode([]byte(tc.doc))
			require.Error(t, err)
			assert.Nil(t, v)
			require.ErrorIs(t, err, tc.want)
			var e *jsonstrict.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.pointer, e.Pointer)
			assert.Equal(t, tc.offset, e.Offset)
			if tc.reason != "" {
				assert.Equal(t, tc.reason, e.Reason())
			}
			assert.Equal(t, "jsonstrict: "+e.Reason(), err.Error())
		})
	}
}

func TestDecodeRefuses100000DeepNestingAtTheLimit(t *testing.T) {
	for _, open := range []string{"[", `{"k":`} {
		doc := strings.Repeat(open, 100_000)
		_, err := jsonstrict.Decode([]byte(doc))
		require.ErrorIs(t, err, jsonstrict.ErrTooDeep)
		var e *jsonstrict.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, int64(64*len(open)), e.Offset, "refused where the 65th level opens")
	}
}

// countingReader yields an endless JSON array and counts what was read from it.
type countingReader struct{ read int64 }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		if r.read == 0 {
			p[i] = '['
		} else {
			p[i] = "1,"[r.read%2]
		}
		r.read++
	}
	return len(p), nil
}

func TestDecodeReaderStopsReadingAtTheSizeLimit(t *testing.T) {
	r := &countingReader{}
	limits := jsonstrict.Limits{MaxBytes: 1 << 20}
	_, err := limits.DecodeReader(r)
	require.ErrorIs(t, err, jsonstrict.ErrTooLarge)
	assert.LessOrEqual(t, r.read, int64(1<<20)+1, "reads at most one byte past the limit")
	var e *jsonstrict.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "document larger than the limit of 1 MiB", e.Reason())
}

func TestDecodeReaderRefusesALargeFileWithoutReadingIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.json")
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(50<<20)) // 50 MB, sparse
	require.NoError(t, f.Close())

	f, err = os.Open(path)
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	_, err = jsonstrict.DecodeReader(f)
	require.ErrorIs(t, err, jsonstrict.ErrTooLarge)
	assert.Contains(t, err.Error(), "document larger than the limit of 10 MiB")
	pos, err := f.Seek(0, io.SeekCurrent)
	require.NoError(t, err)
	assert.Zero(t, pos, "the file was refused from its size alone")
}

func TestDecodeReaderReadsFilesAndReaders(t *testing.T) {
	doc := `{"a":[1,2,{"b":"c"}]}`
	path := filepath.Join(t.TempDir(), "doc.json")
	require.NoError(t, os.WriteFile(path, []byte(doc), 0o600))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer func() { _ = f.Close() }()

	want, err := stdDecode(t, []byte(doc))
	require.NoError(t, err)
	for name, r := range map[string]io.Reader{
		"a file":                   f,
		"a reader with Len":        strings.NewReader(doc),
		"a reader one byte a time": iotest.OneByteReader(strings.NewReader(doc)),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := jsonstrict.DecodeReader(r)
			require.NoError(t, err)
			assert.Equal(t, want, got)
		})
	}
}

func TestDecodeReaderReportsReadFailures(t *testing.T) {
	ioErr := errors.New("disk on fire")
	_, err := jsonstrict.DecodeReader(io.MultiReader(strings.NewReader(`{"a":`), iotest.ErrReader(ioErr)))
	require.ErrorIs(t, err, jsonstrict.ErrRead)
	require.ErrorIs(t, err, ioErr)
	var e *jsonstrict.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, int64(5), e.Offset)
}

func TestLogStringCarriesNoKeyNorValue(t *testing.T) {
	_, err := jsonstrict.Decode([]byte(`{"person":{"DUPONT Jean":1,"DUPONT Jean":2}}`))
	var e *jsonstrict.Error
	require.ErrorAs(t, err, &e)
	assert.Contains(t, e.Reason(), `duplicate key "DUPONT Jean" at /person`)
	assert.Equal(t, "duplicate object key at byte 27", e.LogString())
}

func TestErrorsEscapePointerTokens(t *testing.T) {
	_, err := jsonstrict.Decode([]byte(`{"a/b":{"c~d":[nul]}}`))
	var e *jsonstrict.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "/a~1b/c~0d/0", e.Pointer)
}

func TestDuplicateKeyMessagesAreCut(t *testing.T) {
	key := strings.Repeat("k", 1000)
	_, err := jsonstrict.Decode([]byte(`{"` + key + `":1,"` + key + `":2}`))
	require.ErrorIs(t, err, jsonstrict.ErrDuplicateKey)
	var e *jsonstrict.Error
	require.ErrorAs(t, err, &e)
	assert.Less(t, len(e.Detail), 100)
}

func TestReadAllReturnsTheBytesWithinTheLimit(t *testing.T) {
	data, err := jsonstrict.Limits{MaxBytes: 4}.ReadAll(iotest.HalfReader(strings.NewReader("1234")))
	require.NoError(t, err)
	assert.Equal(t, "1234", string(data))
	_, err = jsonstrict.Limits{MaxBytes: 4}.ReadAll(iotest.HalfReader(strings.NewReader("12345")))
	require.ErrorIs(t, err, jsonstrict.ErrTooLarge)
}

func TestDecodeMemberGivesTheMembersBytesAsTheyWere(t *testing.T) {
	doc := []byte(` {"a": {"data": 1}, "data" :  { "x" : [1, "é"] } , "z": null} `)
	v, raw, err := jsonstrict.DecodeMember(doc, "data")
	require.NoError(t, err)
	assert.Equal(t, `{ "x" : [1, "é"] }`, string(raw), "the top-level member, not the nested one, without the space around it")
	whole, err := jsonstrict.Decode(doc)
	require.NoError(t, err)
	assert.Equal(t, whole, v, "the same value as Decode")

	_, raw, err = jsonstrict.DecodeMember([]byte(`{"a":{"data":1}}`), "data")
	require.NoError(t, err)
	assert.Nil(t, raw, "a nested member of that name is not the member")
	_, raw, err = jsonstrict.DecodeMember([]byte(`[{"data":1}]`), "data")
	require.NoError(t, err)
	assert.Nil(t, raw, "not an object")
	_, _, err = jsonstrict.DecodeMember([]byte(`{"data":1,"data":2}`), "data")
	require.ErrorIs(t, err, jsonstrict.ErrDuplicateKey)
	_, _, err = jsonstrict.Limits{MaxBytes: 4}.DecodeMember([]byte(`{"data":1}`), "data")
	require.ErrorIs(t, err, jsonstrict.ErrTooLarge)
}
