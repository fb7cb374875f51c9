package declarative

import "errors"

// Sentinel errors. Their texts, and those of the errors wrapping them, name columns,
// fields, files and rules, never a value read from the input.
var (
	// ErrDecode marks a line that is not a record of the configured format.
	ErrDecode = errors.New("declarative: not a record")
	// ErrMapping marks a record the mapping could not turn into a canonical message.
	ErrMapping = errors.New("declarative: mapping failed")
	// ErrInvalid marks a mapped message the canonical schema refuses.
	ErrInvalid = errors.New("declarative: refused by the canonical schema")
	// ErrFileRefused marks a file refused whole (its header is not the configured
	// columns, or cannot be read): it goes to rejected/ with its report.
	ErrFileRefused = errors.New("declarative: file refused whole")
	// ErrPosition marks a position this source did not write.
	ErrPosition = errors.New("declarative: bad position")
	// ErrFiles marks a failure to list, read or move the folder's files.
	ErrFiles = errors.New("declarative: files")
	// ErrHTTP marks a failed call of the polled endpoint.
	ErrHTTP = errors.New("declarative: endpoint")
)
