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
package policy
