// Package sim is a simulator of PRISME, the probation service's application, speaking
// its published interface (openapi.yaml in this package, a copy of
// contracts/prisme/openapi.yaml, embedded) over real HTTP, for Passerelle's tests and
// demo.
//
// What it implements, as the contract's description states it:
//
//   - OAuth 2.0 client credentials on POST /oauth/token (form fields or HTTP Basic),
//     opaque bearer tokens that really expire, 401 with
//     `WWW-Authenticate: Bearer error="invalid_token"` for an unknown, expired or
//     revoked token, 403 when the token lacks the endpoint's scope;
//   - the four write endpoints (fiches pénales, décisions, mesures, custody events):
//     JSON only (415), bodies up to 1 MiB (413), a mandatory Idempotency-Key (400),
//     bodies validated against the contract's own component schemas, compiled once at
//     start-up from the embedded file (422 with one `errors[]` entry per violation,
//     each naming its JSON pointer), idempotent replay per client + endpoint + key
//     (200 with the original Accuse; 409 for another body; only 201 results are
//     remembered, for 30 days), person matching (own identifiers first, then nom +
//     dateNaissance, never numéro parquet alone) answering a dossierId that never
//     changes, and "newest wins" (an older item is kept as history, `courant: false`);
//   - the outgoing events feed GET /api/v1/evenements (DESSAISISSEMENT, RAPPORT_VALIDE)
//     with an opaque cursor, fed by AddEvent (checked against the contract's
//     EvenementSortant schema), by a generator of realistic events (reproducible for a
//     seed, ids included), or by AddRawEvent, which serves bytes unchecked — a type a
//     later PRISME might add, a member of the wrong type — to prove that a client copes.
//
// Faults can be switched on at run time (Server.Faults): 503 or 429 with Retry-After
// (the next N calls or a fraction of them, per endpoint), latency, revocation of every
// token, "apply then drop the reply" (the item is stored, then the connection is closed
// without an answer), and for the events feed a page served again.
//
// A read API for tests and the demo (Go methods on Server, and JSON under /_sim/ without
// authentication) shows every request received in order with the status answered and
// the item's key and version, the current item per key, the history, the dossiers, and
// counters. It is a test tool: it shows the personal data the simulator received.
//
// Where the contract is silent, the simulator decides as follows (and says so, so that
// the hub is not built on a guess):
//
//   - checks run in this order: 401/403, injected 503/429, 415, 413, 400 (missing or
//     too long Idempotency-Key, body that is not exactly one JSON document), 422, then
//     the key's memory (200/409): a different body that is also invalid answers 422;
//   - a number longer than 64 characters or with a decimal exponent beyond ±308, and a
//     version / numeroTransmission / sequenceGenesis that does not fit a signed 64-bit
//     integer, answer 422 (the schemas set no bound; PRISME cannot store more);
//   - an equal version is not "lower": it becomes current (a custody event is the
//     exception the contract names: the first one held stays, and a repeat is answered
//     with the held event's dossier without matching anything);
//   - a person is matched on `personne` only (never on the body's top-level écrou);
//     identifiers are tried in order écrou, APPI number; then nom (case, accents and
//     spaces folded) + dateNaissance, skipping a dossier whose APPI number differs;
//     among several namesakes the oldest dossier wins; the identifiers learned are
//     attached to the dossier unless another dossier holds them;
//   - DeleteItem also forgets the idempotency keys that stored the item, so that a
//     reconciliation that pushes it again with the same key stores it again (201);
//   - the request log records every request when its answer is decided, before the
//     answer is written: a client that received its answer finds it in the log. It also
//     records the key and version a body carried when the request was refused (401,
//     503, 422...), so that a test can prove the hub never sent an older version after
//     a newer one.
//
// Go's net/http Transport replays a POST that carries an Idempotency-Key once, but only
// when a reused keep-alive connection closes before any response; on a fresh
// connection the client sees the error. The drop-reply fault shows both (tests).
//
// Guarantees: every method and handler is safe for concurrent use; no input, however
// malformed, makes a handler panic or answer 5xx other than an injected fault; the
// simulator writes no logs.
package sim
