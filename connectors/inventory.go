package connectors

import (
	"context"

	"passerelle/canonical"
)

// Inventory is implemented by a source that can list what it holds now, so that
// `passerelle reconcile` can compare it with what the destinations acknowledged — the
// proof, before and after a data takeover, that nothing was lost.
type Inventory interface {
	// Inventory calls fn once for each fact the source holds now, at its newest
	// version, in any order, and stops at fn's first error. It reads the source
	// system, not the hub; it may take minutes on a national caseload and must
	// honour ctx.
	Inventory(ctx context.Context, fn func(canonical.FactID) error) error
}

// Holdings is implemented by a sink that can say what its destination holds now, by
// the idempotency keys the hub delivered with (PRISME keeps each item's key, APPI keeps
// it as reference_externe). reconcile uses it to find what the destination lost after
// acknowledging it (a restore from an older backup, a manual deletion).
type Holdings interface {
	// Holdings calls fn once for each idempotency key under which the destination
	// holds a current item of the canonical types given (CloudEvents types), in any
	// order, and stops at fn's first error.
	Holdings(ctx context.Context, types []string, fn func(key string) error) error
}
