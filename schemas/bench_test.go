package schemas_test

import (
	"encoding/json"
	"testing"

	"passerelle/internal/jsonstrict"
)

// benchDocs returns, per type, its largest valid example.
func benchDocs(b *testing.B) (names []string, docs map[string][]byte) {
	b.Helper()
	docs = map[string][]byte{}
	for _, ex := range examples(b) {
		if !ex.valid {
			continue
		}
		if _, seen := docs[ex.typeName]; !seen {
			names = append(names, ex.typeName)
		}
		if len(ex.doc) > len(docs[ex.typeName]) {
			docs[ex.typeName] = ex.doc
		}
	}
	return names, docs
}

// BenchmarkDecodeValidate is the hub's cost of accepting one message: strict decode
// and validation against its schema.
func BenchmarkDecodeValidate(b *testing.B) {
	reg := mustLoad(b)
	names, docs := benchDocs(b)
	for _, name := range names {
		data := docs[name]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				doc, err := jsonstrict.Decode(data)
				if err != nil {
					b.Fatal(err)
				}
				if err := reg.Validate(doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeOnly is plain encoding/json into any on the same documents: the floor
// any JSON consumer pays.
func BenchmarkDecodeOnly(b *testing.B) {
	names, docs := benchDocs(b)
	for _, name := range names {
		data := docs[name]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				var v any
				if err := json.Unmarshal(data, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkValidateOnly is validation alone, of a document decoded once.
func BenchmarkValidateOnly(b *testing.B) {
	reg := mustLoad(b)
	names, docs := benchDocs(b)
	for _, name := range names {
		doc, err := jsonstrict.Decode(docs[name])
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(docs[name])))
			b.ReportAllocs()
			for b.Loop() {
				if err := reg.Validate(doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkValidateInvalid is the cost of refusing: a document with one violation, its
// error tree flattened into messages.
func BenchmarkValidateInvalid(b *testing.B) {
	reg := mustLoad(b)
	_, docs := benchDocs(b)
	doc, err := jsonstrict.Decode(docs["penal-record"])
	if err != nil {
		b.Fatal(err)
	}
	doc.(map[string]any)["data"].(map[string]any)["committalDate"] = "2024-02-31"
	b.ReportAllocs()
	for b.Loop() {
		if err := reg.Validate(doc); err == nil {
			b.Fatal("accepted an impossible date")
		}
	}
}
