// Package connectors is the contract between Passerelle and the connectors that adapt
// an external system: a Source brings facts in, a Sink takes canonical messages out.
// The pipeline does the rest for every connector alike — resolving the person,
// validation against the canonical schemas, dedup, the ingest transaction with the
// checkpoint, the outbox and Kafka, routing, the data-protection policy, retries,
// quarantine, replay and audit — so a connector only decodes, maps and talks to its
// system. docs/connectors.md walks through writing one; `passerelle connector new`
// generates the skeleton; connectors/connectortest is the acceptance suite every
// connector passes; connectors/declarative needs no Go at all for the simple cases.
//
// # Facts and their identity
//
// A Fact is one input of a source: its raw bytes as the system sent them, and the
// canonical messages mapped from them, or the error that prevented them (Err, with
// Stage "decode" or "map"). Every message carries the source's own identity of the
// fact — canonical.FactID: the system (factsystem), its reference there (factref) and
// its version or sequence (factversion) — taken from the system's data, never from
// the clock, a counter or a random id: the same record read twice, after a retry, a
// replay or a restart, must give the same identity. From it the pipeline derives the
// dedup key (system and reference: a fact read twice is recorded once), the order of
// states (a lower version arriving after a higher one is stale: recorded in the audit,
// never delivered), and the idempotency key every destination receives
// (FactID.IdempotencyKey, <system>:<ref>:<version>).
//
// # Sources, positions and checkpoints
//
// A polling source implements Source: Read(ctx, position) returns the facts after a
// position and the position after them (Batch.Next); "" is the beginning. A position
// is opaque to the pipeline and must be everything the source needs to resume: a
// byte offset, a sequence, a cursor of the system, the files finished and the line
// reached — never a key into state kept in memory, since after a crash a new process
// builds a new instance and gives it only the checkpoint. The pipeline saves Next in
// the same PostgreSQL transaction as the facts' outbox rows and dedup keys (the
// checkpoint), and only then asks for more: so the position a Read is given is always
// committed with every fact before it (a source may act on that, as the declarative
// source moves a finished file to done/ only then), and after a crash Read is called
// again from the last committed position — facts read again across it are
// deduplicated by their identity, but a position must neither lose what follows it nor
// lag behind the facts it was saved with. Nothing new is an empty batch whose Next is
// the position given (the pipeline then waits before asking again); a batch with facts
// must move the position. Only one process of a deployment runs a given source at a
// time (a PostgreSQL lease), so Read is never called concurrently for one instance;
// Read must return promptly, with an error or an empty batch, once ctx ends.
//
// A fact that cannot be decoded or mapped is returned with its raw bytes and the
// error: it goes to quarantine with its reason, is replayable (`passerelle replay`
// re-reads its raw bytes through the instance's Decoder, after a fix), and never stops
// the source. Its error text becomes the quarantine reason and may reach logs: it
// names fields, lines and rules, never a value (no name, birth date, address or free
// text: the data is penal and personal).
//
// Push sources. A system that calls the hub rather than being polled (Cassiopée's
// clerks) is an instance with Serve: the hub starts Serve(ctx, host) once, on its own
// goroutine, and cancels ctx at shutdown; Serve blocks until then (and returns nil) or
// returns the error that keeps it from serving. Host.Accept is the push source's ingest:
// it resolves, validates and commits the facts of one call together with a receipt, in
// one PostgreSQL transaction, and returns only after the commit — "accepted" means
// committed, so the caller may be answered at once and the fact will be delivered or
// quarantined with its reason even if the hub crashes the next moment; an error means
// nothing was committed and the caller may retry. The same facts at the same versions
// pushed again by the same caller give back the earlier receipt (Pushed.Replay); an
// older version is recorded as stale and goes no further. Host.Receipt shows each
// message's progress (accepted, relayed, delivered with the destination's receipt,
// quarantined with the reason, stale, superseded) to the caller that pushed it only;
// Host.Audit records what the push source refused. Host's methods are safe for
// concurrent use: a push source calls them from every request it serves.
//
// Sinks. Deliver(ctx, delivery) sends one canonical message — already reduced to the
// fields the route's policy allows — with the idempotency key derived from the
// source's identity of the fact, and returns the destination's receipt. Deliver may be
// called concurrently for different persons, never for one person at a time. A
// destination must make one record of one key: it is sent again after a lost answer, a
// crash, a replay; a destination that answers a repeated key with its original receipt
// (an idempotent replay) is a success.
//
// # Error classes
//
// Classify every error where it happens, with Transient or Permanent:
//
//   - Transient: the system is down, slow or busy (a network error, a timeout, HTTP 5xx,
//     408, 425 and 429, a lock): retrying can succeed. A source's Read fails and the
//     pipeline calls it again from the same position with exponential backoff and
//     jitter; a delivery is retried the same way, honouring RetryAfter (the
//     destination's Retry-After). Transient errors are never quarantined: an outage
//     costs time, not facts. An unclassified error is treated as transient.
//   - Permanent: the data was refused and retrying cannot change it (HTTP 400, 409, 422,
//     a schema violation, a business rule). A sink returns it at once — never retries it
//     itself — and the pipeline quarantines the message with the error's text as the
//     reason (so it carries no personal data), replayable once the cause is fixed. A
//     source's permanent refusals are facts with Err, not errors of Read. When most
//     recent deliveries of a destination are refused, the destination is stopped with
//     the reason instead of quarantining what is in fact an outage (a circuit breaker).
//   - Infrastructure: the hub's own parts fail (PostgreSQL, Kafka, the lease). Nothing is
//     acknowledged that is not durable: the ingest transaction rolls back and the batch
//     is read again, a Kafka offset is committed only after the outcome is recorded. A
//     connector never sees these, and never needs to handle them.
//
// # What the pipeline does for every connector
//
// Validation: each message is validated against the schema of its type
// (schemas/), after its person is resolved (the subject); an invalid one is
// quarantined at stage validate with its violations (pointer and rule, never the
// value). Policy: a route names the fields each destination may receive
// (pipeline/policy, by the sink's Recipient); the rest never reaches Deliver.
// Quarantine: decode, map, validate and delivery failures are kept with their raw
// input, stage, reason and attempts, and `passerelle replay` re-injects them. Audit:
// every acceptance, delivery, quarantine and replay is appended to a hash-chained log.
// Logs: an injected *zap.Logger (Env.Logger), technical identifiers only.
//
// # Construction and registration
//
// Spec.New validates the settings (config.DecodeSettings refuses unknown keys) and
// reports every problem with its path (connectors.<name>.<setting>), at `passerelle
// config check` as at start-up; it builds the instance without contacting the system,
// so that start-up never depends on it being up. Registration is explicit:
// connectors/builtin lists the specs (no init side effects; a duplicate kind is an
// error).
package connectors
