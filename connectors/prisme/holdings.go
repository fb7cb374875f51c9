package prisme

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"passerelle/canonical"
	"passerelle/connectors"
)

// MaxHoldingsItemBytes bounds one item of a holdings answer (its body is at most the
// contract's MaxBodyBytes): the answer itself, every current item of a kind, is read
// item by item, whatever its size — a national caseload's measures are gigabytes.
const MaxHoldingsItemBytes = 2 * MaxBodyBytes

// holdingsKinds is the item kind of each canonical type PRISME stores.
var holdingsKinds = map[string]string{
	canonical.TypePenalRecord:  "fiches-penales",
	canonical.TypeCustodyEvent: "evenements-detention",
	canonical.TypeJudgment:     "decisions",
	canonical.TypeMeasure:      "mesures",
}

// HoldingSink is the sink when the settings name an inventory (inventoryUrl): it also
// tells reconcile what PRISME holds (connectors.Holdings).
//
// PRISME's contract has no read API: what it holds can only be listed by an export on
// its side. InventoryURL points at such an export, answering GET {InventoryURL}/{kind}
// (fiches-penales, decisions, mesures, evenements-detention) with a JSON object of the
// current items by key, each with the idempotencyKey it was pushed with — the form the
// simulator's /_sim/current/{kind} answers, which the demo and the tests use. Without
// it, reconcile takes PRISME's acknowledgements as what it holds.
type HoldingSink struct {
	*Sink
	inventory string
	http      *http.Client
}

// Holdings calls fn with the idempotency key of every current item of the types PRISME
// holds (connectors.Holdings).
func (h *HoldingSink) Holdings(ctx context.Context, types []string, fn func(key string) error) error {
	for _, t := range types {
		kind, ok := holdingsKinds[t]
		if !ok {
			continue
		}
		if err := h.kind(ctx, kind, fn); err != nil {
			return fmt.Errorf("prisme: holdings of %s: %w", kind, err)
		}
	}
	return nil
}

func (h *HoldingSink) kind(ctx context.Context, kind string, fn func(string) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.inventory+"/"+url.PathEscape(kind), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := h.http.Do(req)
	if err != nil {
		return connectors.Transient(err, 0)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the inventory answered HTTP %d", resp.StatusCode)
	}
	return decodeHoldings(resp.Body, fn)
}

// errHoldingsItemTooLarge is what budgetReader answers beyond an item's budget.
var errHoldingsItemTooLarge = fmt.Errorf("an item of the inventory's answer is larger than %d bytes", MaxHoldingsItemBytes)

// decodeHoldings reads a JSON object of items by key, one item at a time, and calls fn
// with the idempotency key of each (items without one are skipped).
func decodeHoldings(r io.Reader, fn func(string) error) error {
	br := &budgetReader{r: r}
	dec := json.NewDecoder(br)
	notObject := func(err error) error {
		if errors.Is(err, errHoldingsItemTooLarge) {
			return errHoldingsItemTooLarge
		}
		var se *json.SyntaxError
		if err != nil && !errors.As(err, &se) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			return connectors.Transient(err, 0) // the connection failed while reading
		}
		return errors.New("the inventory's answer is not an object of items")
	}
	br.allow(MaxHoldingsItemBytes)
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return notObject(err)
	}
	for dec.More() {
		br.allow(MaxHoldingsItemBytes)
		if _, err := dec.Token(); err != nil { // the item's key
			return notObject(err)
		}
		var it struct {
			IdempotencyKey string `json:"idempotencyKey"`
		}
		if err := dec.Decode(&it); err != nil {
			return notObject(err)
		}
		if it.IdempotencyKey == "" {
			continue
		}
		if err := fn(it.IdempotencyKey); err != nil {
			return err
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return notObject(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("the inventory's answer is not one JSON object")
	}
	return nil
}

// budgetReader reads at most a budget ahead: what one item may take of the decoder's
// buffer.
type budgetReader struct {
	r           io.Reader
	read, limit int64
}

// allow lets n more bytes be read from now on.
func (b *budgetReader) allow(n int64) { b.limit = b.read + n }

func (b *budgetReader) Read(p []byte) (int, error) {
	room := b.limit - b.read
	if room <= 0 {
		return 0, errHoldingsItemTooLarge
	}
	if int64(len(p)) > room {
		p = p[:room]
	}
	n, err := b.r.Read(p)
	b.read += int64(n)
	return n, err
}

// newHoldingSink wraps s with the inventory at base (checked by the caller).
func newHoldingSink(s *Sink, base string, timeout time.Duration) *HoldingSink {
	return &HoldingSink{Sink: s, inventory: strings.TrimRight(base, "/"), http: &http.Client{Timeout: 10 * timeout}}
}
