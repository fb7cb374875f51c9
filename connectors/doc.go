// Package connectors is the contract between Passerelle and the connectors that adapt
// an external system: a Source brings facts in, a Sink takes canonical messages out.
// The pipeline does the rest for every connector alike — validation against the
// canonical schemas, dedup, the ingest transaction with the checkpoint, the outbox and
// Kafka, routing, the data-protection policy, retries, quarantine, replay and audit —
// so a connector only decodes, maps and talks to its system.
//
// Sources. A polling source implements Source: Read(ctx, position) returns the facts
// after a position and the position after them. The pipeline saves that position in
// the same PostgreSQL transaction as the facts' outbox rows, so after a crash Read is
// called again from the last committed position: a source must be able to re-read
// (facts read twice are deduplicated by their identity). Only one process of a
// deployment runs a given source at a time (a PostgreSQL advisory lock), so Read is
// never called concurrently for one instance. A fact that cannot be decoded or mapped
// is returned with its raw bytes and the error: it goes to quarantine, replayable, and
// never stops the source.
//
// Sinks. Deliver(ctx, delivery) sends one canonical message — already reduced to the
// fields the route's policy allows — with an idempotency key derived from the source's
// identity of the fact, and returns the destination's receipt. Deliver may be called
// concurrently for different persons, never for one person at a time. The error says
// what the pipeline does next: Transient (retry with backoff, honouring RetryAfter;
// infrastructure trouble is never quarantined), Permanent (the data was refused: quarantine
// with the reason), anything else is treated as transient. A destination that answers a
// retried request with its original receipt (an idempotent replay) is a success.
//
// Registration is explicit: connectors/builtin lists them (no init side effects).
package connectors
