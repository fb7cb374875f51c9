// Package cassiopee is Passerelle's connector to Cassiopée, the courts' criminal
// procedure application, the source of flow 2: a court clerk's workstation pushes a
// criminal judgment (decision.schema.json in this package, a copy of
// contracts/cassiopee/decision.schema.json) and each defendant's judgment goes to
// PRISME as one canonical fr.justice.judgment.v1 message.
//
// This part is the pure mapping, with no HTTP and no database:
//
//   - Decode reads a clerk's body: strict JSON (duplicate keys, invalid UTF-8, deep
//     nesting and oversize refused), then the contract's JSON Schema, then the rules the
//     schema cannot say (calendar dates, durations, amounts, the fields each sentence
//     code requires). It answers either a Decision or every Problem found, each with a
//     JSON pointer into the body, a stable Rule and a French sentence for the clerk.
//   - ToJudgments maps a Decision to canonical messages, one per prévenu, with the
//     mapping rules of contracts/README.md.
//   - ParseDate, ParseDuree and ParseMontant are the three legacy formats of the export
//     (JJ/MM/AAAA, 2A6M15J, 1500,00), exported and tested on their own.
//
// Guarantees:
//
//   - Every body Decode accepts maps to messages that the canonical schemas accept
//     (FuzzDecode checks it on hostile input); every body it refuses gets at least one
//     Problem, and Decode never panics.
//   - Unknown fields are tolerated, as the contract requires of its readers, and never
//     carried: Decision holds only what the contract names.
//   - Nothing is guessed: an impossible date, a zero or oversized duration or an amount
//     beyond the canonical bounds is refused, never clipped or normalised; durations
//     stay as pronounced (18M stays 18 months); amounts are exact integer cents.
//   - Personal data stays out of errors: Problem.Detail may quote the clerk's values
//     (it goes back to the clerk who sent them), while error texts, Problem.Redacted
//     and every error of ToJudgments and the parsers name pointers and rules only, fit
//     for logs and quarantine reasons. The package logs nothing.
//   - Pure functions: safe for concurrent use; the contract schema is compiled once.
package cassiopee
