package prisme

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinels of the sink. The mapper's own (ErrNotForPrisme, ErrMissingField,
// ErrUnmappable) are in mapper.go. Every error Deliver returns is also marked
// connectors.Permanent or connectors.Transient; these sentinels say why.
var (
	// ErrRefused: PRISME refused this request's content (400, 409, 413, 415, 422).
	// Marked permanent: the same request would be refused again. The error names the
	// status, the problem's title and type, and the JSON pointers and rules broken,
	// never a value.
	ErrRefused = errors.New("prisme: refused")
	// ErrUnavailable: PRISME (or the network to it) is down, busy or slow: 429, 503,
	// any other 5xx, a timeout, a connection refused or cut. Marked transient, with
	// PRISME's Retry-After when it sent one: the contract says to retry with the same
	// Idempotency-Key.
	ErrUnavailable = errors.New("prisme: unavailable")
	// ErrUnauthorized: PRISME refused the hub itself — the token endpoint refused the
	// client credentials or the scope, a freshly issued token was refused (401), or the
	// token lacks the endpoint's scope (403). Marked transient, deliberately: it is an
	// outage of the whole flow (every message would fail the same way until an
	// operator fixes the credentials or PRISME's grant), not a fault of the message, so
	// it must not quarantine message after message. The pipeline keeps retrying with
	// backoff and logs it as a warning; the error says what to check.
	ErrUnauthorized = errors.New("prisme: credentials refused")
	// ErrUnexpectedAnswer: an answer the contract does not describe (a redirect, a 404,
	// a 2xx whose body is not an Accuse). Marked transient: it says something about
	// the configuration (url) or PRISME's state, not about the message.
	ErrUnexpectedAnswer = errors.New("prisme: unexpected answer")
	// ErrIdempotencyKey: the delivery carries no usable Idempotency-Key (empty, or
	// longer than 128 characters, the contract's limit). Marked permanent; nothing is
	// sent, since PRISME answers 400 to a write without a valid key. Canonical keys
	// always fit (canonical.FactID.IdempotencyKey).
	ErrIdempotencyKey = errors.New("prisme: unusable idempotency key")
	// ErrBodyTooLarge: the request body exceeds the contract's 1 MiB. Marked permanent;
	// nothing is sent, since PRISME would answer 413.
	ErrBodyTooLarge = errors.New("prisme: request body too large")
	// ErrInvalidOptions: Options (or the connector's settings) are unusable; the error
	// lists every problem.
	ErrInvalidOptions = errors.New("prisme: invalid options")
	// ErrProblemTooLarge: a problem details body exceeds MaxProblemBytes.
	ErrProblemTooLarge = errors.New("prisme: problem details too large")
	// ErrBadProblem: a body is not RFC 9457 problem details as PRISME sends them.
	ErrBadProblem = errors.New("prisme: malformed problem details")
	// ErrBadAccuse: a body is not an Accuse with an id and a dossierId.
	ErrBadAccuse = errors.New("prisme: malformed Accuse")
)

// Sentinels of the events source (source.go, events.go). A failed event is a fact with
// its error and stage, quarantined and replayable; it never stops the feed.
var (
	// ErrMalformedEvent: an event of the feed is not the contract's EvenementSortant
	// (not a JSON object, a member of the wrong JSON type, an id that is not a
	// printable identifier). Stage "decode".
	ErrMalformedEvent = errors.New("prisme: malformed event")
	// ErrInvalidEvent: an event lacks a field the canonical message requires, carries
	// an impossible date, or a document whose content does not match its sha256 or
	// taille. Stage "map". The error names the fields by their path in the event,
	// never a value.
	ErrInvalidEvent = errors.New("prisme: invalid event")
	// ErrUnknownEventType: an event of a type the hub does not carry (a later PRISME
	// may add some). Read skips such events, moving the cursor past them; Decode
	// refuses them (permanent).
	ErrUnknownEventType = errors.New("prisme: event type not carried by the hub")
	// ErrPageTooLarge: one event alone is larger than MaxPageBytes, so the feed cannot
	// move past it. Transient: an operator must act (PRISME's side), the cursor stays.
	ErrPageTooLarge = errors.New("prisme: events page too large")
	// ErrInvalidPosition: a position that cannot be one of PRISME's cursors (control
	// characters, longer than MaxCursorBytes). Permanent.
	ErrInvalidPosition = errors.New("prisme: invalid events position")
)

// StatusError is PRISME's answer to a write that did not succeed, reduced to what may
// be logged and kept as a quarantine reason: the status, the problem's title and type,
// and for a 422 the JSON pointers and the rules they break — never the `detail` texts,
// which could echo the data. Its Unwrap gives the class sentinel (ErrRefused,
// ErrUnavailable, ErrUnauthorized or ErrUnexpectedAnswer).
type StatusError struct {
	// Status is the HTTP status PRISME answered.
	Status int
	// Title is the problem's title, sanitised (or the status text when the body was not
	// problem details).
	Title string
	// Type is the last segment of the problem's type URI (e.g. "validation",
	// "cle-deja-utilisee"), sanitised; empty when absent.
	Type string
	// Violations are the 422's errors: where and which rule, never the value.
	Violations []Violation
	// More counts the violations left out of Violations (MaxViolations).
	More int
	// Hint says what an operator should check (401, 403), or is empty.
	Hint string

	class error
}

// Error renders `prisme: 422 Title [type]: /pointer (rule), ... (+N more)`.
func (e *StatusError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "prisme: %d", e.Status)
	if e.Title != "" {
		b.WriteString(" " + e.Title)
	}
	if e.Type != "" {
		b.WriteString(" [" + e.Type + "]")
	}
	for i, v := range e.Violations {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString(", ")
		}
		p := v.Pointer
		if p == "" {
			p = "(document)"
		}
		b.WriteString(p + " (" + v.Rule + ")")
	}
	if e.More > 0 {
		fmt.Fprintf(&b, " (+%d more)", e.More)
	}
	if e.Hint != "" {
		b.WriteString(": " + e.Hint)
	}
	return b.String()
}

// Unwrap returns the class sentinel.
func (e *StatusError) Unwrap() error { return e.class }
