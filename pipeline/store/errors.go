package store

import "errors"

// ErrNotFound is returned when a row asked for by id does not exist.
var ErrNotFound = errors.New("not found")

// ErrLeaseLost is returned when a source's lease connection is gone: another process
// may hold the source now, so this one must stop.
var ErrLeaseLost = errors.New("lease lost")
