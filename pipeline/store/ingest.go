package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"passerelle/canonical"
)

// Beginner is what a transaction can be started on: the pool, or the dedicated
// connection of a source lease (so that a source that lost its lease cannot commit).
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Target is one destination of a message: the route that sends it there and the legal
// basis it does so on.
type Target struct {
	Route       string
	Destination string
	LegalBasis  string
}

// Violation is a validation failure without the offending value (values may be
// personal data): where and which rule.
type Violation struct {
	Pointer string `json:"pointer"`
	Keyword string `json:"keyword"`
}

// Rejection is an input that could not become a valid canonical message. It is
// quarantined with its original bytes, replayable at Stage.
type Rejection struct {
	Stage       string // decode, map, validate
	Reason      string // no personal data: pointers, rules, error classes
	Violations  []Violation
	Raw         []byte
	ContentType string
	Fact        *canonical.FactID // when the source's identity of the fact is known
}

// Outcome is what ingest decided for one message.
type Outcome string

// The ingest outcomes.
const (
	Accepted  Outcome = "accepted"  // new fact, or a newer version: in the outbox
	Duplicate Outcome = "duplicate" // same version, same content: nothing to do
	Stale     Outcome = "stale"     // older than the version recorded: goes no further
	Conflict  Outcome = "conflict"  // same version, different content: quarantined
)

// IngestBatch is what one ingest transaction commits.
type IngestBatch struct {
	// Connector is the source instance the facts come from.
	Connector string
	// Actor is who acted, for the audit: Connector when empty; a push source names
	// its caller too (the court of a client certificate).
	Actor string
	// Messages are validated canonical messages, in the source's order.
	Messages []*canonical.Message
	// Rejections are inputs that failed before becoming valid messages.
	Rejections []Rejection
	// Checkpoint is the source's position after this batch; nil leaves it unchanged.
	Checkpoint *string
	// Targets lists the destinations of a canonical type (the routes).
	Targets func(typ string) []Target
}

// MessageOutcome is the decision for one message of the batch.
type MessageOutcome struct {
	ID      uuid.UUID // the message's id
	Outcome Outcome
	// Current is the id of the message that holds the fact's recorded version when the
	// outcome is Duplicate (so a caller can answer with the original receipt).
	Current uuid.UUID
}

// IngestResult reports a committed batch.
type IngestResult struct {
	Outcomes    []MessageOutcome // one per message, in order
	Quarantined []int64          // quarantine ids of the rejections (and conflicts), in order
	outbox      []OutboxMessage  // the outbox rows written, for the process's outboxCache
}

// Count returns how many messages had outcome o.
func (r IngestResult) Count(o Outcome) int {
	n := 0
	for _, mo := range r.Outcomes {
		if mo.Outcome == o {
			n++
		}
	}
	return n
}

type factKey struct{ system, ref string }

type factState struct {
	version int64
	hash    []byte
	id      uuid.UUID
}

// Ingest commits a batch in one transaction on db: dedup decisions, outbox rows,
// pending deliveries, quarantine rows, the checkpoint and the audit rows. Either all of
// it is committed or none.
func (s *Store) Ingest(ctx context.Context, db Beginner, b IngestBatch) (IngestResult, error) {
	var res IngestResult
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var err error
		res, err = s.ingestTx(ctx, tx, b)
		return err
	})
	if err != nil {
		return IngestResult{}, fmt.Errorf("store: ingest %s: %w", b.Connector, err)
	}
	// Committed, or inside db's transaction when db is one: the cache answers only for
	// the rows PostgreSQL lists as unpublished, so a row that never commits is never
	// asked for.
	s.recent.put(res.outbox)
	res.outbox = nil
	return res, nil
}

func (s *Store) ingestTx(ctx context.Context, tx pgx.Tx, b IngestBatch) (IngestResult, error) {
	res := IngestResult{Outcomes: make([]MessageOutcome, len(b.Messages))}
	state, err := lockFacts(ctx, tx, b.Messages)
	if err != nil {
		return res, err
	}
	hashes := make([][]byte, len(b.Messages))
	changed := map[factKey]bool{}
	var accepted []int
	var conflicts []Rejection
	for i, m := range b.Messages {
		sum := sha256.Sum256(m.Data)
		hashes[i] = sum[:]
		k := factKey{m.FactSystem, m.FactRef}
		st, seen := state[k]
		id, idErr := uuid.Parse(m.ID)
		mo := MessageOutcome{ID: id}
		switch {
		case idErr != nil:
			// The hub's messages carry UUIDs; anything else is a connector's bug, kept
			// in quarantine rather than blocking the source.
			mo.Outcome = Conflict
			raw, _ := json.Marshal(m)
			conflicts = append(conflicts, Rejection{Stage: "ingest", Raw: raw, ContentType: "application/cloudevents+json",
				Reason: "the message id is not a UUID"})
		case !seen || m.FactVersion > st.version:
			mo.Outcome = Accepted
			state[k] = factState{version: m.FactVersion, hash: hashes[i], id: mo.ID}
			changed[k] = true
			accepted = append(accepted, i)
		case m.FactVersion < st.version:
			mo.Outcome = Stale
			mo.Current = st.id
		case string(st.hash) == string(hashes[i]):
			mo.Outcome = Duplicate
			mo.Current = st.id
		default:
			mo.Outcome = Conflict
			mo.Current = st.id
			raw, _ := json.Marshal(m)
			fact := canonical.FactID{System: m.FactSystem, Ref: m.FactRef, Version: m.FactVersion}
			conflicts = append(conflicts, Rejection{
				Stage: "ingest", Raw: raw, ContentType: "application/cloudevents+json", Fact: &fact,
				Reason: "the source sent version " + strconv.FormatInt(m.FactVersion, 10) + " again with a different content",
			})
		}
		res.Outcomes[i] = mo
	}

	// Outbox rows, their state and their pending deliveries. The seqs are taken first
	// so that the narrow state rows can be copied beside the wide ones.
	now := s.now().UTC()
	seqs, err := nextSeqs(ctx, tx, len(accepted))
	if err != nil {
		return res, err
	}
	// A process whose relay does not read the outbox would only throw them away.
	caching := s.recent.relayReading(time.Now())
	outRows := make([][]any, 0, len(accepted))
	stateRows := make([][]any, 0, len(accepted))
	var delRows [][]any
	for k, i := range accepted {
		m := b.Messages[i]
		var targets []Target
		if b.Targets != nil {
			targets = b.Targets(m.Type)
		}
		id := res.Outcomes[i].ID
		outRows = append(outRows, []any{seqs[k], id, m.Type, m.Subject, m.Source, m.DataSchema, b.Connector,
			m.FactSystem, m.FactRef, m.FactVersion, m.Time, []byte(m.Data), hashes[i], now})
		if caching {
			res.outbox = append(res.outbox, OutboxMessage{Seq: seqs[k], Message: outboxMessage(id, m)})
		}
		// With no target it has nowhere to go, so no pending delivery: settled at
		// once, still published for the record.
		stateRows = append(stateRows, []any{seqs[k]})
		key := m.IdempotencyKey()
		for _, t := range targets {
			delRows = append(delRows, []any{id, t.Destination, t.Route, m.FactSystem, m.FactRef, m.FactVersion, key, now, now})
		}
	}
	if len(outRows) > 0 {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"outbox"},
			[]string{"seq", "id", "type", "subject", "source", "dataschema", "connector", "fact_system", "fact_ref", "fact_version",
				"event_time", "data", "content_hash", "accepted_at"},
			pgx.CopyFromRows(outRows)); err != nil {
			return res, fmt.Errorf("outbox: %w", err)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"outbox_state"}, []string{"seq"},
			pgx.CopyFromRows(stateRows)); err != nil {
			return res, fmt.Errorf("outbox state: %w", err)
		}
	}
	if len(delRows) > 0 {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"deliveries"},
			[]string{"message_id", "destination", "route", "fact_system", "fact_ref", "fact_version", "idempotency_key", "created_at", "updated_at"},
			pgx.CopyFromRows(delRows)); err != nil {
			return res, fmt.Errorf("deliveries: %w", err)
		}
	}
	if err := upsertDedup(ctx, tx, state, changed); err != nil {
		return res, err
	}

	// Quarantine: rejections, then conflicts.
	all := append(append([]Rejection(nil), b.Rejections...), conflicts...)
	ids, err := insertQuarantine(ctx, tx, b.Connector, all)
	if err != nil {
		return res, err
	}
	res.Quarantined = ids

	if b.Checkpoint != nil {
		if _, err := tx.Exec(ctx, `INSERT INTO checkpoints (source, position, updated_at) VALUES ($1, $2, now())
			ON CONFLICT (source) DO UPDATE SET position = excluded.position, updated_at = now()`, b.Connector, *b.Checkpoint); err != nil {
			return res, fmt.Errorf("checkpoint: %w", err)
		}
	}

	entries := make([]AuditEntry, 0, len(b.Messages)+len(all))
	actor := b.Actor
	if actor == "" {
		actor = b.Connector
	}
	for i, m := range b.Messages {
		// An accepted fact is collected for its routes: the audit names their legal
		// bases, so that every row says on which basis the hub acted.
		var basis string
		if res.Outcomes[i].Outcome == Accepted && b.Targets != nil {
			basis = legalBases(b.Targets(m.Type))
		}
		entries = append(entries, AuditEntry{Actor: actor, Action: "ingest", MessageID: res.Outcomes[i].ID, LegalBasis: basis,
			Outcome: string(res.Outcomes[i].Outcome), Reference: m.FactSystem + ":" + m.FactRef + ":" + strconv.FormatInt(m.FactVersion, 10)})
	}
	for i, r := range all {
		entries = append(entries, AuditEntry{Actor: actor, Action: "quarantine", Outcome: "quarantined",
			Reference: "quarantine:" + strconv.FormatInt(ids[i], 10) + " stage:" + r.Stage})
	}
	return res, s.appendAudit(ctx, tx, entries)
}

// nextSeqs takes n values of the outbox's sequence, in increasing order: the
// acceptance order of the batch's messages.
func nextSeqs(ctx context.Context, tx pgx.Tx, n int) ([]int64, error) {
	if n == 0 {
		return nil, nil
	}
	rows, err := tx.Query(ctx, `SELECT nextval('outbox_seq_seq') FROM generate_series(1, $1) ORDER BY 1`, n)
	if err != nil {
		return nil, fmt.Errorf("outbox seq: %w", err)
	}
	seqs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("outbox seq: %w", err)
	}
	return seqs, nil
}

// legalBases joins the distinct legal bases of targets, in their order.
func legalBases(targets []Target) string {
	var out []string
	for _, t := range targets {
		if t.LegalBasis != "" && !slices.Contains(out, t.LegalBasis) {
			out = append(out, t.LegalBasis)
		}
	}
	return strings.Join(out, "; ")
}

// lockFacts reads and locks the dedup rows of the batch's facts.
func lockFacts(ctx context.Context, tx pgx.Tx, msgs []*canonical.Message) (map[factKey]factState, error) {
	state := make(map[factKey]factState, len(msgs))
	if len(msgs) == 0 {
		return state, nil
	}
	keys := make([]factKey, 0, len(msgs))
	seen := make(map[factKey]bool, len(msgs))
	for _, m := range msgs {
		k := factKey{m.FactSystem, m.FactRef}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	// Two transactions lock the facts they share in the same order, so neither waits
	// for the other in a cycle: byte order, the keys' collation (C).
	slices.SortFunc(keys, func(a, b factKey) int {
		return cmp.Or(strings.Compare(a.system, b.system), strings.Compare(a.ref, b.ref))
	})
	systems, refs := make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		systems[i], refs[i] = k.system, k.ref
	}
	// One probe of the primary key per fact, in that order (the subquery that locks
	// is never flattened into a join). Joined, the planner hashed the whole table at
	// every batch while it held fewer than a few hundred thousand facts: 30 ms a batch
	// at 20,000 facts, growing with the table, against a few for the probes.
	rows, err := tx.Query(ctx, `SELECT d.fact_system, d.fact_ref, d.version, d.content_hash, d.message_id
		FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(s, r, n)
		CROSS JOIN LATERAL (SELECT * FROM dedup d WHERE d.fact_system = k.s AND d.fact_ref = k.r FOR UPDATE) d
		ORDER BY k.n`, systems, refs)
	if err != nil {
		return nil, fmt.Errorf("dedup: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k factKey
		var st factState
		if err := rows.Scan(&k.system, &k.ref, &st.version, &st.hash, &st.id); err != nil {
			return nil, fmt.Errorf("dedup: %w", err)
		}
		state[k] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dedup: %w", err)
	}
	return state, nil
}

func upsertDedup(ctx context.Context, tx pgx.Tx, state map[factKey]factState, changed map[factKey]bool) error {
	if len(changed) == 0 {
		return nil
	}
	n := len(changed)
	systems, refs := make([]string, 0, n), make([]string, 0, n)
	versions, hashes, ids := make([]int64, 0, n), make([][]byte, 0, n), make([]uuid.UUID, 0, n)
	for k := range changed {
		st := state[k]
		systems, refs = append(systems, k.system), append(refs, k.ref)
		versions, hashes, ids = append(versions, st.version), append(hashes, st.hash), append(ids, st.id)
	}
	_, err := tx.Exec(ctx, `INSERT INTO dedup (fact_system, fact_ref, version, content_hash, message_id, updated_at)
		SELECT s, r, v, h, id, now() FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bytea[], $5::uuid[]) AS u(s, r, v, h, id)
		ON CONFLICT (fact_system, fact_ref) DO UPDATE
		SET version = excluded.version, content_hash = excluded.content_hash, message_id = excluded.message_id, updated_at = now()
		WHERE dedup.version < excluded.version`, systems, refs, versions, hashes, ids)
	if err != nil {
		return fmt.Errorf("dedup upsert: %w", err)
	}
	return nil
}

func insertQuarantine(ctx context.Context, tx pgx.Tx, connector string, rs []Rejection) ([]int64, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	ids := make([]int64, len(rs))
	for i, r := range rs {
		var viol any
		if len(r.Violations) > 0 {
			b, err := json.Marshal(r.Violations)
			if err != nil {
				return nil, err
			}
			viol = b
		}
		var sys, ref, ver any
		if r.Fact != nil {
			sys, ref, ver = r.Fact.System, r.Fact.Ref, r.Fact.Version
		}
		ct := r.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		if err := tx.QueryRow(ctx, `INSERT INTO quarantine (stage, connector, fact_system, fact_ref, fact_version, reason, violations, raw, content_type)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
			r.Stage, connector, sys, ref, ver, r.Reason, viol, r.Raw, ct).Scan(&ids[i]); err != nil {
			return nil, fmt.Errorf("quarantine: %w", err)
		}
	}
	return ids, nil
}
