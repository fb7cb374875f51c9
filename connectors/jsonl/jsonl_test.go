package jsonl

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"passerelle/canonical"
	"passerelle/internal/jsonstrict"
	"passerelle/pipeline/pipelinetest"
)

const line = `{"specversion":"1.0","id":"0b7a6a0e-3b7f-4c6e-9a55-2f7c2a3b9c11","source":"/connectors/appi","type":"fr.justice.measure.v1","time":"2024-03-01T10:00:00Z","subject":"p-1","dataschema":"urn:passerelle:schema:measure:v1","factsystem":"APPI","factref":"mesure/1","factversion":3,"data":{"a":1}}`

func write(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	require.NoError(t, err)
	_, err = f.WriteString(s)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func TestRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.jsonl")
	write(t, path, line+"\n"+`{"nom":"CANARY"`+"\n\n"+strings.Replace(line, `"mesure/1"`, `"mesure/2"`, 1)+"\n"+line[:40])
	s := New(Config{Path: path, BatchSize: 2, MaxLine: 4096})

	b, err := s.Read(t.Context(), "")
	require.NoError(t, err)
	require.Len(t, b.Facts, 2)
	assert.Equal(t, "mesure/1", b.Facts[0].Messages[0].FactRef)
	assert.Equal(t, "mesure/1", b.Facts[0].Fact.Ref)
	require.Error(t, b.Facts[1].Err, "a broken line is a fact with its error, for quarantine")
	assert.Equal(t, "decode", b.Facts[1].Stage)
	assert.NotContains(t, b.Facts[1].Err.Error(), "CANARY", "errors never quote the input")
	assert.Equal(t, `{"nom":"CANARY"`, string(b.Facts[1].Raw))

	t.Run("reading resumes at the position and skips blank lines", func(t *testing.T) {
		b2, err := s.Read(t.Context(), b.Next)
		require.NoError(t, err)
		require.Len(t, b2.Facts, 1)
		assert.Equal(t, "mesure/2", b2.Facts[0].Messages[0].FactRef)
		t.Run("an unterminated last line waits until it is complete", func(t *testing.T) {
			b3, err := s.Read(t.Context(), b2.Next)
			require.NoError(t, err)
			assert.Empty(t, b3.Facts)
			assert.Equal(t, b2.Next, b3.Next)
			write(t, path, line[40:]+"\n")
			b3, err = s.Read(t.Context(), b2.Next)
			require.NoError(t, err)
			require.Len(t, b3.Facts, 1)
			assert.NoError(t, b3.Facts[0].Err)
		})
	})
	t.Run("a line longer than the limit is quarantined and the next one still read", func(t *testing.T) {
		p2 := filepath.Join(t.TempDir(), "long.jsonl")
		write(t, p2, strings.Repeat("x", 10000)+"\n"+line+"\n")
		s := New(Config{Path: p2, MaxLine: 100})
		b, err := s.Read(t.Context(), "")
		require.NoError(t, err)
		require.Len(t, b.Facts, 2)
		require.Error(t, b.Facts[0].Err)
		assert.LessOrEqual(t, len(b.Facts[0].Raw), 4096)
		assert.Error(t, b.Facts[1].Err, "a 300-byte line is also over a 100-byte limit")
		assert.Equal(t, strconv.Itoa(10001+len(line)+1), b.Next, "the position counts every byte consumed, cut or not")
	})
	t.Run("a missing file is a transient error", func(t *testing.T) {
		_, err := New(Config{Path: filepath.Join(t.TempDir(), "none")}).Read(t.Context(), "")
		require.Error(t, err)
	})
}

func TestDecode(t *testing.T) {
	t.Run("a line gives its attributes, its data's bytes as they were, and the data decoded", func(t *testing.T) {
		in := strings.Replace(line, `"data":{"a":1}`, `"data": {"a" : 1, "b":[true,null]} `, 1)
		m, data, err := DecodeLine([]byte(in))
		require.NoError(t, err)
		assert.Equal(t, `{"a" : 1, "b":[true,null]}`, string(m.Data))
		want, err := jsonstrict.Decode(m.Data)
		require.NoError(t, err)
		assert.Equal(t, want, data)
		assert.Equal(t, "APPI", m.FactSystem)
		assert.Equal(t, "mesure/1", m.FactRef)
		assert.Equal(t, int64(3), m.FactVersion)
		assert.Equal(t, "p-1", m.Subject)
		assert.Equal(t, time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC), m.Time)
		ref, err := referenceDecode([]byte(in))
		require.NoError(t, err)
		assert.Equal(t, ref, m, "the same message as encoding/json gives")
	})
	for name, c := range map[string]struct{ in, reason string }{
		"an unknown attribute":         {strings.Replace(line, `"data"`, `"extra":1,"data"`, 1), `unknown attribute "extra"`},
		"an attribute in capitals":     {strings.Replace(line, `"subject"`, `"SUBJECT"`, 1), `unknown attribute "SUBJECT"`},
		"a repeated attribute":         {strings.Replace(line, `"data"`, `"subject":"p-2","data"`, 1), `duplicate key "subject"`},
		"data that is not an object":   {strings.Replace(line, `"data":{"a":1}`, `"data":[1]`, 1), "data must be an object"},
		"no data":                      {strings.Replace(line, `,"data":{"a":1}`, ``, 1), "data must be an object"},
		"trailing data":                {line + ` {}`, "after the end of the JSON value"},
		"a version that is a string":   {strings.Replace(line, `"factversion":3`, `"factversion":"3"`, 1), `attribute "factversion" has the wrong type (string)`},
		"a version that is a fraction": {strings.Replace(line, `"factversion":3`, `"factversion":3.5`, 1), `"factversion" is not an integer`},
		"a subject that is a number":   {strings.Replace(line, `"subject":"p-1"`, `"subject":12`, 1), `attribute "subject" has the wrong type (number)`},
		"a time that is not a time":    {strings.Replace(line, `"2024-03-01T10:00:00Z"`, `"CANARY"`, 1), `"time" is not an RFC 3339 time`},
		"a name in invalid UTF-8":      {strings.Replace(line, `"p-1"`, "\"p-\xff\"", 1), "invalid UTF-8"},
		"an array":                     {"[" + line + "]", "not a JSON object"},
		"not JSON":                     {"garbage", "unexpected"},
	} {
		t.Run(name+" is refused, with the rule and without the value", func(t *testing.T) {
			_, _, err := DecodeLine([]byte(c.in))
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.reason)
			assert.NotContains(t, err.Error(), "CANARY")
			assert.NotContains(t, err.Error(), "p-2")
		})
	}
}

// referenceDecode is the decoder the source used before it read lines in one pass:
// encoding/json into the message, unknown attributes refused. What decode accepts, it
// must accept too, with the same result.
func referenceDecode(line []byte) (*canonical.Message, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	var m canonical.Message
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the object")
	}
	return &m, nil
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(line))
	f.Add([]byte(`{"data":{}}`))
	f.Add([]byte(`{"data":{"a":[1,{"b":"\u00e9"}]},"factversion":-0,"time":null}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, data, err := DecodeLine(b)
		if err != nil {
			return
		}
		if m == nil || len(m.Data) == 0 || m.Data[0] != '{' {
			t.Fatalf("accepted without an object data: %q", b)
		}
		want, err := jsonstrict.Decode(m.Data)
		if err != nil || !reflect.DeepEqual(want, data) {
			t.Fatalf("the decoded data differs from its bytes decoded again (%v): %q", err, b)
		}
		ref, err := referenceDecode(b)
		if err != nil {
			t.Fatalf("accepted what encoding/json refuses (%v): %q", err, b)
		}
		ref.Data = bytes.TrimSpace(ref.Data)
		if !reflect.DeepEqual(ref, m) {
			t.Fatalf("a message other than encoding/json's: %+v against %+v", m, ref)
		}
	})
}

// BenchmarkDecode compares, on realistic penal records, reading a line in one pass
// (the attributes, the data's bytes and the data decoded) with what it replaced:
// encoding/json for the envelope, then jsonstrict for the data.
func BenchmarkDecode(b *testing.B) {
	lines := pipelinetest.PenalRecords(1000, 1)
	b.Run("one-pass", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, _, err := DecodeLine(lines[i%len(lines)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("envelope-then-data", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			m, err := referenceDecode(lines[i%len(lines)])
			if err != nil {
				b.Fatal(err)
			}
			if _, err := jsonstrict.Decode(m.Data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
