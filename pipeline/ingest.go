package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"passerelle/canonical"
	"passerelle/connectors"
	"passerelle/internal/jsonstrict"
	"passerelle/internal/logging"
	"passerelle/pipeline/store"
	"passerelle/schemas"
)

// Ingester turns a source's facts into committed outbox rows: it resolves each
// message's person, validates it against its canonical schema, and commits the valid
// messages, the rejected inputs and the source's checkpoint in one transaction.
// It is safe for concurrent use.
type Ingester struct {
	Store   *store.Store
	Schemas *schemas.Registry
	Routing *Routing
	Log     *zap.Logger
	// Metrics, when set, counts the facts in by source and outcome.
	Metrics *Metrics
	// HoldDoubtful holds the messages of a doubtful person (the new person of an open
	// identity review) in the quarantine, at stage identity, until the review is
	// decided (identities.doubtful: wait); false sends them on under the new id.
	HoldDoubtful bool
}

// candidate is a message of a fact on its way through ingest.
type candidate struct {
	fact int
	msg  *canonical.Message
	data any
	ids  []store.Identifier
}

// Ingested is the outcome of one Ingest call.
type Ingested struct {
	store.IngestResult
	// Messages are the messages that passed validation, in order (Outcomes match them).
	Messages []*canonical.Message
	// FactOf maps each of Messages to the index of its fact.
	FactOf []int
	// Rejected maps the index of each rejected fact to its quarantine id.
	Rejected map[int]int64
	// Held are the valid messages held for an identity review (HoldDoubtful), with
	// their quarantine ids; they are in neither Messages nor Rejected.
	Held map[*canonical.Message]int64
}

// Ingest validates and commits facts from connector on db (the source's lease, or the
// pool for push sources), with the source's new checkpoint (nil: unchanged).
func (in *Ingester) Ingest(ctx context.Context, db store.Beginner, connector string, facts []connectors.Fact, checkpoint *string) (Ingested, error) {
	return in.IngestBy(ctx, db, connector, "", facts, checkpoint)
}

// IngestBy is Ingest on behalf of actor, whom the audit names as having acted (a push
// source's caller); "" names the connector.
func (in *Ingester) IngestBy(ctx context.Context, db store.Beginner, connector, actor string, facts []connectors.Fact, checkpoint *string) (Ingested, error) {
	p, err := in.Prepare(ctx, connector, actor, facts)
	if err != nil {
		return p.out, err
	}
	return in.Commit(ctx, db, p, checkpoint)
}

// Prepared is a batch of facts decoded, resolved to their persons and validated: what
// Commit commits. A source prepares its next batch while the previous one commits.
type Prepared struct {
	connector, actor string
	out              Ingested
	rejections       []store.Rejection // the rejected facts' (rejFact), then the held messages'
	rejFact          []int
	held             []*canonical.Message
	nRejected        int
}

// Prepare does the work of ingest that needs no transaction: it decodes the facts'
// data, resolves the persons of the messages without a subject, validates every
// message and sorts out what is rejected or held. Its result is committed by Commit.
func (in *Ingester) Prepare(ctx context.Context, connector, actor string, facts []connectors.Fact) (*Prepared, error) {
	out := Ingested{Rejected: map[int]int64{}, Held: map[*canonical.Message]int64{}}
	fail := func(err error) (*Prepared, error) { return &Prepared{out: out}, err }
	var (
		candidates []candidate
		rejections []store.Rejection
		rejFact    []int
	)
	reject := func(i int, r store.Rejection) {
		f := facts[i]
		r.Raw, r.ContentType, r.Fact = f.Raw, f.ContentType, f.Fact
		rejections = append(rejections, r)
		rejFact = append(rejFact, i)
	}

	// Decode the data of every message, and read the person's identifiers of those
	// without a subject, on every core: with validation, the CPU-bound part of ingest.
	// A source that decoded the data already (Fact.Decoded) saves the second pass.
	var flat []*canonical.Message
	var decoded []any
	first := make([]int, len(facts))
	for i, f := range facts {
		first[i] = len(flat)
		if f.Err == nil {
			flat = append(flat, f.Messages...)
			if len(f.Decoded) == len(f.Messages) {
				decoded = append(decoded, f.Decoded...)
			} else {
				decoded = append(decoded, make([]any, len(f.Messages))...)
			}
		}
	}
	datas, decodeErrs, idents := make([]any, len(flat)), make([]error, len(flat)), make([][]store.Identifier, len(flat))
	parallel(len(flat), func(k int) {
		if decoded[k] != nil {
			datas[k] = decoded[k]
		} else {
			datas[k], decodeErrs[k] = jsonstrict.Decode(flat[k].Data)
		}
		if decodeErrs[k] == nil && flat[k].Subject == "" {
			idents[k] = identifiersOf(datas[k])
		}
	})
	for i, f := range facts {
		if f.Err != nil {
			stage := f.Stage
			if stage == "" {
				stage = "decode"
			}
			reject(i, store.Rejection{Stage: stage, Reason: f.Err.Error()})
			continue
		}
		if len(f.Messages) == 0 {
			continue
		}
		var batch []candidate
		for j, m := range f.Messages {
			if decodeErrs[first[i]+j] != nil {
				batch = nil
				reject(i, store.Rejection{Stage: "map", Reason: "the connector produced data that is not JSON"})
				break
			}
			batch = append(batch, candidate{fact: i, msg: m, data: datas[first[i]+j], ids: idents[first[i]+j]})
		}
		candidates = append(candidates, batch...)
	}

	// Resolve the persons of the messages that have no subject yet.
	var persons [][]store.Identifier
	var need []int
	for j, c := range candidates {
		if c.msg.Subject == "" {
			need = append(need, j)
			persons = append(persons, c.ids)
		}
	}
	if len(need) > 0 {
		ids, err := in.Store.ResolvePersons(ctx, persons)
		if err != nil {
			return fail(fmt.Errorf("pipeline: ingest %s: %w", connector, err))
		}
		for k, j := range need {
			candidates[j].msg.Subject = ids[k]
		}
	}

	// Validate (on every core); a fact with an invalid message is rejected whole (its
	// raw bytes go to quarantine, and a replay re-reads all of its messages), with the
	// reason of its first invalid message.
	validationErrs := make([]error, len(candidates))
	parallel(len(candidates), func(j int) {
		validationErrs[j] = in.Schemas.Validate(envelopeDoc(candidates[j].msg, candidates[j].data))
	})
	invalid := map[int]bool{}
	for j, c := range candidates {
		if invalid[c.fact] {
			continue
		}
		if err := validationErrs[j]; err != nil {
			invalid[c.fact] = true
			reject(c.fact, rejectionOf(err))
		}
	}
	holds, err := in.holds(ctx, candidates, need, invalid)
	if err != nil {
		return fail(fmt.Errorf("pipeline: ingest %s: %w", connector, err))
	}
	var held []*canonical.Message
	var heldRejections []store.Rejection
	for _, c := range candidates {
		if invalid[c.fact] {
			continue
		}
		if h, ok := holds[c.msg.Subject]; ok {
			raw, err := json.Marshal(c.msg)
			if err != nil {
				return fail(fmt.Errorf("pipeline: ingest %s: %w", connector, err))
			}
			held = append(held, c.msg)
			heldRejections = append(heldRejections, store.Rejection{Stage: store.StageIdentity, Reason: store.HeldReason(h.Review, h.Reason),
				Raw: raw, ContentType: "application/cloudevents+json", Fact: factOf(c.msg)})
			continue
		}
		out.Messages = append(out.Messages, c.msg)
		out.FactOf = append(out.FactOf, c.fact)
	}
	nRejected := len(rejections)
	rejections = append(rejections, heldRejections...)
	return &Prepared{connector: connector, actor: actor, out: out, rejections: rejections, rejFact: rejFact,
		held: held, nRejected: nRejected}, nil
}

// Commit commits a prepared batch on db (the source's lease, or the pool for push
// sources) with the source's new checkpoint (nil: unchanged), in one transaction.
func (in *Ingester) Commit(ctx context.Context, db store.Beginner, p *Prepared, checkpoint *string) (Ingested, error) {
	out := p.out
	res, err := in.Store.Ingest(ctx, db, store.IngestBatch{
		Connector: p.connector, Actor: p.actor, Messages: out.Messages, Rejections: p.rejections, Checkpoint: checkpoint,
		Targets: in.Routing.Targets,
	})
	if err != nil {
		return out, err
	}
	out.IngestResult = res
	in.Metrics.countIngest(p.connector, out, len(p.rejections))
	for k, i := range p.rejFact {
		out.Rejected[i] = res.Quarantined[k]
	}
	for k, m := range p.held {
		out.Held[m] = res.Quarantined[p.nRejected+k]
	}
	if p.nRejected > 0 {
		in.Log.Warn("inputs quarantined", logging.Connector(p.connector), logging.Count(p.nRejected), logging.Stage(p.rejections[0].Stage))
	}
	if len(p.held) > 0 {
		in.Log.Info("messages held for an identity review", logging.Connector(p.connector), logging.Count(len(p.held)))
	}
	return out, nil
}

// holds returns, when HoldDoubtful, the open reviews of the persons the valid
// candidates of need were just resolved to, by person id.
func (in *Ingester) holds(ctx context.Context, candidates []candidate, need []int, invalid map[int]bool) (map[string]store.Hold, error) {
	if !in.HoldDoubtful || len(need) == 0 {
		return nil, nil
	}
	var persons []string
	seen := map[string]bool{}
	for _, j := range need {
		if c := candidates[j]; !invalid[c.fact] && !seen[c.msg.Subject] {
			seen[c.msg.Subject] = true
			persons = append(persons, c.msg.Subject)
		}
	}
	return in.Store.OpenReviewsOf(ctx, persons)
}

// parallelMin is the smallest share of work worth a goroutine of its own.
const parallelMin = 32

// parallel calls fn(0), …, fn(n-1) on up to GOMAXPROCS goroutines, each taking the
// next block of indexes as it is free (costs vary with the message), and returns when
// every call has. A small n runs on the caller's goroutine. fn must only write to
// its own index's results.
func parallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n/parallelMin)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	const block = 16
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				lo := int(next.Add(block)) - block
				if lo >= n {
					return
				}
				for i := lo; i < min(lo+block, n); i++ {
					fn(i)
				}
			}
		})
	}
	wg.Wait()
}

// envelopeDoc is the structured CloudEvent of m, with data already decoded, as the
// validator takes it.
func envelopeDoc(m *canonical.Message, data any) map[string]any {
	doc := map[string]any{
		"specversion": m.SpecVersion, "id": m.ID, "source": m.Source, "type": m.Type,
		"time": m.Time.UTC().Format(time.RFC3339Nano), "subject": m.Subject,
		"dataschema": m.DataSchema, "factsystem": m.FactSystem, "factref": m.FactRef,
		"factversion": json.Number(fmt.Sprint(m.FactVersion)), "data": data,
	}
	if m.DataContentType != "" {
		doc["datacontenttype"] = m.DataContentType
	}
	return doc
}

// rejectionOf turns a validation error into a quarantine reason without values.
func rejectionOf(err error) store.Rejection {
	var ve *schemas.ValidationError
	if !errors.As(err, &ve) {
		return store.Rejection{Stage: "validate", Reason: "validation failed"}
	}
	r := store.Rejection{Stage: "validate"}
	parts := make([]string, 0, len(ve.Violations))
	for _, v := range ve.Violations {
		r.Violations = append(r.Violations, store.Violation{Pointer: v.Pointer, Keyword: v.Keyword})
		parts = append(parts, v.Redacted())
	}
	r.Reason = "invalid canonical message: " + strings.Join(parts, "; ")
	return r
}
