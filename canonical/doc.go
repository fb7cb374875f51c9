// Package canonical holds the Go side of Passerelle's canonical model: the CloudEvents
// envelope every fact travels in (Message), one struct per canonical type (PenalRecord,
// CustodyEvent, Judgment, Measure, CaseTransfer, Report) and the shared parts (Person,
// Identifiers, Offence, Sentence, Duration, ...).
//
// Its place in the flow: a source connector maps what its system sends into these
// structs and wraps them with NewMessage; the pipeline validates the message against
// the JSON Schemas in schemas/ (the authority on every rule), stores it, publishes it;
// a sink decodes it back with Message.Payload and maps it to its destination.
//
// Guarantees:
//   - JSON names are exactly the schema property names; the tests compare every struct
//     with its schema definition, field by field, and every enum with its schema enum.
//   - Required fields are never omitted: no omitempty on them, so a required zero value
//     (version 0) is written. A required array left nil is written [] by NewMessage,
//     the one way payloads become messages (lists.go says why this is not a
//     MarshalJSON: it made marshalling four times slower). Optional fields are omitted
//     when absent: strings are minLength 1 in the schemas, so "" means absent; optional
//     numbers and booleans whose zero value is meaningful are pointers; optional arrays
//     and date-times use omitzero, so an explicit [] is kept.
//   - Every valid example in schemas/examples decodes strictly (unknown fields refused)
//     and re-encodes to the same JSON value: nothing is lost, nothing is added.
//   - Dates are Date strings (YYYY-MM-DD, as sent), date-times are time.Time (the
//     offset the source gave is kept).
//   - A message's idempotency key is derived from the source's own identity of the fact
//     (FactID) and is at most 128 bytes, PRISME's limit; the fact references follow
//     docs/canonical-model.md, and FactOf derives them from a payload.
//   - Nothing here logs, and no error carries a field value: decoding errors name
//     fields and types only, since the data is penal and personal.
package canonical
