package canonical

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"
)

// FuzzDecodeMessage feeds DecodeMessage and Payload arbitrary documents: they must
// never panic, and whatever they accept must re-encode stably (encoding what was
// decoded from an encoding gives the same bytes).
func FuzzDecodeMessage(f *testing.F) {
	for _, path := range validExamples(f) {
		f.Add(readFile(f, path))
	}
	invalid, err := filepath.Glob(filepath.Join(schemasDir, "examples", "*", "invalid", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range invalid {
		f.Add(readFile(f, path))
	}
	f.Add([]byte(`{"type":"fr.justice.report.v1","data":null}`))
	f.Add([]byte(`{"data":{}} trailing`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := DecodeMessage(raw)
		if err != nil {
			return
		}
		_ = m.IdempotencyKey()
		payload, err := m.Payload()
		if err != nil {
			return
		}
		if _, err := FactOf(payload); err != nil {
			t.Fatalf("a decoded payload has no fact identity: %v", err)
		}
		first, err := json.Marshal(payload)
		if err != nil {
			return // e.g. a time whose year JSON cannot carry
		}
		again := *m
		again.Data = first
		decoded, err := again.Payload()
		if err != nil {
			t.Fatalf("the encoding of a decoded payload does not decode: %v", err)
		}
		second, err := json.Marshal(decoded)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if !bytes.Equal(first, second) {
			t.Fatalf("encoding is not stable:\n%s\n%s", first, second)
		}
	})
}
