package jsonl

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	for name, in := range map[string]string{
		"an unknown attribute":       strings.Replace(line, `"data"`, `"extra":1,"data"`, 1),
		"data that is not an object": strings.Replace(line, `"data":{"a":1}`, `"data":[1]`, 1),
		"trailing data":              line + ` {}`,
		"a version that is a string": strings.Replace(line, `"factversion":3`, `"factversion":"3"`, 1),
		"not JSON":                   "garbage",
	} {
		t.Run(name+" is refused", func(t *testing.T) {
			_, err := decode([]byte(in))
			require.Error(t, err)
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(line))
	f.Add([]byte(`{"data":{}}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decode(b)
		if err == nil && (m == nil || len(m.Data) == 0 || m.Data[0] != '{') {
			t.Fatalf("accepted without an object data: %q", b)
		}
	})
}
