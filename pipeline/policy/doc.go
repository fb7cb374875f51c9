// Package policy is the data-protection stage: before any sink sees a message, the
// route's allow-list of canonical fields is applied, in this one place, for every
// connector. Everything a list does not name is removed (deny by default), so a field
// added to the canonical model later reaches no one until a policy names it.
//
// On top of the lists, some fields can never reach some kinds of recipient, whatever a
// configuration says (contracts/README.md, "Data that must not travel"; DOMAIN.md, "Data
// protection"): the SPIP's next appointment and reports never reach a prosecutor-side
// recipient, postal addresses and the court's free-text precision of obligations reach
// the probation service only, and the JAP office's observations reach no one. No policy
// naming such a field for such a recipient can be compiled, so a configuration that
// tries is refused at start-up.
//
// Both are proven, not only exemplified (property_test.go): 100,000 random messages of
// each canonical type, built from its schema (fields present or absent, arrays of any
// length, fields no schema has yet, values of the wrong JSON type), go through the
// largest allow-list Compile accepts for each recipient kind and through random
// subsets of it; nothing outside the list survives, and nothing the contracts forbid a
// kind of recipient reaches it, as an oracle written from the contracts (not from the
// rules) checks. Removing any single hard rule makes that property fail (the mutation
// test), so no rule is dead weight and the property sees what each one guards.
package policy
