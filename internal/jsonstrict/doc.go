// Package jsonstrict decodes untrusted JSON — a clerk's push, a file given to
// `passerelle validate`, a message read back from Kafka — into the plain Go values
// that schema validation and mapping work on: map[string]any, []any, string, bool, nil
// and json.Number.
//
// # What it refuses, and why
//
// encoding/json is lenient where the hub must not be: it keeps the last of two
// duplicate keys (so two systems can read two different facts from one message), it
// replaces invalid UTF-8 with U+FFFD (silently changing a name), and it reads as much
// as it is given. Decode refuses, each with a sentinel of errors.go and an *Error that
// tells the byte offset and, when known, the JSON pointer:
//
//   - a document over the size limit (Limits.MaxBytes, default 10 MiB): ReadAll and
//     DecodeReader stop reading one byte past the limit, and refuse a regular file from
//     its size before reading it;
//   - nesting deeper than Limits.MaxDepth (default 64; a canonical message nests about
//     7 levels). The parser recurses, but never deeper than the limit, so 100,000 open
//     brackets cost 64 stack frames and are refused at the 65th;
//   - duplicate keys in an object (compared after unescaping: "a" and "\u0061" are the
//     same key);
//   - invalid UTF-8 in strings, and \u escapes of lone UTF-16 surrogates;
//   - anything that is not exactly one RFC 8259 value surrounded by white space: a byte
//     order mark, trailing data, control characters in strings, binary garbage;
//   - numbers longer than MaxNumberLength characters or with an exponent beyond
//     ±MaxExponent. jsonschema/v6 checks `type: integer`, `minimum` and `enum` with
//     math/big, where 1e999999 costs about 30 ms: bounding the literal keeps a 10 MiB
//     document of such numbers from stalling the validator for hours.
//
// Numbers decode as json.Number, the literal text: santhosh-tekuri/jsonschema/v6
// accepts json.Number and compares it exactly through math/big, so an integer beyond
// 2^53 is never rounded (with float64, 9007199254740993 would validate as
// 9007199254740992 and a `maximum: 9007199254740991` would be fooled).
//
// Errors never quote a value. Reason names keys (a duplicate key, the pointer), which
// the sender needs; logs use LogString, which carries only the reason and the offset.
//
// # Why a hand-written scanner
//
// Measured on the project's machine (2 cores, AMD EPYC, Go 1.26), decoding the 1.7 KiB
// penal record example into `any`, all in one run (BenchmarkDecode here, and a side
// benchmark of github.com/go-json-experiment/json v1.27.2):
//
//	this package (single pass, json.Number)            ≈ 12–16 µs, 156 allocs
//	encoding/json Unmarshal into any (float64)         ≈ 21–36 µs, 160 allocs
//	encoding/json Decoder with UseNumber               ≈ 25 µs,    170 allocs
//	go-json-experiment Unmarshal into any (float64)    ≈ 10–15 µs, 125 allocs
//	go-json-experiment, numbers kept as json.Number    ≈ 22 µs,    166 allocs
//	go-json-experiment jsontext tokens → any           ≈ 19 µs,    218 allocs
//
// go-json-experiment (jsontext) rejects duplicate names and invalid UTF-8 by default and
// is the fastest into float64, but float64 rounds large integers; keeping numbers exact
// costs it an unmarshaler hook that makes it slower than this scanner. It also fixes its
// depth limit at 10,000 with no option to lower it. A single-pass scanner of about 500
// lines does the one job here — exact numbers, a configurable depth, an offset and a
// pointer in every error — at the speed of the fastest alternative, without a new
// module. encoding/json stays the reference: FuzzDecode checks that whatever this
// package accepts, encoding/json accepts too and decodes to the same value.
package jsonstrict
