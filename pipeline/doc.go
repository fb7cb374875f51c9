// Package pipeline is what every fact goes through, whatever its connector:
//
//	source ─► resolve the person ─► validate ─► ingest transaction ─► relay ─► Kafka
//	        (identities table)    (schemas)   (outbox + dedup +          (topic per type,
//	                                           checkpoint + audit)         key = person)
//	Kafka ─► consumer group per destination ─► newest-wins check ─► policy ─► sink
//	        ─► outcome recorded (deliveries + audit) ─► offset committed
//
// PostgreSQL is the system of record, Kafka the transport. The promise is: no fact
// accepted from a source is lost — it is delivered, or in quarantine with its reason —
// and at each destination at most one effect per fact (idempotency keys derived from
// the source's identity of the fact), never an older version after a newer one.
//
// How the parts keep it:
//   - Ingester commits a source's facts, its rejected inputs and its checkpoint in one
//     transaction (store.Ingest). A crash before the commit re-reads the source; after
//     it, the outbox still holds the facts.
//   - Relay publishes outbox rows in acceptance order (a row whose transaction commits
//     after a later one's goes when it commits; one sent back by a replay, within
//     Relay.Rescan) and marks them published only after the broker acknowledged them
//     (RequiredAcks all); a crash in between publishes them again. A sweeper publishes again rows whose deliveries are still
//     pending long after publication, so a broker that lost data costs time, not facts.
//   - Deliverer consumes with FetchMessage, delivers, records the outcome in
//     PostgreSQL, and only then commits the offset. A redelivered message finds its
//     outcome recorded and is skipped; a destination that received it but whose answer
//     was lost gets the same idempotency key again.
//   - Errors are classified where they happen: transient ones are retried with
//     exponential backoff and jitter (honouring Retry-After) and never quarantined;
//     permanent ones are quarantined with their reason. When most recent deliveries of a
//     destination fail permanently, the destination stops and says why, rather than
//     quarantine an outage.
package pipeline
