// Package compat checks that a new version of a canonical JSON Schema still accepts
// every document the released version accepted.
//
// # Why
//
// A canonical message written today may be read, replayed from quarantine or
// re-published from the outbox long after a schema changed, and every destination
// keeps consuming the same CloudEvents type. So within one major version (one `type`,
// fr.justice.<name>.vN, and one schema file, schemas/<name>.vN.json) a schema may only
// widen: describe more, accept more. A change that could refuse a document the
// released version accepted is a new major version.
//
// # What is checked
//
// Check walks the old and the new version side by side, following local and cross-file
// $refs (by $id, see WithReferences) and allOf, and reports, each with its JSON pointer
// into the new schema and a sentence: a newly required property; a property removed
// from a closed object, or an object newly closed (additionalProperties or
// unevaluatedProperties false added); an enum or const that lost values or appeared; a
// type narrowed or added; a pattern or format added or changed; minimum, minLength,
// minItems (and the other lower limits) raised or added; maximum, maxLength, maxItems
// (and the other upper limits) lowered or added; multipleOf and uniqueItems added; an
// if/then/else added or its condition changed, its then or else made stricter; a not,
// anyOf or oneOf added or changed; a schema that became false; an entry of the root
// $defs removed. Additive changes pass: a new optional property, an enum widened, a
// limit relaxed, a required property made optional, a description or title changed.
//
// The check is conservative. A keyword it does not reason about (for example
// patternProperties, dependentRequired, contentEncoding, prefixItems) counts as
// breaking when it is added, removed or changed, and so does a $ref it cannot follow.
// Its answer is "nothing found", not a proof: a pattern replaced by a wider one is
// reported, and so would be a harmless reordering of anyOf branches.
//
// One choice is deliberate and not conservative: a property added to an open object is
// additive, although a document could already have carried that name with another
// value. The only open canonical objects are the envelope's Attributes (closed by each
// type schema) and the envelope's data (given its shape by each type schema).
//
// # How a release is cut
//
//  1. schemas/released/ holds, for every schema, the version last released: a frozen,
//     byte-for-byte copy of schemas/<name>.vN.json. Release 1 is the first set of
//     schemas. Files there are never edited by hand.
//  2. Between releases, edit schemas/<name>.vN.json freely as long as
//     `make schemas-check` passes: TestReleasedSchemasStayCompatible compares every
//     released file with the current one, and schemas/ajv_test.go checks that every
//     example under schemas/examples (the valid ones are the released examples: keep
//     them, add new ones) gets the same verdict from ajv and from the Go validator, the
//     verdict of its folder.
//  3. To release, copy the current files over: `cp schemas/*.v*.json schemas/released/`,
//     and commit that copy alone, with the version in the message.
//  4. A breaking change is a new major version, never an edit of the released one:
//     a new file schemas/<name>.v2.json with $id urn:passerelle:schema:<name>:v2, a new
//     CloudEvents type fr.justice.<name>.v2 (the type's const and dataschema), its own
//     examples folder (schemas/examples/<name>.v2/), and connectors that produce both
//     for as long as destinations consume v1. schemas/<name>.v1.json stays as released.
//     Removing a released file is itself reported as breaking.
package compat
