package compat_test

import (
	"os"
	"path/filepath"
	"testing"

	"passerelle/schemas/compat"
)

// FuzzCheck feeds arbitrary pairs of documents to Check: it must never panic, and a
// schema whose references all resolve must be compatible with itself.
func FuzzCheck(f *testing.F) {
	released, err := filepath.Glob(filepath.Join("..", "released", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	var docs [][]byte
	for _, p := range released {
		docs = append(docs, mustRead(f, p))
	}
	for i, d := range docs {
		f.Add(d, docs[(i+1)%len(docs)])
		f.Add(d, d)
	}
	seeds := []string{
		`{}`, `true`, `false`, `[]`, `{"type":`, `{"$ref":"#"}`, `{"$ref":"#/$defs/A","$defs":{"A":{"$ref":"#"}}}`,
		`{"allOf":[{"allOf":[{"$ref":"#"}]}]}`, `{"enum":5}`, `{"required":[1]}`, `{"minimum":1e999999999}`,
		`{"properties":{"a":"b"}}`, `{"oneOf":[{"type":"string"},7]}`, `{"if":{"const":1}}`, `{"not":{"not":{}}}`,
		`{"type":["string","integer"],"minimum":-1.5,"exclusiveMaximum":1e3,"multipleOf":0.25}`,
		`{"$ref":"urn:x#/nowhere/0"}`, `{"$ref":"#anchor","$defs":{"a":{"$anchor":"anchor","type":"null"}}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), []byte(`{"type":"string"}`))
		f.Add([]byte(`{"type":"string"}`), []byte(s))
	}
	f.Fuzz(func(t *testing.T, old, new []byte) {
		if _, err := compat.Check(old, new); err != nil {
			return
		}
		got, err := compat.Check(new, new)
		if err != nil {
			t.Fatalf("checking a schema against itself failed after checking it against another: %v", err)
		}
		unsure := false
		for _, b := range got {
			switch b.Kind {
			case compat.KindUnresolvedRef, compat.KindInvalidSchema, compat.KindTooComplex:
				unsure = true
			}
		}
		if !unsure && len(got) > 0 {
			t.Fatalf("a schema is not compatible with itself: %v", got)
		}
	})
}

func mustRead(f *testing.F, path string) []byte {
	f.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	return b
}
