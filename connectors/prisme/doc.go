// Package prisme is Passerelle's connector to PRISME, the probation service's (SPIP)
// application, whose REST interface (contracts/prisme/openapi.yaml; a copy is embedded
// by the simulator in prisme/sim) is the destination of flows 1 to 3 — penal records and
// custody events from GENESIS, judgments from Cassiopée, measures from APPI — and the
// source of flows 4 and 5 (case transfers and validated reports). One instance (kind
// "prisme", recipient probation) is always the sink; with `events: {enabled: true}` it
// is also the source of PRISME's outgoing events (the last section below).
//
// The mapper (mapper.go) is the pure part towards PRISME: FichePenaleOf,
// EvenementDetentionOf, DecisionOf and MesureOf turn canonical payloads into the request
// bodies of the four write endpoints, and BodyFor picks the endpoint and body of a
// canonical message by its type. Its guarantees:
//
//   - The bodies are Go structs whose JSON names are exactly those of the contract's
//     component schemas, and which have no other field: PRISME refuses unknown fields,
//     so what it has no field for (a measure's observations, a judgment's clerk, a
//     person's PRISME dossierId, which is PRISME's own answer) is never sent. The tests
//     validate a golden body of every canonical example against the contract's schemas.
//   - The contract's mapping rules: durations as pronounced (never normalised), the
//     plural arrays, reductionsJours = RP + RPS − RETRAIT, identifiers in
//     personne.identifiants, first names as an array in their order, amounts and daily
//     amounts in cents.
//   - A body is built only from what the route's policy left in the message; a field
//     PRISME requires that the policy removed is a permanent ErrMissingField naming
//     every such field (never a value), for the operator to fix the policy.
//   - A message with no PRISME counterpart (a MAJ_FICHE_PENALE movement, a case transfer
//     or a report) answers ErrNotForPrisme: nothing to send, not a failure.
//   - Pure functions, safe for concurrent use; nothing is logged.
//
// The sink (sink.go, client.go, config.go; kind "prisme", recipient probation) delivers
// a canonical message, already reduced by its route's policy, to its write endpoint:
// Encode (BodyFor, then JSON of at most 1 MiB), then POST with `Idempotency-Key` (the
// delivery's key, 1..128 characters), `X-Correlation-Id` (the message id) and a bearer
// token. 201 and 200 (PRISME's replay of the same key and body) are the same success:
// the receipt's ID is the Accuse's id, its Detail the Accuse as PRISME sent it, its
// Identifiers the dossierId under the system PRISME, which the pipeline links to the
// person. A message with no PRISME counterpart (ErrNotForPrisme) is a success too, with
// an empty ID and Detail {"skipped": reason}, and nothing is sent: retrying or
// quarantining it would be wrong, and the delivery table shows why nothing went.
//
// One attempt per Deliver. The pipeline already retries transient errors with backoff
// and jitter, honours Retry-After, counts attempts in the deliveries table and stops a
// destination whose deliveries are mostly refused. A second retry layer here
// (go-retryablehttp) would multiply the waits — its retries would run inside each of
// the pipeline's attempts and be cut by its timeout — hide the attempts and PRISME's
// Retry-After from the pipeline, and its default policy retries every 5xx and nothing
// else the contract names. So the sink makes one HTTP exchange, with two exceptions,
// both safe because the Idempotency-Key makes a repeat harmless:
//
//   - a 401 with `WWW-Authenticate: Bearer error="invalid_token"` (expired or revoked
//     token) drops the cached token, gets a new one and sends once more, as the
//     contract asks; a rotation of tokens is not a delivery failure;
//   - Go's Transport itself resends a POST carrying an Idempotency-Key once when a
//     reused keep-alive connection closes before any answer; PRISME answers the repeat
//     with 200 and the original Accuse, so such a delivery simply succeeds.
//
// What each answer becomes (errors wrap a sentinel of errors.go and are marked
// connectors.Permanent or connectors.Transient):
//
//   - 400, 409, 413, 415, 422: permanent ErrRefused, quarantined with a StatusError
//     such as `prisme: 422 Données non conformes au schéma [validation]:
//     /personne/dateNaissance (format)` — the problem's title and type, the pointers
//     and a rule word per violation; never the problem's detail texts, which could
//     echo the data. Nothing too large or without a usable key is sent at all
//     (permanent ErrBodyTooLarge, ErrIdempotencyKey), nor a body the mapper refused
//     (permanent ErrMissingField, ErrUnmappable).
//   - 429, 503 and every other 5xx, timeouts, refused or cut connections: transient
//     ErrUnavailable, carrying Retry-After (capped at an hour); the retry uses the same
//     key, as the contract allows.
//   - A refused client id, secret or scope at the token endpoint, a 401 with a fresh
//     token, a 403: transient ErrUnauthorized, with what to check. These are not
//     faults of the message but an outage of the whole flow: marked permanent, every
//     message would be quarantined (or the breaker would stop the destination) for a
//     configuration an operator fixes in minutes; transient, they wait, retried with
//     backoff, and the pipeline logs the error as a warning after a few attempts.
//   - Anything else (a redirect, a 404, a 2xx without a readable Accuse):
//     transient ErrUnexpectedAnswer — PRISME may have stored the item, and a retry
//     with the same key gets its Accuse.
//
// Tokens: OAuth 2.0 client credentials (golang.org/x/oauth2/clientcredentials, HTTP
// Basic client authentication), cached and renewed 10 seconds before they expire; one
// token request at a time, concurrent deliveries wait for it (or for their context).
// The transport is one keep-alive client with a connection pool of its own, sized for
// the pipeline's concurrent lanes; it follows no redirect (that would resend the body
// and the token elsewhere). Deliver is safe for concurrent use. Errors and logs carry
// statuses, pointers and technical ids, never a value of the body, the token or the
// secret; the secret is read from the environment or a file (config.Secret), never from
// the YAML. "Newest wins" is the pipeline's and PRISME's: the sink sends what it is
// given.
//
// The events source (source.go, events.go; settings `events: {enabled, pageSize}`)
// reads GET /api/v1/evenements from the saved position, which is PRISME's own opaque
// cursor of the last event processed ("" = from the start), `limite` = pageSize
// (default 100, at most 500). Its token is its own, of scope flux.lecture alone
// (whatever `scopes` says, which is the sink's), from the same client credentials and
// transport, renewed on a 401 invalid_token like the sink's: a read token cannot
// write, a write token cannot read the SPIP's events. Guarantees:
//
//   - Flows 4 and 5: a DESSAISISSEMENT becomes a canonical case transfer
//     (fr.justice.case-transfer.v1), a RAPPORT_VALIDE a canonical report
//     (fr.justice.report.v1), by the pure functions CaseTransferOf and ReportOf (and
//     DecodeEvent, MessageOf). The fact identity is PRISME + evenement/<id>, version 0
//     (EventFact): a repeat, a replay or a restart derives the same idempotency key,
//     the APPI sink's reference_externe. The person carries PRISME's dossierId among
//     their identifiers; codes (motif, typeMesure, obligations, typeRapport) are kept
//     as PRISME sent them and checked by the canonical schemas; a report's content is
//     checked against its sha256 and taille at the door.
//   - The SPIP's interview notes (notesEntretien) never enter the hub: each event is
//     re-encoded without any member of that name — at any depth, in any letter case,
//     escaped or not (ScrubEvent) — before it is decoded, mapped or kept as a fact's
//     raw bytes for quarantine and replay; no struct has a field for them. The next
//     appointment (prochainRendezVous) is carried as nextAppointment: the pipeline's
//     policy (a hard rule) denies it to prosecution-side recipients.
//   - Nothing is lost, nothing read twice: Next is the cursor of the last event the
//     batch covers; events of a page up to the one whose cursor is the position (PRISME
//     serving a page again) and a second copy of an id in a page are skipped; an event
//     without a usable cursor waits for the next one that has one. A page larger than
//     64 MiB (a report carries its document) is asked again with half the events.
//   - An event of a type the hub does not carry (a later PRISME may add some) is
//     skipped with a debug log of its id and type, and the cursor moves past it. A
//     malformed event is a fact with Err and Stage — "decode" (ErrMalformedEvent: not
//     an object, a member of the wrong JSON type, no usable id) or "map"
//     (ErrInvalidEvent: a field the canonical message requires, an impossible date, a
//     document that does not match its digest) — quarantined with its cleaned raw
//     bytes, replayable by Decode, and the feed goes on.
//   - Transient failures — 429, 5xx, timeouts, the network, credentials refused, an
//     answer that is not a page — return an error (connectors.Transient, with
//     PRISME's Retry-After) and no fact: the position stays and the pipeline backs off.
//     A 400 (a cursor PRISME does not know, e.g. after a restore of PRISME) is a
//     permanent ErrRefused: the pipeline keeps trying and logs it for an operator.
//   - Errors and logs carry statuses, event ids, cursors, types and field paths,
//     never a value of an event.
package prisme
