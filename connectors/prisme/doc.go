// Package prisme is Passerelle's connector to PRISME, the probation service's (SPIP)
// application, whose REST interface (contracts/prisme/openapi.yaml; a copy is embedded
// by the simulator in prisme/sim) is the destination of flows 1 to 3 — penal records and
// custody events from GENESIS, judgments from Cassiopée, measures from APPI — and the
// source of flows 4 and 5 (case transfers and validated reports).
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
package prisme
