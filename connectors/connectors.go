package connectors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"passerelle/canonical"
	"passerelle/config"
)

// Source is a polled source system.
type Source interface {
	// Read returns the facts after position ("" means from the beginning) and the
	// position after them. It returns an empty batch, without error, when there is
	// nothing new (the pipeline waits before asking again). A transient error (system
	// down, timeout) leaves the position where it was: the pipeline backs off and calls
	// again.
	Read(ctx context.Context, position string) (Batch, error)
}

// Batch is what one Read returns.
type Batch struct {
	Facts []Fact
	// Next is the position after these facts; it is saved with them.
	Next string
}

// Fact is one input from a source: its raw bytes and the canonical messages mapped
// from them, or the error that prevented it.
type Fact struct {
	// Raw is the input as the source sent it, kept in quarantine on failure.
	Raw []byte
	// ContentType of Raw (application/soap+xml, application/json, ...).
	ContentType string
	// Messages are the canonical messages mapped from Raw (not yet validated: the
	// pipeline validates them). Their Subject may be empty: the pipeline resolves it
	// from the person's identifiers.
	Messages []*canonical.Message
	// Decoded, when a source had to decode the messages' data anyway, holds each
	// message's data as jsonstrict.Decode(Messages[i].Data) would return it, so that the
	// pipeline does not decode it a second time. Nil otherwise; it must then be nil or
	// as long as Messages.
	Decoded []any
	// Err is set when Raw could not be decoded or mapped; Stage says which ("decode",
	// "map"). The error text must not carry personal data.
	Err   error
	Stage string
	// Fact is the source's identity of the fact when known, even on failure.
	Fact *canonical.FactID
}

// Decoder turns raw bytes quarantined at the decode or map stage back into messages,
// so that `passerelle replay` can re-inject them after a fix.
type Decoder interface {
	Decode(ctx context.Context, raw []byte, contentType string) ([]*canonical.Message, error)
}

// Sink is a destination system.
type Sink interface {
	// Deliver sends one message. See the package doc for the meaning of its errors.
	Deliver(ctx context.Context, d Delivery) (Receipt, error)
}

// NewestWins is implemented by a Sink whose destination keeps, for each fact, the
// highest version it received as the current one, whatever the order they arrive in:
// PRISME keeps an older version as history, with courant: false, and does not let it
// replace a newer one. When NewestWins returns true the hub may skip a version (its
// outcome is then "superseded") when a newer version of the same fact is already
// waiting for that destination: a backfill then sends each fact's newest version, not
// its whole history. A late older version, from a hub that lost its partition while
// it was retrying, is harmless there. Without it, every version is sent, in order, so
// that such a late retry meets its own idempotency key and is a replay.
type NewestWins interface {
	NewestWins() bool
}

// Delivery is one message to deliver.
type Delivery struct {
	// Message carries only the fields the route's policy allows.
	Message *canonical.Message
	// IdempotencyKey is derived from the source's identity of the fact; the same fact
	// always gets the same key, across retries, replays and restarts.
	IdempotencyKey string
	// Attempt counts from 1.
	Attempt int
}

// Receipt is the destination's acknowledgement.
type Receipt struct {
	// ID is the destination's id of what it stored (a receipt number).
	ID string
	// Detail is the acknowledgement as the destination sent it (JSON), kept with the
	// delivery.
	Detail json.RawMessage
	// Identifiers the destination answered for the person (e.g. PRISME's dossierId),
	// linked to the person in the identities table.
	Identifiers []Identifier
}

// Identifier is one system's identifier of a person.
type Identifier struct {
	System string
	Value  string
}

// Env is what the hub gives a connector instance.
type Env struct {
	// Name is the instance name in the configuration.
	Name string
	// Logger is already named after the instance; never log personal data.
	Logger *zap.Logger
	// Getenv reads the environment (secrets).
	Getenv func(string) string
	// HTTPClient is the base client for outgoing calls (timeouts set).
	HTTPClient *http.Client
}

// Instance is a configured connector: a source, a sink, or both, plus what else it
// offers the hub.
type Instance struct {
	Source  Source
	Sink    Sink
	Decoder Decoder
	// Recipient is who receives what the sink delivers, for the data-protection policy:
	// probation, enforcement, prosecution, prison or other (pipeline/policy).
	Recipient string
	// Serve, when set, makes the instance a push source: the hub calls it once, on a
	// goroutine of its own, after the store, the schemas and the routes are ready, and
	// cancels ctx at shutdown. Serve blocks until ctx ends (then returns nil, having
	// stopped accepting within a few seconds) or it cannot serve (an error, logged by
	// the hub; the rest of the hub keeps running). See Host.
	Serve func(ctx context.Context, host Host) error
	// Close releases the instance's resources.
	Close func() error
}

// Host is what the hub offers a push source (Instance.Serve): a source that does not
// poll but is called — an HTTPS intake, a batch import — and must answer its caller at
// once with what became of each fact.
//
// Its methods are safe for concurrent use and block until PostgreSQL has answered;
// each honours ctx. A push source calls them from as many goroutines as it serves
// requests: the hub serialises what must be (the dedup of one fact, the audit chain).
type Host interface {
	// Accept validates and commits the facts of one push: each message is resolved to
	// its person and validated against its canonical schema, then the accepted ones,
	// the rejected facts (quarantined with their raw bytes), the receipt and the audit
	// rows commit in one PostgreSQL transaction. When Accept returns without error, that
	// transaction has committed: what it calls accepted will be delivered or
	// quarantined with its reason, even if the hub crashes at once. On an error with an
	// empty ReceiptID nothing of the push was committed and the caller may send it
	// again; an error with a ReceiptID means committed, but the receipt could not be
	// read back (Receipt is then empty). The same facts at the
	// same versions pushed again by the same caller give the earlier receipt back
	// (Pushed.Replay), so a caller that lost the answer can simply retry.
	Accept(ctx context.Context, p Push) (Pushed, error)
	// Receipt returns the current state of every message of a receipt. A receipt is
	// read only by the caller that pushed it: an unknown id, or one of another caller,
	// is ErrNoReceipt (the same answer, so that ids cannot be probed).
	Receipt(ctx context.Context, caller, id string) (PushReceipt, error)
	// Audit appends an entry to the hub's audit log for an act of the push source
	// that is not a fact, such as a refused caller or body. The actor is the instance's
	// name. The entry carries references (rules, pointers, a court code, a certificate
	// fingerprint), never a value of the refused input.
	Audit(ctx context.Context, e AuditEntry) error
}

// Push is one call of a push source's caller.
type Push struct {
	// Caller is the authenticated party that pushed (a court code, ...): the only one
	// allowed to read the receipt. Required.
	Caller string
	// Reference is the push's own technical reference for operators (a case number and
	// its transmission), never personal data (so never a file name). Optional.
	Reference string
	// Facts are what was pushed; Fact.Err marks one that could not be decoded or
	// mapped (it is quarantined with its Raw bytes).
	Facts []Fact
}

// Pushed is Accept's answer.
type Pushed struct {
	// ReceiptID identifies the receipt, for Host.Receipt.
	ReceiptID string
	// Replay is true when every fact had already been pushed at the same version by
	// the same caller: ReceiptID is then the earlier receipt, and nothing new was
	// accepted.
	Replay bool
	// Receipt is the receipt's state right after the commit.
	Receipt PushReceipt
}

// Message states in a PushReceipt, in the order a message goes through them.
const (
	// StateAccepted: committed in PostgreSQL (the outbox), not yet on Kafka.
	StateAccepted = "accepted"
	// StateRelayed: published on Kafka, not yet delivered everywhere.
	StateRelayed = "relayed"
	// StateDelivered: every destination acknowledged it (or held a newer version).
	StateDelivered = "delivered"
	// StateQuarantined: refused by validation or by a destination; Reason says why.
	StateQuarantined = "quarantined"
	// StateStale: an older version than the one already recorded: kept in the audit,
	// never sent, never overwriting the newer one. Current names the newer message.
	StateStale = "stale"
	// StateSuperseded: accepted, but a newer version reached every destination first,
	// so this one was not sent.
	StateSuperseded = "superseded"
)

// PushReceipt is what became of each message of one push.
type PushReceipt struct {
	// ID is the receipt id.
	ID string
	// Caller is who pushed.
	Caller string
	// Reference is the push's reference.
	Reference string
	// ReceivedAt is when the push was committed.
	ReceivedAt time.Time
	// Messages are the push's messages in the order of its facts and of their messages.
	Messages []PushMessage
}

// PushMessage is one message of a receipt and where it stands.
type PushMessage struct {
	// Fact is the index of the fact in the push, Index the message's index in it.
	Fact, Index int
	// MessageID is the message's id. For a fact already recorded at that version (a
	// duplicate inside a new push) it is the recorded message's id.
	MessageID string
	// State is one of the State constants.
	State string
	// Current, for StateStale, is the id of the newer message recorded for the fact.
	Current string
	// QuarantineID and Reason are set for StateQuarantined (the reason has no
	// personal data: stages, pointers, rules, statuses).
	QuarantineID int64
	Reason       string
	// Deliveries are the message's outcomes per destination.
	Deliveries []PushDelivery
}

// PushDelivery is one message's outcome at one destination.
type PushDelivery struct {
	// Destination is the sink instance.
	Destination string
	// Status is pending, delivered, superseded or quarantined.
	Status string
	// At is when that status was recorded.
	At time.Time
	// Receipt is the destination's acknowledgement as recorded (JSON; PRISME's carries
	// its id, dossierId and recuLe), for delivered.
	Receipt json.RawMessage
	// Reason is the last error (a transient one while pending, the permanent one when
	// quarantined); no personal data.
	Reason string
	// QuarantineID is set when quarantined.
	QuarantineID int64
}

// AuditEntry is an act of a push source for the audit log (Host.Audit).
type AuditEntry struct {
	// Action is what happened, e.g. "refuse".
	Action string
	// Outcome is its result, e.g. "refused".
	Outcome string
	// Reference says which and why without any value: "tls:expired serial:…",
	// "court:750010 payload-court-mismatch", "rules: /decision/dateDecision: calendar-date".
	Reference string
}

// Spec describes a connector kind to the registry.
type Spec struct {
	// Kind is the name configurations use (connectors.<name>.kind).
	Kind string
	// Summary is one line for `passerelle connectors`.
	Summary string
	// New validates the settings (reporting each problem under path) and builds an
	// instance. It must not contact the external system: start-up must not depend on
	// it being up.
	New func(env Env, settings map[string]any, path string) (*Instance, config.Problems)
}

// Error classes.
var (
	// ErrPermanent marks a failure that retrying cannot fix: the data was refused.
	ErrPermanent = errors.New("permanent")
	// ErrTransient marks a failure worth retrying: the system is down, slow or busy.
	ErrTransient = errors.New("transient")
	// ErrNoReceipt: Host.Receipt knows no receipt of that id for that caller.
	ErrNoReceipt = errors.New("no such receipt")
)

type classified struct {
	class      error
	err        error
	retryAfter time.Duration
}

func (c *classified) Error() string { return c.err.Error() }
func (c *classified) Unwrap() []error {
	return []error{c.class, c.err}
}

// Permanent marks err as permanent: the pipeline quarantines the message with err's
// text as the reason (so it must carry no personal data).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &classified{class: ErrPermanent, err: err}
}

// Transient marks err as transient; retryAfter > 0 is the destination's own request
// (Retry-After) and overrides the backoff.
func Transient(err error, retryAfter time.Duration) error {
	if err == nil {
		return nil
	}
	return &classified{class: ErrTransient, err: err, retryAfter: retryAfter}
}

// IsPermanent reports whether err was marked permanent.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }

// RetryAfter returns the delay a transient error asked for, if any.
func RetryAfter(err error) (time.Duration, bool) {
	var c *classified
	if errors.As(err, &c) && c.retryAfter > 0 {
		return c.retryAfter, true
	}
	return 0, false
}

// Problemf is a shorthand for a one-problem list.
func Problemf(path, format string, args ...any) config.Problems {
	return config.Problems{{Path: path, Message: fmt.Sprintf(format, args...)}}
}
