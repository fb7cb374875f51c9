package appi

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"passerelle/connectors"
)

// Sentinels, for errors.Is. Every error the Source and the Sink return is also marked
// connectors.ErrTransient or connectors.ErrPermanent, except the caller's own context
// ending, which is neither. No error text carries a value of a row or a message: only
// column names, canonical field names, seqs, measure numbers and SQLSTATE codes.
var (
	// ErrUnavailable: APPI's database could not be reached or did not answer (connection
	// refused, timeout, server shutting down, too many connections, missing grants or
	// tables). Transient: nothing was read or written; the pipeline backs off.
	ErrUnavailable = errors.New("appi: database unavailable")
	// ErrInvalidPosition: Source.Read was given a position it never returned.
	// Permanent: the checkpoint is corrupt.
	ErrInvalidPosition = errors.New("appi: invalid position")
	// ErrInvalidRow: an export row cannot be mapped to a canonical measure (a required
	// column blank, a timestamp that does not parse). Permanent: the row is quarantined
	// with its raw form and the feed goes on.
	ErrInvalidRow = errors.New("appi: invalid export row")
	// ErrInvalidRaw: Decode was given bytes that are not an export row as the source
	// encodes it (EncodeRow). Permanent.
	ErrInvalidRaw = errors.New("appi: invalid raw row")
	// ErrUnsupported: the sink was given a message of a type APPI takes no row for
	// (only case transfers and reports are written). Permanent: a route sends what it
	// should not.
	ErrUnsupported = errors.New("appi: unsupported message type")
	// ErrInvalidMessage: the message lacks what a required column needs, or its data
	// does not decode. Permanent. The text names the canonical field and the column.
	ErrInvalidMessage = errors.New("appi: invalid message")
	// ErrDigestMismatch: a document's content does not have the sha256 or the size it
	// declares. Permanent: APPI must not record a document under a false digest.
	ErrDigestMismatch = errors.New("appi: document digest mismatch")
	// ErrRefused: APPI's database refused the row (a NOT NULL, CHECK, foreign key or
	// unique constraint other than reference_externe, or a value of the wrong type).
	// Permanent. The text names the column or constraint and the rule, never a value.
	ErrRefused = errors.New("appi: row refused")
	// ErrIdempotencyKey: the delivery has no idempotency key for reference_externe.
	// Permanent.
	ErrIdempotencyKey = errors.New("appi: missing idempotency key")
)

// RefusedError is a row APPI's database refused. errors.Is(err, ErrRefused) holds.
type RefusedError struct {
	// Table is the table written.
	Table string
	// Code is the SQLSTATE (23502 not null, 23514 check, 22007 bad date, ...).
	Code string
	// Column is the column at fault, when PostgreSQL names it.
	Column string
	// Constraint is the constraint at fault, when PostgreSQL names it.
	Constraint string
	// Rule says which rule was broken, in words, from the SQLSTATE.
	Rule string
}

// Error names the table, the column or constraint and the rule: never the row's
// values (PostgreSQL's own message and detail may quote them, so neither is used).
func (e *RefusedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "appi: %s refused the row: %s (SQLSTATE %s)", e.Table, e.Rule, e.Code)
	if e.Column != "" {
		fmt.Fprintf(&b, ", column %s", e.Column)
	}
	if e.Constraint != "" {
		fmt.Fprintf(&b, ", constraint %s", e.Constraint)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrRefused) hold.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// rules names the SQLSTATEs of classes 22 and 23 that a row's content can cause.
var rules = map[string]string{
	"23502": "a required column is null (NOT NULL)",
	"23514": "a CHECK constraint is violated",
	"23503": "a foreign key is violated",
	"23505": "a unique constraint is violated",
	"23P01": "an exclusion constraint is violated",
	"22001": "a value is too long for its column",
	"22003": "a number is out of range",
	"22007": "a date or time has an invalid format",
	"22008": "a date or time is out of range",
	"22P02": "a value has an invalid text representation",
	"22021": "a text has an invalid byte sequence",
	"22P05": "a text has an untranslatable character",
	"22025": "a text has an invalid escape sequence",
}

// unavailable wraps err, a failure to talk to the database, as a transient
// ErrUnavailable. err stays reachable with errors.As, but its text is replaced by
// describe's: a driver's message can quote an argument of the statement.
func unavailable(op string, err error) error {
	return connectors.Transient(fmt.Errorf("%w: %s: %w", ErrUnavailable, op, &dbError{what: describe(err), err: err}), 0)
}

// dbError is a database failure whose text is a fixed description of it.
type dbError struct {
	what string
	err  error
}

// Error is the description, never the driver's text.
func (e *dbError) Error() string { return e.what }

// Unwrap returns the driver's error (its text may quote a value: do not log it).
func (e *dbError) Unwrap() error { return e.err }

// describe says what went wrong talking to the database, without quoting anything
// of the request: the SQLSTATE of a server error (with a hint for the ones an
// operator must fix), pgx's connection error as it is (host, port, user and database:
// configuration, no personal data, never the password), or the kind of failure.
func describe(err error) string {
	var pe *pgconn.PgError
	var ce *pgconn.ConnectError
	switch {
	case errors.As(err, &pe):
		switch pe.Code {
		case "42501":
			return "SQLSTATE 42501: insufficient privilege (check the hub role's grants on the appi schema)"
		case "42P01", "3F000":
			return "SQLSTATE " + pe.Code + ": the appi interface tables are missing"
		}
		return "SQLSTATE " + pe.Code
	case errors.As(err, &ce):
		return ce.Error()
	case errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err):
		return "no answer within the timeout"
	}
	return fmt.Sprintf("request failed (%T)", err)
}

// classify turns an error of a statement on table into a classified one: the
// caller's context ending comes back as it is; a row refused for its content
// (SQLSTATE classes 22 and 23) is a permanent *RefusedError; anything else —
// connection, timeout, privileges (42501), a missing table (42P01), the server
// shutting down (57P01), too many connections (53300), a serialization failure
// (40001) — is a transient ErrUnavailable: not the row's fault, an outage or a
// configuration to fix, never a reason to quarantine the message.
func classify(ctx context.Context, op, table string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("appi: %s: %w", op, ctx.Err())
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "23")) {
		rule, ok := rules[pe.Code]
		if !ok {
			rule = "the value breaks a rule of the table"
			if strings.HasPrefix(pe.Code, "22") {
				rule = "a value is not acceptable for its column"
			}
		}
		return connectors.Permanent(&RefusedError{Table: table, Code: pe.Code, Column: pe.ColumnName,
			Constraint: pe.ConstraintName, Rule: rule})
	}
	return unavailable(op, err)
}
