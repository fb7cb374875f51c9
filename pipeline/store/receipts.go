package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"passerelle/canonical"
)

// The intake outcomes of a receipt's message (receipt_messages.outcome).
const (
	// ReceiptAccepted: the message went into the outbox with this push.
	ReceiptAccepted = "accepted"
	// ReceiptDuplicate: the fact was already recorded at this version; the row names
	// the recorded message.
	ReceiptDuplicate = "duplicate"
	// ReceiptStale: an older version than the one recorded; the row names the newer
	// message as Current.
	ReceiptStale = "stale"
	// ReceiptQuarantined: refused at ingest (validation, or the same version with
	// another content); QuarantineID says where it is kept.
	ReceiptQuarantined = "quarantined"
)

// ReceiptMessage is one message of a push as recorded at intake.
type ReceiptMessage struct {
	// FactIndex and MessageIndex place the message in the push.
	FactIndex, MessageIndex int
	// MessageID is the message, or for ReceiptDuplicate the recorded message.
	MessageID uuid.UUID
	// Outcome is one of the Receipt* constants.
	Outcome string
	// Current, for ReceiptStale, is the newer message recorded for the fact.
	Current uuid.UUID
	// QuarantineID, for ReceiptQuarantined.
	QuarantineID int64
	// Fact is the source's identity of the fact, when known.
	Fact *canonical.FactID
}

// NewReceipt is a receipt to record with a push.
type NewReceipt struct {
	ID        uuid.UUID
	Connector string
	Caller    string
	Reference string
	Messages  []ReceiptMessage
}

// InsertReceipt records a receipt inside tx, the push's ingest transaction, so that a
// receipt exists exactly when what it promises was committed.
func (s *Store) InsertReceipt(ctx context.Context, tx pgx.Tx, r NewReceipt) (time.Time, error) {
	at, err := s.InsertReceipts(ctx, tx, []NewReceipt{r})
	if err != nil {
		return s.now().UTC(), err
	}
	return at[0], nil
}

// InsertReceipts records receipts inside tx (the transaction of a group of pushes), in
// two statements whatever their number, and returns their reception times: in the
// order of rs and each after the previous one, so that the earliest receipt of a fact
// (FindReceipt) is still the first one recorded.
func (s *Store) InsertReceipts(ctx context.Context, tx pgx.Tx, rs []NewReceipt) ([]time.Time, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	ats := make([]time.Time, len(rs))
	ids := make([]uuid.UUID, len(rs))
	connectors, callers, references := make([]string, len(rs)), make([]string, len(rs)), make([]string, len(rs))
	counts := make([]int32, len(rs))
	var rows [][]any
	for i, r := range rs {
		at := s.now().UTC().Truncate(time.Microsecond) // PostgreSQL keeps microseconds
		if i > 0 && !at.After(ats[i-1]) {
			at = ats[i-1].Add(time.Microsecond)
		}
		ats[i], ids[i], connectors[i], callers[i], references[i], counts[i] = at, r.ID, r.Connector, r.Caller, r.Reference, int32(len(r.Messages))
		for _, m := range r.Messages {
			var cur, qid, sys, ref, ver any
			if m.Current != uuid.Nil {
				cur = m.Current
			}
			if m.QuarantineID != 0 {
				qid = m.QuarantineID
			}
			if m.Fact != nil {
				sys, ref, ver = m.Fact.System, m.Fact.Ref, m.Fact.Version
			}
			rows = append(rows, []any{r.ID, m.FactIndex, m.MessageIndex, m.MessageID, m.Outcome, cur, qid, sys, ref, ver})
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO receipts (id, connector, caller, reference, messages, received_at)
		SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::timestamptz[])`,
		ids, connectors, callers, references, counts, ats); err != nil {
		return ats, fmt.Errorf("store: receipt: %w", err)
	}
	if len(rows) > 0 {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"receipt_messages"},
			[]string{"receipt_id", "fact_index", "message_index", "message_id", "outcome", "current_id", "quarantine_id",
				"fact_system", "fact_ref", "fact_version"}, pgx.CopyFromRows(rows)); err != nil {
			return ats, fmt.Errorf("store: receipt messages: %w", err)
		}
	}
	return ats, nil
}

// FindReceipt returns the earliest receipt of connector and caller whose messages are
// exactly these facts at these versions (a push sent again), read inside tx.
func (s *Store) FindReceipt(ctx context.Context, tx pgx.Tx, connector, caller string, facts []canonical.FactID) (uuid.UUID, bool, error) {
	if len(facts) == 0 {
		return uuid.Nil, false, nil
	}
	systems, refs, versions := make([]string, len(facts)), make([]string, len(facts)), make([]int64, len(facts))
	for i, f := range facts {
		systems[i], refs[i], versions[i] = f.System, f.Ref, f.Version
	}
	var id uuid.UUID
	err := tx.QueryRow(ctx, `SELECT r.id FROM receipts r
		JOIN receipt_messages m ON m.receipt_id = r.id
		JOIN unnest($3::text[], $4::text[], $5::bigint[]) AS k(s, f, v)
			ON m.fact_system = k.s AND m.fact_ref = k.f AND m.fact_version = k.v
		WHERE r.connector = $1 AND r.caller = $2 AND r.messages = $6
		GROUP BY r.id HAVING count(*) = $6
		ORDER BY min(r.received_at), r.id LIMIT 1`, connector, caller, systems, refs, versions, len(facts)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, false, nil
	}
	if err != nil {
		return uuid.Nil, false, fmt.Errorf("store: find receipt: %w", err)
	}
	return id, true, nil
}

// ReceiptView is a receipt with the current state of each of its messages.
type ReceiptView struct {
	ID         uuid.UUID
	Connector  string
	Caller     string
	Reference  string
	ReceivedAt time.Time
	Messages   []ReceiptMessageState
}

// ReceiptMessageState is a receipt's message and where it stands now.
type ReceiptMessageState struct {
	ReceiptMessage
	// QuarantineReason is the reason of QuarantineID.
	QuarantineReason string
	// InOutbox is true when the message has an outbox row; Published when the broker
	// acknowledged it at least once.
	InOutbox, Published bool
	// Deliveries are its delivery rows, by destination.
	Deliveries []ReceiptDelivery
}

// ReceiptDelivery is one delivery row of a receipt's message.
type ReceiptDelivery struct {
	Destination  string
	Status       string
	UpdatedAt    time.Time
	Receipt      json.RawMessage
	LastError    string
	QuarantineID int64
}

// Receipt returns the receipt id of connector if caller pushed it; ErrNotFound
// otherwise (an unknown id and another caller's look alike).
func (s *Store) Receipt(ctx context.Context, connector, caller string, id uuid.UUID) (ReceiptView, error) {
	vs, err := s.Receipts(ctx, connector, []ReceiptKey{{Caller: caller, ID: id}})
	if err != nil {
		return ReceiptView{ID: id}, err
	}
	v, ok := vs[id]
	if !ok {
		return ReceiptView{ID: id}, fmt.Errorf("store: receipt: %w", ErrNotFound)
	}
	return v, nil
}

// ReceiptKey names a receipt and the caller asking for it.
type ReceiptKey struct {
	Caller string
	ID     uuid.UUID
}

// Receipts returns, by id, the receipts of connector among keys that their caller
// pushed, in two queries whatever their number; the others are left out (an unknown id
// and another caller's look alike).
func (s *Store) Receipts(ctx context.Context, connector string, keys []ReceiptKey) (map[uuid.UUID]ReceiptView, error) {
	out := make(map[uuid.UUID]ReceiptView, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	ids, callers := make([]uuid.UUID, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		ids[i], callers[i] = k.ID, k.Caller
	}
	hrows, err := s.pool.Query(ctx, `SELECT r.id, r.connector, r.caller, r.reference, r.received_at FROM receipts r
		JOIN unnest($1::uuid[], $2::text[]) AS k(id, caller) ON r.id = k.id AND r.caller = k.caller
		WHERE r.connector = $3`, ids, callers, connector)
	if err != nil {
		return nil, fmt.Errorf("store: receipt: %w", err)
	}
	found := make([]uuid.UUID, 0, len(keys))
	for hrows.Next() {
		var v ReceiptView
		if err := hrows.Scan(&v.ID, &v.Connector, &v.Caller, &v.Reference, &v.ReceivedAt); err != nil {
			hrows.Close()
			return nil, fmt.Errorf("store: receipt: %w", err)
		}
		if _, dup := out[v.ID]; !dup {
			found = append(found, v.ID)
		}
		out[v.ID] = v
	}
	hrows.Close()
	if err := hrows.Err(); err != nil {
		return nil, fmt.Errorf("store: receipt: %w", err)
	}
	if len(found) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT m.receipt_id, m.fact_index, m.message_index, m.message_id, m.outcome, m.current_id,
			coalesce(m.quarantine_id, 0), coalesce(q.reason, ''), m.fact_system, m.fact_ref, m.fact_version,
			o.id IS NOT NULL, o.id IS NOT NULL AND (s.seq IS NULL OR s.published_at IS NOT NULL),
			d.destination, d.status, d.updated_at, d.receipt, d.last_error,
			(SELECT max(x.id) FROM quarantine x WHERE x.message_id = d.message_id AND x.destination = d.destination AND d.status = 'quarantined')
		FROM receipt_messages m
		LEFT JOIN quarantine q ON q.id = m.quarantine_id
		LEFT JOIN outbox o ON o.id = m.message_id AND m.outcome IN ('accepted', 'duplicate')
		LEFT JOIN outbox_state s ON s.seq = o.seq
		LEFT JOIN deliveries d ON d.message_id = o.id
		WHERE m.receipt_id = ANY($1::uuid[])
		ORDER BY m.receipt_id, m.fact_index, m.message_index, d.destination`, found)
	if err != nil {
		return nil, fmt.Errorf("store: receipt messages: %w", err)
	}
	defer rows.Close()
	var (
		cur  ReceiptView // the receipt being read, written back to out when the next one begins
		open bool
	)
	for rows.Next() {
		var rid uuid.UUID
		var m ReceiptMessageState
		var curID *uuid.UUID
		var sys, ref *string
		var ver *int64
		var dest, status, lastErr *string
		var updated *time.Time
		var receipt []byte
		var dq *int64
		if err := rows.Scan(&rid, &m.FactIndex, &m.MessageIndex, &m.MessageID, &m.Outcome, &curID, &m.QuarantineID, &m.QuarantineReason,
			&sys, &ref, &ver, &m.InOutbox, &m.Published, &dest, &status, &updated, &receipt, &lastErr, &dq); err != nil {
			return nil, fmt.Errorf("store: receipt messages: %w", err)
		}
		if !open || cur.ID != rid {
			if open {
				out[cur.ID] = cur
			}
			cur, open = out[rid], true
		}
		if curID != nil {
			m.Current = *curID
		}
		if sys != nil && ref != nil && ver != nil {
			m.Fact = &canonical.FactID{System: *sys, Ref: *ref, Version: *ver}
		}
		n := len(cur.Messages)
		if n == 0 || cur.Messages[n-1].FactIndex != m.FactIndex || cur.Messages[n-1].MessageIndex != m.MessageIndex {
			cur.Messages = append(cur.Messages, m)
			n++
		}
		if dest != nil {
			d := ReceiptDelivery{Destination: *dest, Status: deref(status), Receipt: receipt, LastError: deref(lastErr)}
			if updated != nil {
				d.UpdatedAt = *updated
			}
			if dq != nil {
				d.QuarantineID = *dq
			}
			cur.Messages[n-1].Deliveries = append(cur.Messages[n-1].Deliveries, d)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: receipt messages: %w", err)
	}
	if open {
		out[cur.ID] = cur
	}
	return out, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
