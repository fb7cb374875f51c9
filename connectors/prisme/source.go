package prisme

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"go.uber.org/zap"

	"passerelle/canonical"
	"passerelle/config"
	"passerelle/connectors"
)

// ScopeLecture is the OAuth scope of PRISME's events feed (flux.lecture).
const ScopeLecture = "flux.lecture"

// PathEvenements is PRISME's outgoing events feed.
const PathEvenements = "/api/v1/evenements"

// Page sizes of the events feed (the contract's `limite`).
const (
	// DefaultPageSize is the events asked per Read when the settings name none (the
	// contract's default).
	DefaultPageSize = 100
	// MaxPageSize is the contract's largest `limite`.
	MaxPageSize = 500
)

// MaxPageBytes bounds one answer of the events feed (64 MiB): a report carries its
// document. A larger page is asked again with half the events, down to one.
const MaxPageBytes = 64 << 20

// MaxCursorBytes bounds a cursor: PRISME's are opaque, short strings.
const MaxCursorBytes = 1024

// SourceOptions configure a Source beyond the connection Options.
type SourceOptions struct {
	// PageSize is the `limite` of each Read, 1..MaxPageSize. Default DefaultPageSize.
	PageSize int
	// MaxPageBytes bounds one answer. Default MaxPageBytes.
	MaxPageBytes int64
}

// Source reads PRISME's outgoing events (connectors.Source) and decodes quarantined
// events again for replay (connectors.Decoder). Its token has the scope flux.lecture
// only, whatever Options.Scopes says: it cannot write into PRISME. Read is never
// called concurrently by the pipeline; Decode is safe for concurrent use.
type Source struct {
	c        *client
	pageSize int
	maxBytes int64
	log      *zap.Logger
}

// NewSource returns a source reading PRISME's events feed with o's URL, client
// credentials, timeout and transport (o.Scopes is not used: the source asks for
// ScopeLecture). It validates o and so, and contacts nobody.
func NewSource(o Options, so SourceOptions) (*Source, error) {
	o = o.withDefaults()
	var ps config.Problems
	o.problems("prisme", &ps, true)
	so.problems("prisme.events", &ps)
	if len(ps) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOptions, ps.Err())
	}
	return newSource(newClient(o, o.Logger).withScopes([]string{ScopeLecture}), so, o.Logger), nil
}

// newSource builds a source on c (already asking for ScopeLecture).
func newSource(c *client, so SourceOptions, log *zap.Logger) *Source {
	if so.PageSize == 0 {
		so.PageSize = DefaultPageSize
	}
	if so.MaxPageBytes == 0 {
		so.MaxPageBytes = MaxPageBytes
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Source{c: c, pageSize: so.PageSize, maxBytes: so.MaxPageBytes, log: log}
}

// problems adds every problem of so under path.
func (so SourceOptions) problems(path string, ps *config.Problems) {
	if so.PageSize < 0 || so.PageSize > MaxPageSize {
		ps.Add(path+".pageSize", "must be between 1 and %d (PRISME's largest limite)", MaxPageSize)
	}
	if so.MaxPageBytes < 0 {
		ps.Add(path+".maxPageBytes", "must not be negative")
	}
}

// Close releases the source's idle connections.
func (s *Source) Close() error {
	s.c.close()
	return nil
}

// checkCursor refuses what cannot be a PRISME cursor: control characters, invalid
// UTF-8, more than MaxCursorBytes.
func checkCursor(c string) error {
	if len(c) > MaxCursorBytes || sanitize(c, MaxCursorBytes) != c {
		return fmt.Errorf("%w: %d bytes, at most %d printable ones", ErrInvalidPosition, len(c), MaxCursorBytes)
	}
	return nil
}

// Read returns the events after position — PRISME's cursor of the last event
// processed, "" for the start of the feed — as facts, and Next, the cursor of the last
// event the batch covers. One GET (plus one with a fresh token after a 401
// invalid_token, and fewer events when the page is above MaxPageBytes).
//
//   - A DESSAISISSEMENT is a case transfer, a RAPPORT_VALIDE a report, each one fact
//     (EventFact: PRISME, evenement/<id>, version 0) whose Raw is the event re-encoded
//     without its interview notes.
//   - An event of another type (a later PRISME may add some) is skipped with a debug
//     log (its id and type, when they are identifiers) and the cursor moves past it.
//   - A malformed event is a fact with Err and Stage ("decode" or "map"), its id as
//     identity when it has a usable one: quarantined, replayable, and the page goes on.
//   - Repeats are skipped: the events of a page up to the one whose cursor is position
//     (PRISME serving a page again), and a second copy of an id in the page.
//   - An event without a usable cursor is covered by the next event that has one; at
//     the end of a page it waits for the next Read (nothing is lost, nothing skipped).
//   - PRISME unavailable (429, 5xx, a timeout, the network), the hub's credentials
//     refused, an answer that is not a page: an error, classified transient (with
//     Retry-After when PRISME sent one), and no facts: the position stays. A 400 (a
//     cursor PRISME does not know) is permanent ErrRefused; the pipeline keeps trying
//     and logs it, and an operator must look.
//   - ctx ending: ctx's error and no fact.
func (s *Source) Read(ctx context.Context, position string) (connectors.Batch, error) {
	if err := checkCursor(position); err != nil {
		return connectors.Batch{}, connectors.Permanent(err)
	}
	if err := ctx.Err(); err != nil {
		return connectors.Batch{}, err
	}
	body, err := s.fetch(ctx, position)
	if err != nil {
		if ctx.Err() != nil {
			return connectors.Batch{}, ctx.Err()
		}
		return connectors.Batch{}, fmt.Errorf("prisme: read events %s: %w", after(position), err)
	}
	p, err := decodePage(body, position)
	if err != nil {
		return connectors.Batch{}, connectors.Transient(fmt.Errorf("%w: events %s: %w", ErrUnexpectedAnswer, after(position), err), 0)
	}
	for _, u := range p.unknown {
		s.log.Debug("prisme event of a type the hub does not carry: skipped",
			zap.String("event_id", u.id), zap.String("event_type", u.typ))
	}
	if p.repeats > 0 {
		s.log.Debug("prisme events already read: skipped", zap.Int("count", p.repeats))
	}
	if p.waiting > 0 {
		s.log.Debug("prisme events without a cursor at the end of the page: read again next time", zap.Int("count", p.waiting))
	}
	return p.batch, nil
}

// after describes a position for an error text.
func after(position string) string {
	if position == "" {
		return "from the start"
	}
	return "after cursor " + strconv.Quote(sanitize(position, 64))
}

// fetch GETs one page after position, halving the page while the answer is too large.
func (s *Source) fetch(ctx context.Context, position string) ([]byte, error) {
	limite := s.pageSize
	for {
		q := url.Values{"limite": {strconv.Itoa(limite)}}
		if position != "" {
			q.Set("apres", position)
		}
		a, err := s.c.get(ctx, PathEvenements, q, s.maxBytes)
		if errors.Is(err, errAnswerTooLarge) {
			if limite > 1 && a.status == http.StatusOK {
				limite = max(1, limite/2)
				continue
			}
			return nil, connectors.Transient(fmt.Errorf("%w: %d answered with more than %d bytes for %d event(s)",
				ErrPageTooLarge, a.status, s.maxBytes, limite), 0)
		}
		if err != nil {
			return nil, err
		}
		if a.status == http.StatusOK {
			return a.body, nil
		}
		return nil, feedError(a)
	}
}

// feedError classifies a feed answer other than 200.
func feedError(a answer) error {
	switch s := a.status; {
	case s == http.StatusBadRequest:
		return connectors.Permanent(statusError(s, a.body, ErrRefused))
	case s == http.StatusTooManyRequests, s >= 500:
		return connectors.Transient(statusError(s, a.body, ErrUnavailable), retryAfter(a.header))
	case s == http.StatusUnauthorized:
		e := statusError(s, a.body, ErrUnauthorized)
		e.Hint = "PRISME refused the hub's token, a fresh one included: check clientId and clientSecret"
		return connectors.Transient(e, 0)
	case s == http.StatusForbidden:
		e := statusError(s, a.body, ErrUnauthorized)
		e.Hint = "the token lacks the scope " + ScopeLecture + ": check the client's grant in PRISME"
		return connectors.Transient(e, 0)
	default:
		return connectors.Transient(statusError(s, a.body, ErrUnexpectedAnswer), retryAfter(a.header))
	}
}

// skippedEvent is an event of a type the hub does not carry.
type skippedEvent struct{ id, typ string }

// page is what decodePage makes of one answer.
type page struct {
	batch   connectors.Batch
	unknown []skippedEvent
	repeats int
	waiting int // events after the last usable cursor, left for the next Read
}

// decodePage turns one answer of the feed, read from position, into a batch (see
// Read). Only an answer that is not a page at all is an error.
func decodePage(body []byte, position string) (page, error) {
	var wire struct {
		Evenements *[]json.RawMessage `json:"evenements"`
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return page{}, errors.New("the answer is not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&wire); err != nil {
		return page{}, fmt.Errorf("the answer is not a page: %s", jsonErrorKind(err))
	}
	if dec.More() {
		return page{}, errors.New("more than one JSON document")
	}
	if wire.Evenements == nil {
		return page{}, errors.New("the answer has no evenements array")
	}
	events := *wire.Evenements
	headers := make([]eventHeader, len(events))
	start := 0
	for i, raw := range events {
		headers[i] = headerOf(raw)
		if position != "" && headers[i].cursor == position {
			start = i + 1 // PRISME served this page again: what precedes was read
		}
	}
	p := page{batch: connectors.Batch{Next: position}, repeats: start}
	var pending []connectors.Fact
	seen := map[string]bool{}
	withCursor := false
	for i := start; i < len(events); i++ {
		h := headers[i]
		switch {
		case h.id != "" && seen[h.id]:
			p.repeats++
		case h.hasTyp && h.typ != "" && !carried(h.typ):
			p.unknown = append(p.unknown, skippedEvent{id: h.id, typ: typeLabel(h.typ)})
		default:
			pending = append(pending, factOf(events[i], h))
		}
		if h.id != "" {
			seen[h.id] = true
		}
		if h.cursor != "" {
			withCursor = true
			p.batch.Facts = append(p.batch.Facts, pending...)
			pending = pending[:0]
			p.batch.Next = h.cursor
		}
	}
	p.waiting = len(pending)
	if len(events) > start && !withCursor {
		return page{}, fmt.Errorf("%d event(s) and not one usable cursor: the feed cannot move on", len(events)-start)
	}
	return p, nil
}

// typeLabel is a type fit for a log: the contract's types are upper-case codes.
func typeLabel(t string) string {
	if len(t) > 64 {
		return "(not a type code)"
	}
	for _, r := range t {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '_' {
			return "(not a type code)"
		}
	}
	return t
}

// factOf makes the fact of one event: its raw scrubbed of the notes, then decoded and
// mapped, or the error and stage.
func factOf(raw []byte, h eventHeader) connectors.Fact {
	f := connectors.Fact{ContentType: ContentTypeEvent}
	if h.id != "" {
		id := EventFact(h.id)
		f.Fact = &id
	}
	scrubbed, err := ScrubEvent(raw)
	if err != nil {
		// Cannot happen for an event of a page that decoded; keep no byte of it, since
		// the notes could not be taken out.
		f.Raw = []byte(`{"illisible":true}`)
		f.Err, f.Stage = connectors.Permanent(fmt.Errorf("%w: event %s: cannot be re-encoded without its notes", ErrMalformedEvent, h.id)), "decode"
		return f
	}
	f.Raw = scrubbed
	m, err := DecodeEvent(scrubbed)
	switch {
	case err == nil:
		f.Messages = []*canonical.Message{m}
	case errors.Is(err, ErrMalformedEvent):
		f.Err, f.Stage = err, "decode"
	default:
		f.Err, f.Stage = err, "map"
	}
	return f
}

// Decode turns a quarantined event back into its message (connectors.Decoder), for
// `passerelle replay`: the same event, scrubbed again of any notes, mapped by the
// current code. It does not call PRISME. Its errors are permanent.
func (s *Source) Decode(_ context.Context, raw []byte, _ string) ([]*canonical.Message, error) {
	scrubbed, err := ScrubEvent(raw)
	if err != nil {
		return nil, connectors.Permanent(fmt.Errorf("%w: replay: not one JSON value", ErrMalformedEvent))
	}
	m, err := DecodeEvent(scrubbed)
	if err != nil {
		return nil, fmt.Errorf("prisme: replay: %w", err)
	}
	return []*canonical.Message{m}, nil
}
