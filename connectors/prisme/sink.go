package prisme

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"passerelle/canonical"
	"passerelle/config"
	"passerelle/connectors"
)

// MaxBodyBytes is the contract's limit on a request body (1 MiB); PRISME answers 413
// above it, so the sink does not send such a body.
const MaxBodyBytes = 1 << 20

// maxIdempotencyKeyChars is the contract's limit on an Idempotency-Key, in characters.
const maxIdempotencyKeyChars = 128

// Accuse is PRISME's acknowledgement of receipt (accusé de réception), the body of a
// 201 (stored) or of a 200 (the replay of an earlier request with the same key).
type Accuse struct {
	// ID is PRISME's id of the stored item.
	ID string `json:"id"`
	// DossierID is the PRISME file the item was attached to; it never changes.
	DossierID string `json:"dossierId"`
	// RecuLe is when PRISME received the item (zero when absent or unreadable).
	RecuLe time.Time `json:"recuLe"`
	// Courant is false when PRISME already held a newer version: the item is kept as
	// history only.
	Courant bool `json:"courant"`
}

// DecodeAccuse decodes an Accuse. It requires an id and a dossierId (what the hub
// records); recuLe and courant are read when present and readable, never required, so
// that a success PRISME answered is never turned into a failure by a detail.
func DecodeAccuse(body []byte) (Accuse, error) {
	var raw struct {
		ID        *string `json:"id"`
		DossierID *string `json:"dossierId"`
		RecuLe    any     `json:"recuLe"`
		Courant   any     `json:"courant"`
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return Accuse{}, fmt.Errorf("%w: not a JSON object", ErrBadAccuse)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil {
		return Accuse{}, fmt.Errorf("%w: %s", ErrBadAccuse, jsonErrorKind(err))
	}
	if dec.More() {
		return Accuse{}, fmt.Errorf("%w: more than one JSON document", ErrBadAccuse)
	}
	var a Accuse
	for _, f := range []struct {
		name string
		v    *string
		out  *string
	}{{"id", raw.ID, &a.ID}, {"dossierId", raw.DossierID, &a.DossierID}} {
		switch {
		case f.v == nil || *f.v == "":
			return Accuse{}, fmt.Errorf("%w: %s missing", ErrBadAccuse, f.name)
		case len(*f.v) > 256 || sanitize(*f.v, 256) != *f.v:
			return Accuse{}, fmt.Errorf("%w: %s is not a printable identifier of at most 256 bytes", ErrBadAccuse, f.name)
		}
		*f.out = *f.v
	}
	if s, ok := raw.RecuLe.(string); ok {
		a.RecuLe, _ = time.Parse(time.RFC3339Nano, s)
	}
	a.Courant, _ = raw.Courant.(bool)
	return a, nil
}

// Sink delivers canonical messages to PRISME's write endpoints. It is safe for
// concurrent use; see the package doc for what each answer becomes.
type Sink struct {
	c *client
}

// NewSink returns a sink configured by o. It validates o and contacts nobody: the
// first token is requested by the first Deliver.
func NewSink(o Options) (*Sink, error) {
	o = o.withDefaults()
	var ps config.Problems
	o.problems("prisme", &ps, true)
	if len(ps) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOptions, ps.Err())
	}
	return &Sink{c: newClient(o, o.Logger)}, nil
}

// Close releases the sink's idle connections. A Deliver afterwards opens new ones.
func (s *Sink) Close() error {
	s.c.close()
	return nil
}

// NewestWins is true: PRISME keeps the highest version of a fiche, measure or decision
// as current and an older one as history (contract "Newest wins"), so the hub may skip
// a version whose newer one is already waiting.
func (s *Sink) NewestWins() bool { return true }

// Deliver sends one message to PRISME: one attempt (see the package doc). A message
// PRISME has no counterpart for is a success with an empty receipt ID and a Detail
// saying why it was skipped; nothing is sent.
func (s *Sink) Deliver(ctx context.Context, d connectors.Delivery) (connectors.Receipt, error) {
	endpoint, body, err := Encode(d.Message)
	switch {
	case errors.Is(err, ErrNotForPrisme):
		return skipped(err), nil
	case err != nil:
		return connectors.Receipt{}, err
	}
	if err := checkKey(d.IdempotencyKey); err != nil {
		return connectors.Receipt{}, connectors.Permanent(err)
	}
	a, err := s.c.post(ctx, endpoint, d.IdempotencyKey, d.Message.ID, body)
	if err != nil {
		return connectors.Receipt{}, err
	}
	return receiptOf(endpoint, a)
}

// checkKey accepts 1 to 128 characters of valid UTF-8 without control characters (an
// HTTP header value cannot carry them).
func checkKey(key string) error {
	n := utf8.RuneCountInString(key)
	if n == 0 || n > maxIdempotencyKeyChars || !utf8.ValidString(key) ||
		strings.ContainsFunc(key, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("%w: %d characters, 1 to %d printable ones expected", ErrIdempotencyKey, n, maxIdempotencyKeyChars)
	}
	return nil
}

// Encode returns the endpoint and the JSON request body of a canonical message
// (BodyFor, then encoding). The mapper's errors come back as they are (ErrNotForPrisme
// unmarked, the others permanent); a body above MaxBodyBytes is a permanent
// ErrBodyTooLarge.
func Encode(m *canonical.Message) (endpoint string, body []byte, err error) {
	endpoint, v, err := BodyFor(m)
	if err != nil {
		if errors.Is(err, ErrNotForPrisme) || connectors.IsPermanent(err) {
			return "", nil, err
		}
		// A mapping is a pure function of the message: what failed once fails again.
		return "", nil, connectors.Permanent(err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", nil, connectors.Permanent(fmt.Errorf("prisme: encode %s body: %w", endpoint, err))
	}
	body = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(body) > MaxBodyBytes {
		return "", nil, connectors.Permanent(fmt.Errorf("%w: %s body of %d bytes, at most %d", ErrBodyTooLarge, endpoint, len(body), MaxBodyBytes))
	}
	return endpoint, body, nil
}

// skipped is the receipt of a message with nothing to send to PRISME: delivered, with
// no PRISME id, and the reason (a type or a custody-event kind, never data) as Detail.
func skipped(reason error) connectors.Receipt {
	detail, _ := json.Marshal(map[string]string{"skipped": reason.Error()})
	return connectors.Receipt{Detail: detail}
}

// receiptOf turns PRISME's answer into a receipt, or a classified error:
//
//	200, 201 (any 2xx)          delivered: the Accuse's id, the Accuse, the dossierId
//	400, 409, 413, 415, 422     permanent ErrRefused (the request's content was refused)
//	429, 503, other 5xx         transient ErrUnavailable, with Retry-After
//	401 (after a fresh token)   transient ErrUnauthorized (the hub's credentials)
//	403                         transient ErrUnauthorized (the token's scope)
//	anything else               transient ErrUnexpectedAnswer
func receiptOf(endpoint string, a answer) (connectors.Receipt, error) {
	switch s := a.status; {
	case s >= 200 && s < 300:
		acc, err := DecodeAccuse(a.body)
		if err != nil {
			// PRISME may well have stored the item: a retry with the same key gets the
			// Accuse again (200). Never quarantine what PRISME accepted.
			return connectors.Receipt{}, connectors.Transient(fmt.Errorf("%w: %d from %s: %w", ErrUnexpectedAnswer, s, endpoint, err), 0)
		}
		var detail bytes.Buffer
		if err := json.Compact(&detail, a.body); err != nil {
			return connectors.Receipt{}, connectors.Transient(fmt.Errorf("%w: %d from %s: %w", ErrUnexpectedAnswer, s, endpoint, ErrBadAccuse), 0)
		}
		return connectors.Receipt{ID: acc.ID, Detail: detail.Bytes(),
			Identifiers: []connectors.Identifier{{System: canonical.SystemPrisme, Value: acc.DossierID}}}, nil
	case s == http.StatusBadRequest, s == http.StatusConflict, s == http.StatusRequestEntityTooLarge,
		s == http.StatusUnsupportedMediaType, s == http.StatusUnprocessableEntity:
		return connectors.Receipt{}, connectors.Permanent(statusError(s, a.body, ErrRefused))
	case s == http.StatusTooManyRequests, s >= 500:
		return connectors.Receipt{}, connectors.Transient(statusError(s, a.body, ErrUnavailable), retryAfter(a.header))
	case s == http.StatusUnauthorized:
		e := statusError(s, a.body, ErrUnauthorized)
		e.Hint = "PRISME refused the hub's token, a fresh one included: check clientId and clientSecret; " +
			"retried as an outage, not quarantined"
		return connectors.Receipt{}, connectors.Transient(e, 0)
	case s == http.StatusForbidden:
		e := statusError(s, a.body, ErrUnauthorized)
		e.Hint = "the token lacks this endpoint's scope: check scopes and the client's grant in PRISME; " +
			"retried as an outage, not quarantined"
		return connectors.Receipt{}, connectors.Transient(e, 0)
	default:
		return connectors.Receipt{}, connectors.Transient(statusError(s, a.body, ErrUnexpectedAnswer), retryAfter(a.header))
	}
}
