// Package cassiopee is Passerelle's connector to Cassiopée, the courts' criminal
// procedure application, the source of flow 2: a court clerk's workstation pushes a
// criminal judgment (decision.schema.json in this package, a copy of
// contracts/cassiopee/decision.schema.json) and each defendant's judgment goes to
// PRISME as one canonical fr.justice.judgment.v1 message.
//
// # The mapping (no HTTP, no database)
//
//   - Decode reads a clerk's body: strict JSON (duplicate keys, invalid UTF-8, deep
//     nesting and oversize refused), then the contract's JSON Schema, then the rules the
//     schema cannot say (calendar dates, durations, amounts, the fields each sentence
//     code requires). It answers either a Decision or every Problem found, each with a
//     JSON pointer into the body, a stable Rule and a French sentence for the clerk.
//   - ToJudgments maps a Decision to canonical messages, one per prévenu, with the
//     mapping rules of contracts/README.md. Each message's fact is the decision for that
//     person (numéro parquet + a hash of nom, prénoms and date de naissance), in version
//     numeroTransmission: a re-transmission supersedes the earlier one person by
//     person, and the store's dedup makes an older transmission arriving late stale.
//   - ParseDate, ParseDuree and ParseMontant are the three legacy formats of the export
//     (JJ/MM/AAAA, 2A6M15J, 1500,00), exported and tested on their own.
//
// # The intake (kind "cassiopee", a push source: Instance.Serve)
//
// Intake serves, over TLS 1.2+ with client certificates:
//
//	POST PathDecisions        application/json; 202 + Receipt, 200 + the same Receipt for a repeat
//	GET  PathReceipts{id}     the Receipt as it stands now (the sending court only; 404 otherwise)
//	GET  PathSchema           the contract's JSON Schema
//
// Who may call: a client certificate is required and verified against the courts'
// authority (clientCAFile), valid now, for client authentication. The court is the
// certificate's URI subject alternative name urn:justice:juridiction:NNNNNN
// (CourtURIPrefix; exactly one; see CourtOf for why a SAN rather than an OU). A
// handshake without a certificate, with an expired one or one of another authority
// fails, and is audited first (reference tls:<reason> certificate:<fingerprint>); a
// certificate without a court code is 403. A decision whose juridiction.code is not
// the caller's is 403, audited (court:<caller> payload-court:<code> court-mismatch).
//
// A flood of refusals does not flood the audit chain (every row is a transaction under
// its lock): the first refusal of a reference is audited at once, the next ones with
// the same reference are counted and written as one row per RefusalAuditInterval
// (default one minute), "<reference> count:N since:<first>". Beyond 64 references
// between two writes (refused certificates' fingerprints are the sender's choice),
// refusals are counted by kind, "tls:unknown-authority:various count:N since:...". Every
// refusal is in exactly one row's count (a row without count: is one refusal); what is
// counted when the intake stops is written then.
//
// What is answered, as RFC 9457 problem details (application/problem+json) in French:
// 415 for another media type, 413 above maxBodyBytes (1 MiB), 422 with one entry per
// violation — pointer, rule, detail — for a body Decode refuses, 503 (Retry-After)
// when the store cannot commit (nothing was accepted: send again). A refused body is
// not quarantined: the clerk has the answer at once and Cassiopée still holds the
// decision, so keeping a hostile body would only keep personal data for nobody; the
// refusal is audited by pointer and rule (Problem.Redacted), never by value.
//
// A valid decision becomes one fact with one message per prévenu (the body as its raw
// input), handed to connectors.Host.Accept, which commits it with the receipt: 202
// then means committed in PostgreSQL. The Receipt has one entry per prévenu, in the
// order of prevenus: accepted → relayed → delivered (with PRISME's dossierId and
// recuLe), or quarantined (with the reason), stale (an older transmission than one
// already received: recorded, never sent, Courant names the newer message) or
// superseded. The same numéro parquet + persons + numeroTransmission sent again is a
// repeat: 200 and the same receipt.
//
// Importer takes a folder of exported decision files through the same Decode,
// ToJudgments and Host.Accept, without TLS (the court is each file's
// juridiction.code), for `passerelle cassiopee import`.
//
// # Guarantees
//
//   - Every body Decode accepts maps to messages that the canonical schemas accept
//     (FuzzDecode checks it on hostile input); every body it refuses gets at least one
//     Problem, and neither Decode nor the intake panics (FuzzIntake).
//   - Unknown fields are tolerated, as the contract requires of its readers, and never
//     carried: Decision holds only what the contract names.
//   - Nothing is guessed: an impossible date, a zero or oversized duration or an amount
//     beyond the canonical bounds is refused, never clipped or normalised; durations
//     stay as pronounced (18M stays 18 months); amounts are exact integer cents.
//   - Personal data stays out of errors, logs and the audit: Problem.Detail may quote
//     the clerk's values and goes back to the clerk only; error texts, Problem.Redacted
//     and every error of ToJudgments and the parsers name pointers and rules only. The
//     intake logs receipt ids and counts; adresse and precisionObligations travel in
//     the canonical message, and the route's policy lets them reach PRISME only.
//   - Pure functions are safe for concurrent use; the contract schema is compiled once.
package cassiopee
