package jsonstrict_test

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"passerelle/internal/jsonstrict"
)

// benchDoc is a 1.7 KiB penal record, the document of the baseline in ARCHITECTURE.md.
const benchDoc = "../../schemas/examples/penal-record/valid/reclusion-periode-surete-levee.json"

func BenchmarkDecode(b *testing.B) {
	data, err := os.ReadFile(benchDoc)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("jsonstrict", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := jsonstrict.Decode(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			var v any
			if err := json.Unmarshal(data, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json-usenumber", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.UseNumber()
			var v any
			if err := dec.Decode(&v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// endless yields '[' forever: the shape of a hostile stream.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '['
	}
	return len(p), nil
}

// BenchmarkDecodeHostile measures what refusing costs: 100,000 open brackets, an
// endless stream (read up to the 10 MiB limit), 1 MiB of binary garbage.
func BenchmarkDecodeHostile(b *testing.B) {
	deep := bytes.Repeat([]byte("["), 100_000)
	garbage := make([]byte, 1<<20)
	for i := range garbage {
		garbage[i] = byte(i*7919 + i>>8)
	}
	b.Run("deep-100000", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := jsonstrict.Decode(deep); err == nil {
				b.Fatal("accepted")
			}
		}
	})
	b.Run("endless-stream", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := jsonstrict.DecodeReader(endless{}); err == nil {
				b.Fatal("accepted")
			}
		}
	})
	b.Run("garbage-1MiB", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := jsonstrict.Decode(garbage); err == nil {
				b.Fatal("accepted")
			}
		}
	})
}
