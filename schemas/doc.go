// Package schemas holds the canonical JSON Schemas (draft 2020-12) of Passerelle's
// messages and the registry that validates documents against them. It is the
// "validate" step of the flow: every canonical message a connector makes, and every
// file given to `passerelle validate`, passes through Registry.Validate before it may
// enter the outbox; a refusal goes to quarantine with its violations.
//
// The schema files (`<name>.v<N>.json`) and their examples (`examples/<name>/valid`,
// `examples/<name>/invalid` with a `.expect.json` per case) are embedded; the tests
// check that every valid example validates and that every invalid one gives exactly
// the violation its expect file names.
//
// # Guarantees
//
//   - The schemas are compiled once (Load) with format assertions on: `format: date`
//     refuses 2024-02-31, `format: date-time` refuses 24:05:31. References resolve
//     only to the embedded files; nothing is fetched.
//   - Validate picks the schema from the document's `type`; a missing or unknown type
//     is a violation at /type like any other, never a panic nor a silent pass.
//   - Numbers are checked exactly: documents decoded by internal/jsonstrict carry
//     json.Number, which jsonschema/v6 compares with math/big, so a factversion of
//     2^53 is refused by `maximum: 2^53-1` instead of being rounded into range.
//   - A refusal is a *ValidationError with the leaf causes of jsonschema/v6's error tree
//     (the allOf and $ref wrappers dropped), one Violation per offending value, ordered
//     by pointer (indexes numerically). A missing field is reported at its own pointer
//     (one violation per field), an unknown field too. When one value breaks several
//     rules, the one that says most is kept (a wrong type before anything else, a
//     date's format before its pattern).
//
// # Personal data
//
// Violation.Message quotes the offending value — the clerk who must correct a birth
// date needs to see it — so it is for the sender only (the validate command's output,
// the receipt of a push, the quarantine record). Logs use Violation.Redacted (pointer
// and keyword) or the error itself: ValidationError.Error is redacted too, so
// `zap.Error(err)` is safe. A test logs canary values through zap and checks that none
// reaches the output.
//
// # Cost
//
// BenchmarkDecodeValidate (strict decode + validation) and BenchmarkDecodeOnly (plain
// encoding/json) run per type on the largest valid example; validation dominates, as
// ARCHITECTURE.md measured. Run `go test -bench . ./schemas/`.
package schemas
