package canonical

import "errors"

var (
	// ErrUnknownType is returned for a CloudEvents type that is not one of the canonical
	// types this version of the hub knows.
	ErrUnknownType = errors.New("canonical: unknown type")
	// ErrDataTypeMismatch is returned when a payload's Go type belongs to another
	// canonical type than the message's (a Judgment sent as a penal record).
	ErrDataTypeMismatch = errors.New("canonical: data does not match the message type")
	// ErrInvalidFact is returned for a fact identity without system or reference, or
	// with a negative version: no idempotency key can be derived from it.
	ErrInvalidFact = errors.New("canonical: invalid fact identity")
	// ErrTrailingData is returned when a JSON document is followed by more than
	// whitespace.
	ErrTrailingData = errors.New("canonical: trailing data after the JSON document")
	// ErrInvalidDate is returned for a Date that is not a real calendar date written
	// YYYY-MM-DD.
	ErrInvalidDate = errors.New("canonical: invalid date")
	// ErrNoFact is returned by FactOf for a value that is not a canonical payload.
	ErrNoFact = errors.New("canonical: not a canonical payload")
)
