package pipeline

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"passerelle/canonical"
	"passerelle/connectors"
	"passerelle/internal/jsonstrict"
	"passerelle/pipeline/store"
	"passerelle/schemas"
)

// MaxRectificationReason bounds the reason an operator gives a rectification: a
// reference to the request (a letter, a ticket), kept in the audit.
const MaxRectificationReason = 200

// RectifyRequest is an operator's rectification of a fact (Directive (UE) 2016/680,
// art. 16): the corrected canonical data of the fact a message carried.
type RectifyRequest struct {
	// Message is an accepted message of the fact: its newest version.
	Message uuid.UUID
	// FactSystem and FactRef name the fact instead of Message.
	FactSystem, FactRef string
	// Data is the corrected canonical data (the CloudEvent's data), whole.
	Data []byte
	// Reason is the request's reference, for the audit: no personal data.
	Reason string
	// Actor is the operator, for the audit ("operator:alice").
	Actor string
}

// Rectified says what became of a rectification.
type Rectified struct {
	Message  *canonical.Message // the corrected version as ingested
	Previous store.FactMessage  // the version it corrects
	Outcome  store.Outcome      // accepted, or duplicate when the data is the same
	// Held is true when the person's facts wait for an identity review.
	Held bool
	// Recipients are the destinations that received an older version, with the newest
	// they acknowledged: each is owed the correction (subject rectifications).
	Recipients map[string]int64
	// Targets are the destinations the corrected version goes to (its routes).
	Targets []string
}

// RectificationError is a rectification refused before anything was recorded; its
// violations name each field and rule.
type RectificationError struct {
	Msg        string
	Violations []schemas.Violation
}

func (e *RectificationError) Error() string {
	if len(e.Violations) == 0 {
		return e.Msg
	}
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.String()
	}
	return e.Msg + ": " + strings.Join(parts, "; ")
}

// Rectify records an operator's rectification: the corrected data becomes a new
// version of the same fact (the newest accepted version + 1), about the same person,
// from the same source, validated against its schema (an invalid one is refused with
// every field and rule, nothing recorded), and ingested through the ordinary path
// with the operator as actor: dedup, the outbox, Kafka, each route's policy and
// delivery apply as to any source's correction, so it reaches every destination its
// routes name, among them every one that received the old version (one no route names
// any more is listed by `subject rectifications` as not-routed). The ingest and an
// audit row of the rectification (the operator, the version corrected, the reason)
// commit together.
//
// The new version takes a number of the fact's own numbering: if the source itself
// later sends that same version number with another content, that version conflicts
// and is quarantined with its reason, as any repeated version; its next one goes on.
func (in *Ingester) Rectify(ctx context.Context, req RectifyRequest) (Rectified, error) {
	var out Rectified
	reason := strings.TrimSpace(req.Reason)
	switch {
	case reason == "":
		return out, &RectificationError{Msg: "reason: required (the reference of the request)"}
	case len(reason) > MaxRectificationReason || strings.ContainsAny(reason, "\r\n"):
		return out, &RectificationError{Msg: fmt.Sprintf("reason: must be one line of at most %d characters", MaxRectificationReason)}
	case !strings.HasPrefix(req.Actor, "operator:"):
		return out, &RectificationError{Msg: "actor: must be an operator account"}
	}
	var err error
	var prev store.FactMessage
	if req.Message != uuid.Nil {
		prev, err = in.Store.MessageOf(ctx, req.Message)
	} else {
		prev, err = in.Store.CurrentOf(ctx, req.FactSystem, req.FactRef)
	}
	if errors.Is(err, store.ErrNotFound) {
		return out, &RectificationError{Msg: "no accepted message of this fact is known"}
	}
	if err != nil {
		return out, err
	}
	cur, err := in.Store.CurrentOf(ctx, prev.FactSystem, prev.FactRef)
	if err != nil {
		return out, err
	}
	if cur.ID != prev.ID {
		return out, &RectificationError{Msg: fmt.Sprintf("message %s is version %d of %s:%s, whose newest is version %d (message %s): rectify the newest",
			prev.ID, prev.FactVersion, prev.FactSystem, prev.FactRef, cur.FactVersion, cur.ID)}
	}
	out.Previous = prev

	data, err := jsonstrict.Decode(req.Data)
	if err != nil {
		return out, &RectificationError{Msg: "data: not one JSON document: " + err.Error()}
	}
	if len(prev.Data) > 0 {
		if old, err := jsonstrict.Decode(prev.Data); err == nil && reflect.DeepEqual(old, data) {
			return out, &RectificationError{Msg: fmt.Sprintf("the corrected data is the data of version %d: nothing to rectify", prev.FactVersion)}
		}
	}
	fact := canonical.FactID{System: prev.FactSystem, Ref: prev.FactRef, Version: prev.FactVersion + 1}
	m := &canonical.Message{SpecVersion: canonical.SpecVersion, ID: uuid.Must(uuid.NewV7()).String(), Source: prev.Source, Type: prev.Type,
		Time: time.Now().UTC(), Subject: prev.Subject, DataSchema: prev.DataSchema, DataContentType: "application/json",
		FactSystem: fact.System, FactRef: fact.Ref, FactVersion: fact.Version, Data: req.Data}
	if err := in.Schemas.Validate(envelopeDoc(m, data)); err != nil {
		var ve *schemas.ValidationError
		if errors.As(err, &ve) {
			return out, &RectificationError{Msg: "the corrected data does not match the " + prev.Type + " schema", Violations: ve.Violations}
		}
		return out, err
	}
	if out.Recipients, err = in.Store.RecipientsOf(ctx, prev.FactSystem, prev.FactRef); err != nil {
		return out, err
	}
	for _, t := range in.Routing.Targets(prev.Type) {
		if !slices.Contains(out.Targets, t.Destination) {
			out.Targets = append(out.Targets, t.Destination)
		}
	}
	slices.Sort(out.Targets)

	var ing Ingested
	err = in.Store.RecordRectification(ctx, func(ctx context.Context, db store.Beginner) error {
		var err error
		ing, err = in.IngestBy(ctx, db, prev.Connector, req.Actor,
			[]connectors.Fact{{Raw: req.Data, ContentType: "application/json", Messages: []*canonical.Message{m}, Fact: &fact}}, nil)
		if err != nil {
			return err
		}
		if _, rejected := ing.Rejected[0]; rejected {
			return &RectificationError{Msg: "the corrected data was refused at ingest"}
		}
		return nil
	}, func() store.AuditEntry {
		outcome := "recorded"
		if len(ing.Outcomes) == 1 {
			outcome = string(ing.Outcomes[0].Outcome)
		}
		if len(ing.Held) > 0 {
			outcome = "held"
		}
		return store.AuditEntry{Actor: req.Actor, Action: "rectification", MessageID: uuid.MustParse(m.ID), Outcome: outcome,
			Reference: prev.FactSystem + ":" + prev.FactRef + ":" + strconv.FormatInt(prev.FactVersion, 10) +
				" (message " + prev.ID.String() + ") corrected; reason: " + reason}
	})
	if err != nil {
		var re *RectificationError
		if errors.As(err, &re) {
			return out, re
		}
		return out, err
	}
	out.Message, out.Held = m, len(ing.Held) > 0
	if len(ing.Outcomes) == 1 {
		out.Outcome = ing.Outcomes[0].Outcome
	}
	return out, nil
}
