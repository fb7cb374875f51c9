// Package store is Passerelle's system of record in PostgreSQL (pgx/v5): the outbox of
// accepted facts, the dedup keys, the source checkpoints, the deliveries, the
// quarantine, the hash-chained audit log and the identity links. Kafka is only the
// transport; what this package has committed is what the hub has promised.
//
// Guarantees, and how they are kept:
//
//   - A source's facts, its quarantined inputs and its new checkpoint commit in one
//     transaction (Ingest), so a crash before the commit re-reads the source and a crash
//     after it re-publishes from the outbox: no fact is lost, none is accepted twice.
//   - Dedup is per source fact (system + reference): the same version again is a
//     duplicate, an older one is stale; neither reaches the outbox.
//   - A delivery row is created, pending, for every destination of every accepted
//     message; an outbox row is settled only when none of its deliveries is pending.
//   - Every change of state appends audit rows in the same transaction. Appends are
//     serialised by a transaction-scoped advisory lock so that sequence numbers have no
//     gaps and each row's hash covers its predecessor's.
//   - Writes are per batch (COPY and unnest), never a transaction per fact: on this
//     machine one row per transaction is ≈ 3.7 k/s, a batch of 1,000 ≈ 40 k rows/s.
//   - PostgreSQL alone says what is unpublished and in which order (Unpublished); the
//     messages this process committed come from memory (outboxCache), as a row never
//     changes while it is unpublished.
//
// Data protection (DOMAIN.md, "Data protection"):
//
//   - ExportSubject says everything the hub moved about a person (her facts, their
//     sources, destinations, dates, legal bases and receipts) by index only, and is
//     audited; PendingRectifications lists the corrections still owed to prior
//     recipients of a fact.
//   - ApplyRetention purges payloads once delivered, quarantined ones later, and cuts
//     the audit's tail after the legal period through a database function that anchors
//     the chain's head first (audit_heads), so that VerifyAudit still holds from there.
//   - ResolvePersons never merges two people silently: a name + birth date match that
//     meets a different APPI or PRISME identifier goes on under a new id, listed in
//     identity_reviews for an operator (DecideIdentityReview). With identities.doubtful:
//     wait the pipeline holds that new id's messages in the quarantine (StageIdentity)
//     until the review is decided, then releases each once (ReleaseHeld). It locks the
//     identifiers it resolves, so that two sources meeting a new person at once give
//     her one id. Each process caches the links it saw (identityCache); an operator's
//     merge takes every identifier lock, and any change of a link raises
//     identity_epoch (triggers, migrations 0028 and 0029: an older binary's merge, an
//     UPDATE, DELETE or TRUNCATE by hand too), which empties the caches of every process
//     at its next resolution, and the set of receipt identifiers at its next outcome.
//   - The hub's role, passerelle_hub (migration 0004), may append to the audit and read
//     it, never UPDATE, DELETE or TRUNCATE it.
//
// Migrations are embedded SQL files, applied in order at start-up under an advisory
// lock, so several hub processes can start at once.
package store
