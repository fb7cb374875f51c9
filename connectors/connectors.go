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
	// Close releases the instance's resources.
	Close func() error
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
