package compat

import "errors"

// Sentinel errors of the compatibility check, to test with errors.Is.
var (
	// ErrNotJSON means a schema document is not well-formed JSON.
	ErrNotJSON = errors.New("compat: schema is not JSON")
	// ErrNotSchema means a document is JSON but not a schema (neither an object nor a
	// boolean), or its $id is not a string.
	ErrNotSchema = errors.New("compat: not a JSON Schema")
	// ErrDuplicateID means two reference documents of the same version share a $id.
	ErrDuplicateID = errors.New("compat: two schemas share a $id")
)
