package sim

import "errors"

// ErrInvalidFault is returned by the fault plan's setters for an unknown endpoint, a
// negative count, a fraction outside [0, 1] or a status other than 429 and 503.
var ErrInvalidFault = errors.New("prisme sim: invalid fault")

// ErrInvalidEvent is returned by AddEvent when the event does not satisfy the
// contract's EvenementSortant schema.
var ErrInvalidEvent = errors.New("prisme sim: invalid outgoing event")

// ErrDuplicateEvent is returned by AddEvent when an event with the same id exists.
var ErrDuplicateEvent = errors.New("prisme sim: duplicate event id")

// ErrUnknownKind is returned for an item kind other than the four the contract names.
var ErrUnknownKind = errors.New("prisme sim: unknown item kind")

// ErrNotFound is returned by DeleteItem when PRISME holds no item under the key.
var ErrNotFound = errors.New("prisme sim: no such item")
