package pipeline

import (
	"context"
	"fmt"
	"sort"

	"passerelle/canonical"
	"passerelle/connectors"
	"passerelle/pipeline/store"
)

// Reconciliation classes: what became of a fact the source holds, at one destination.
const (
	// ClassOK: the destination acknowledged the source's newest version (and holds it,
	// when the destination can say).
	ClassOK = "ok"
	// ClassMissing: the destination has no version of the fact — the hub never
	// accepted it, never delivered it, or the destination lost it after acknowledging.
	ClassMissing = "missing"
	// ClassStale: the destination has an older version than the source's newest.
	ClassStale = "stale"
	// ClassPending: the newest version is on its way (accepted, delivery pending).
	ClassPending = "pending"
	// ClassQuarantined: the newest version is in quarantine, with its reason.
	ClassQuarantined = "quarantined"
	// ClassExtra: the destination has a fact the source no longer holds.
	ClassExtra = "extra"
)

// Reconciler compares what a source holds with what a destination acknowledged and,
// when its sink can say, what the destination holds: person by person and fact by
// fact, the proof that nothing was lost, run before and after a data takeover.
type Reconciler struct {
	Store *store.Store
	// Source and Destination are connector instance names.
	Source, Destination string
	// Inventory lists what the source holds now; nil means the source cannot say,
	// and the facts the hub accepted from it stand for it (then a fact the hub never
	// saw cannot be found missing).
	Inventory connectors.Inventory
	// Holdings lists what the destination holds now; nil means the destination cannot
	// say, and its acknowledgements stand for it.
	Holdings connectors.Holdings
	// Types are the canonical types the routes from Source to Destination carry
	// (CloudEvents types), for Holdings.
	Types []string
	// PageSize is how many of the rows Inventory and Holdings list are written to
	// PostgreSQL at once, where they are merged with the hub's records. Default
	// store.DefaultReconcilePage.
	PageSize int
}

// FactReport is the reconciliation of one fact.
type FactReport struct {
	System string `json:"system"`
	Ref    string `json:"ref"`
	Class  string `json:"class"`
	Source int64  `json:"sourceVersion"` // -1: the source does not hold it
	Hub    int64  `json:"hubVersion"`    // newest accepted; -1: never accepted
	Acked  int64  `json:"ackedVersion"`  // newest acknowledged by the destination; -1: none
	Held   *int64 `json:"heldVersion"`   // what the destination holds, when it can say (-1: nothing)
	Reason string `json:"reason"`        // why it is not ok (no personal data)
	Replay string `json:"replayKey"`     // the idempotency key --replay re-sends, if any
	// QuarantineID is the open quarantine item of a quarantined fact, when known.
	QuarantineID int64 `json:"quarantineId"`
}

// Reconciliation is the outcome of Run.
type Reconciliation struct {
	Source, Destination string
	// SourceInventory and DestinationHoldings say whether the systems themselves were
	// asked (else the hub's records stood for them).
	SourceInventory, DestinationHoldings bool
	Counts                               map[string]int
	// Facts are the facts that are not ok, sorted by reference.
	Facts []FactReport
	// OK counts the facts that are.
	OK int
}

// Clean reports whether nothing is missing, stale, pending or quarantined.
func (r *Reconciliation) Clean() bool {
	return r.Counts[ClassMissing]+r.Counts[ClassStale]+r.Counts[ClassPending]+r.Counts[ClassQuarantined] == 0
}

// Gaps returns the idempotency keys --replay re-sends: facts the destination
// acknowledged but no longer holds (missing or stale there).
func (r *Reconciliation) Gaps() []string {
	var keys []string
	for _, f := range r.Facts {
		if f.Replay != "" {
			keys = append(keys, f.Replay)
		}
	}
	return keys
}

// reconView is what is known of one fact while its records are read.
type reconView struct {
	system, ref              string
	source, hub, acked, held int64
	heldKnown                bool
	pending                  bool
	quarantine               string
	quarantineID             int64
	ackedKey                 string
}

// Run reconciles. It streams: the hub's records, what the source holds and what the
// destination holds are merged fact by fact in PostgreSQL (store.FactRecords), and only
// the facts that are not ok are kept, so that its memory does not grow with the
// caseload.
func (rc *Reconciler) Run(ctx context.Context) (*Reconciliation, error) {
	out := &Reconciliation{Source: rc.Source, Destination: rc.Destination, Counts: map[string]int{},
		SourceInventory: rc.Inventory != nil, DestinationHoldings: rc.Holdings != nil}
	in := store.ReconcileInput{Connector: rc.Source, Destination: rc.Destination, PageSize: rc.PageSize}
	var sourceErr, holdingsErr error
	if rc.Inventory != nil {
		in.Source = func(add func(system, ref string, version int64) error) error {
			sourceErr = rc.Inventory.Inventory(ctx, func(f canonical.FactID) error { return add(f.System, f.Ref, f.Version) })
			return sourceErr
		}
	}
	if rc.Holdings != nil {
		in.Held = func(add func(key string) error) error {
			holdingsErr = rc.Holdings.Holdings(ctx, rc.Types, add)
			return holdingsErr
		}
	}
	var v *reconView
	settle := func() {
		if v != nil {
			rc.settle(out, v)
		}
	}
	err := rc.Store.FactRecords(ctx, in, func(r store.FactRecord) error {
		if v == nil || v.system != r.System || v.ref != r.Ref {
			settle()
			v = &reconView{system: r.System, ref: r.Ref, source: -1, hub: -1, acked: -1, held: -1,
				heldKnown: rc.Holdings != nil}
		}
		switch r.Kind {
		case store.RecordAccepted:
			v.hub = r.Version
			if rc.Inventory == nil {
				v.source = r.Version
			}
		case store.RecordSource:
			v.source = max(v.source, r.Version)
		case store.RecordDelivery:
			switch r.Status {
			case store.StatusDelivered:
				if r.Version > v.acked {
					v.acked, v.ackedKey = r.Version, r.IdempotencyKey
				}
				if r.Held {
					v.held = max(v.held, r.Version)
				}
			case store.StatusPending:
				if r.Version >= v.hub {
					v.pending = true
				}
			case store.StatusQuarantined:
				if r.Version >= v.hub {
					v.quarantine = "delivery refused: " + r.LastError
				}
			}
		case store.RecordQuarantine:
			if r.Version >= v.hub {
				v.quarantine, v.quarantineID = "refused at "+r.Stage+": "+r.Reason, r.QuarantineID
			}
		}
		return nil
	})
	switch {
	case sourceErr != nil:
		return nil, fmt.Errorf("reconcile: inventory of %s: %w", rc.Source, sourceErr)
	case holdingsErr != nil:
		return nil, fmt.Errorf("reconcile: holdings of %s: %w", rc.Destination, holdingsErr)
	case err != nil:
		return nil, err
	}
	settle()
	// FactRecords gives facts in byte order already; kept sorted whatever the store does.
	sort.SliceStable(out.Facts, func(i, j int) bool {
		if out.Facts[i].System != out.Facts[j].System {
			return out.Facts[i].System < out.Facts[j].System
		}
		return out.Facts[i].Ref < out.Facts[j].Ref
	})
	return out, nil
}

// settle classifies the fact v, once all its records are read, into out.
func (rc *Reconciler) settle(out *Reconciliation, v *reconView) {
	r := FactReport{System: v.system, Ref: v.ref, Source: v.source, Hub: v.hub, Acked: v.acked, QuarantineID: v.quarantineID}
	if v.heldKnown {
		h := v.held
		r.Held = &h
	}
	r.Class, r.Reason = classify(v)
	if (r.Class == ClassMissing || r.Class == ClassStale) && v.heldKnown && v.acked >= 0 && v.held < v.acked {
		r.Replay = v.ackedKey // acknowledged, then lost by the destination: the hub can send it again
	}
	if r.Class == ClassOK {
		out.OK++
	} else {
		out.Facts = append(out.Facts, r)
	}
	out.Counts[r.Class]++
}

// classify says what became of one fact.
func classify(v *reconView) (class, reason string) {
	delivered := v.acked
	if v.heldKnown {
		delivered = v.held
	}
	switch {
	case v.source < 0 && (delivered >= 0 || v.acked >= 0):
		return ClassExtra, "the destination has it; the source no longer does"
	case v.source < 0:
		return ClassOK, "" // neither holds it (e.g. a fact the source deleted before delivery)
	case delivered >= v.source:
		return ClassOK, ""
	case v.quarantine != "":
		return ClassQuarantined, v.quarantine
	case v.hub < v.source:
		if v.hub < 0 {
			return ClassMissing, "the hub never received it from the source"
		}
		return staleOrMissing(delivered), "the hub never received the source's newest version"
	case v.pending:
		return ClassPending, "on its way: delivery pending"
	case v.heldKnown && v.acked >= v.source:
		return staleOrMissing(delivered), "acknowledged by the destination, which no longer holds it"
	default:
		return staleOrMissing(delivered), "accepted by the hub, not acknowledged by the destination"
	}
}

func staleOrMissing(delivered int64) string {
	if delivered >= 0 {
		return ClassStale
	}
	return ClassMissing
}
