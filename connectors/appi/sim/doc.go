// Package sim is a simulator of APPI's interface tables (application des peines,
// probation et insertion), for Passerelle's tests and demo. APPI's interface is SQL:
// partners read appi.mesures_export and insert into appi.dessaisissements_entrants and
// appi.rapports_entrants (interface.sql in this package, an embedded copy of
// contracts/appi/interface.sql). The simulator is therefore a real PostgreSQL schema
// plus the behaviour of APPI's side of it; it shares no code with connectors/appi: it
// is the other side of the tables.
//
// What it offers:
//
//   - CreateSchema creates the interface (schema "appi" and its three tables) in any
//     database; EnsureDatabase creates a database of its own on a server first, so that
//     the demo keeps APPI's tables apart from the hub's; Open and New wrap a database
//     in a DB.
//   - Generator makes realistic, reproducible measure histories: several measures per
//     person (sursis probatoire, TIG with its hours, DDSE, semi-liberté, placement à
//     l'extérieur, LC, LSC, suivi socio-judiciaire, SME before 2020, contrôle
//     judiciaire, AEM), decided by a JAP of a tribunal judiciaire and followed by an
//     antenne of the SPIP, with obligations (NULL or ” when none, as APPI writes
//     both), and status changes over time (creation, taking in charge, suspension,
//     resumption, end, revocation, archiving), each change a new row — a new seq — of
//     the same numero_mesure, the full state of the measure (now and then the same state
//     again, a duplicate under a new seq, as APPI's exports do).
//   - DB.Insert appends rows as APPI does (one seq each, in order); DB.Copy appends
//     them by COPY, in order, for a backfill's data set (millions of rows), without
//     reading their seqs back.
//   - DB.BeginLate takes seqs in a transaction that commits only when asked (or
//     rolls back): the contract's "a row with a lower seq can become visible after a
//     higher one"; DB.LoseSeqs takes seqs and rolls back, leaving the gaps that never
//     fill (the contract's "sequence values lost to rolled-back transactions").
//   - DB.Feed writes a generator's rows continuously for the demo, a fraction of them
//     committed seconds late and a fraction of seqs lost to rollbacks.
//   - DB.Dessaisissements, DB.Rapports and DB.Mesures read the tables back, for tests
//     and the demo; DB.GrantPartner creates the partner role the contract describes
//     (SELECT on mesures_export, INSERT on the intake tables).
//
// Guarantees: every DB method is safe for concurrent use (a pgx pool); the simulator
// writes no logs. It holds generated personal data (names, birth dates, free text): it
// is a test tool.
package sim
