// Package appi is Passerelle's connector to APPI (application des peines, probation et
// insertion), the sentence-enforcement system shared by the JAP and the SPIP. APPI's
// interface is SQL (contracts/appi/interface.sql, copied in sim/interface.sql): the
// connector is a source of flow 3 (measures, polled from appi.mesures_export, towards
// PRISME) and the sink of flows 4 and 5 (PRISME's case transfers and validated reports,
// inserted into appi.dessaisissements_entrants and appi.rapports_entrants). It talks to
// APPI's database over its own pgx/v5 pool (setting dsn, a secret), never through the
// hub's database.
//
// Source (source.go, position.go). Rows are read in seq order. The contract warns that
// a row with a lower seq can become visible after a higher one (APPI's long
// transactions, up to 30 s) and that seqs lost to rollbacks never appear. The
// position is therefore not a single seq but the highest seq seen plus the open gaps
// below it, each with the instant (APPI's database clock) at which a higher seq was
// first seen; see position for its written form. Each Read, in one REPEATABLE READ
// snapshot, reads the rows of the open gaps and the rows above the highest seq, and
// gives a gap up only once it has been missing for visibilityDelay (default 30 s) in a
// snapshot taken after that delay, logging the seqs given up. Guarantees:
//
//   - no seq is skipped for good before the delay has passed, whatever the order of
//     commits on APPI's side;
//   - no seq is emitted twice: it leaves its gap, or raises the highest seq, in the
//     position saved with its fact, so a restart from any saved position re-reads
//     exactly what was not saved;
//   - the database unreachable or slow (beyond timeout) is a transient error and the
//     position stays; a row that cannot be mapped is a quarantined fact (stage "map"),
//     never a stop of the feed;
//   - the clock is the database's, read before and after the snapshot, so that hub
//     processes with different clocks, taking the source over from each other, agree.
//
// Mapping (mapper.go): a row is one canonical measure (fr.justice.measure.v1) whose
// fact is APPI's mesure/<numero_mesure> in version seq — its idempotency key derives
// from the seq, and the newest seq of a measure wins downstream (the pipeline never
// lets an older version overwrite a newer one). The table of columns to fields is in
// mapper.go: obligations 'SOINS;TRAVAIL' → [SOINS, TRAVAIL], NULL or empty → []; first
// names split on spaces in order; numero_dossier, numero_parquet, numero_ecrou +
// code_etablissement → the person's identifiers; observations stays in the canonical
// message (every destination's policy removes it). A fact's raw input is the row as
// JSON with its column names, every value as PostgreSQL's text of it (EncodeRow), so
// that Decode replays exactly what was read.
//
// Sink (sink.go). A case transfer becomes one dessaisissements_entrants row and a
// report one rapports_entrants row, exactly as contracts/README.md says:
// reference_externe is the delivery's idempotency key, application_origine PRISME,
// numero_dossier_origine the PRISME dossierId, first names joined by one space,
// mesures and pieces JSON arrays with snake_case keys, numero_dossier of a report the
// person's APPI file number when the message carries it. Guarantees:
//
//   - INSERT ... ON CONFLICT (reference_externe) DO NOTHING: a retry, a replay or a
//     restart never makes a second row, and a conflict is a success whose receipt is
//     the existing row's id;
//   - a report's document is checked against its declared sha256 and size before
//     anything is written; a mismatch is refused (permanent ErrDigestMismatch);
//   - a row refused by the database for its content (NOT NULL, CHECK, a value of the
//     wrong type) is a permanent *RefusedError that names the column or constraint and
//     the rule; connection trouble, timeouts, missing grants or tables are transient;
//   - where the hub's role has the contract's partner grants only (INSERT without
//     SELECT on the intake tables), the sink still writes exactly once, and its
//     receipts carry reference_externe instead of the id.
//
// Its recipient kind is enforcement (pipeline/policy): nextAppointment of a case
// transfer has no column and is not written.
//
// Errors and logs carry technical identifiers only — seqs, measure numbers, message
// ids, column and constraint names, SQLSTATEs — never a name, a birth date or free
// text: PostgreSQL's own messages and details, which may quote values, are not used.
//
// Spec registers kind "appi" with settings dsn, poll, batchSize, visibilityDelay,
// timeout and maxConns (config.go). New does not contact the database. The simulator
// of APPI's side is package sim; connectors/connectortest's acceptance suite runs the
// source and the sink against it on a real PostgreSQL.
package appi
