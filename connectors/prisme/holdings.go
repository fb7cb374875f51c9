package prisme

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"passerelle/canonical"
	"passerelle/connectors"
)

// MaxHoldingsBytes bounds one holdings answer (every current item of a kind).
const MaxHoldingsBytes = 512 << 20

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
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxHoldingsBytes+1))
	if err != nil {
		return connectors.Transient(err, 0)
	}
	if len(body) > MaxHoldingsBytes {
		return fmt.Errorf("the inventory's answer is larger than %d bytes", MaxHoldingsBytes)
	}
	var items map[string]struct {
		IdempotencyKey string `json:"idempotencyKey"`
	}
	if err := json.Unmarshal(body, &items); err != nil {
		return fmt.Errorf("the inventory's answer is not an object of items: %w", err)
	}
	for _, it := range items {
		if it.IdempotencyKey == "" {
			continue
		}
		if err := fn(it.IdempotencyKey); err != nil {
			return err
		}
	}
	return nil
}

// newHoldingSink wraps s with the inventory at base (checked by the caller).
func newHoldingSink(s *Sink, base string, timeout time.Duration) *HoldingSink {
	return &HoldingSink{Sink: s, inventory: strings.TrimRight(base, "/"), http: &http.Client{Timeout: 10 * timeout}}
}
