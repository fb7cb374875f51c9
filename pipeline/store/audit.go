package store

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// AuditEntry is one audited act: who or what acted, on which message, towards whom, on
// which legal basis, with which outcome. It carries references, never data.
type AuditEntry struct {
	Actor       string    // connector, destination, operator account
	Action      string    // ingest, duplicate, stale, conflict, deliver, supersede, quarantine, replay, ...
	MessageID   uuid.UUID // zero when the act concerns no message
	Route       string
	Destination string
	LegalBasis  string
	Outcome     string // accepted, delivered, quarantined, refused, ...
	Reference   string // receipt id, quarantine id, fact reference
}

// AuditRow is an audit entry as stored, with its place in the chain.
type AuditRow struct {
	Seq int64
	At  time.Time
	AuditEntry
	PrevHash []byte
	Hash     []byte
}

// lockAudit serialises audit appends ("audit" in ASCII).
const lockAudit int64 = 0x6175646974

// genesisHash is the previous hash of the first row.
var genesisHash = make([]byte, sha256.Size)

func (s *Store) newHash() hash.Hash {
	if len(s.auditKey) > 0 {
		return hmac.New(sha256.New, s.auditKey)
	}
	return sha256.New()
}

// rowHash computes h_i = H(h_{i-1} || row_i) over a length-prefixed encoding of every
// field, so that no two different rows encode alike.
func (s *Store) rowHash(prev []byte, r *AuditRow) []byte {
	h := s.newHash()
	h.Write(prev)
	var buf [binary.MaxVarintLen64]byte
	field := func(v string) {
		n := binary.PutUvarint(buf[:], uint64(len(v)))
		h.Write(buf[:n])
		h.Write([]byte(v))
	}
	field(strconv.FormatInt(r.Seq, 10))
	field(r.At.UTC().Format(time.RFC3339Nano))
	field(r.Actor)
	field(r.Action)
	mid := ""
	if r.MessageID != uuid.Nil {
		mid = r.MessageID.String()
	}
	field(mid)
	field(r.Route)
	field(r.Destination)
	field(r.LegalBasis)
	field(r.Outcome)
	field(r.Reference)
	return h.Sum(nil)
}

// appendAudit appends entries inside tx. It takes a transaction-scoped advisory lock, so
// call it last in a transaction: the lock is held until commit.
func (s *Store) appendAudit(ctx context.Context, tx pgx.Tx, entries []AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockAudit); err != nil {
		return fmt.Errorf("audit lock: %w", err)
	}
	var (
		seq  int64
		prev []byte
	)
	err := tx.QueryRow(ctx, `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev)
	if errors.Is(err, pgx.ErrNoRows) {
		seq, prev, err = 0, genesisHash, nil
		// After a retention cut the chain continues from the recorded head.
		var headSeq int64
		var headHash []byte
		herr := tx.QueryRow(ctx, `SELECT seq, hash FROM audit_heads ORDER BY seq DESC LIMIT 1`).Scan(&headSeq, &headHash)
		if herr == nil {
			seq, prev = headSeq, headHash
		} else if !errors.Is(herr, pgx.ErrNoRows) {
			return fmt.Errorf("audit head: %w", herr)
		}
	}
	if err != nil {
		return fmt.Errorf("audit head: %w", err)
	}
	at := s.now().UTC().Truncate(time.Microsecond) // PostgreSQL keeps microseconds
	rows := make([][]any, len(entries))
	for i, e := range entries {
		seq++
		r := AuditRow{Seq: seq, At: at, AuditEntry: e, PrevHash: prev}
		r.Hash = s.rowHash(prev, &r)
		var mid any
		if e.MessageID != uuid.Nil {
			mid = e.MessageID
		}
		rows[i] = []any{r.Seq, r.At, e.Actor, e.Action, mid, nullable(e.Route), nullable(e.Destination),
			nullable(e.LegalBasis), e.Outcome, nullable(e.Reference), r.PrevHash, r.Hash}
		prev = r.Hash
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"audit"},
		[]string{"seq", "at", "actor", "action", "message_id", "route", "destination", "legal_basis", "outcome", "reference", "prev_hash", "hash"},
		pgx.CopyFromRows(rows))
	if err != nil {
		return fmt.Errorf("audit append: %w", err)
	}
	return nil
}

// Audit appends entries in their own transaction (for acts outside a flow: operator
// commands, refused requests, exports).
func (s *Store) Audit(ctx context.Context, entries ...AuditEntry) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return s.appendAudit(ctx, tx, entries) })
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Tampering is the first place where the audit chain does not hold.
type Tampering struct {
	Seq    int64  // the first row that does not verify (or the first missing seq)
	Reason string // what is wrong there
}

func (t *Tampering) Error() string {
	return fmt.Sprintf("audit chain broken at row %d: %s", t.Seq, t.Reason)
}

// VerifyResult summarises a verification.
type VerifyResult struct {
	Rows    int64
	First   int64
	Last    int64
	Head    []byte
	Problem *Tampering // nil when the chain holds
}

// VerifyAudit walks the chain in seq order and names the first row that was altered,
// deleted or inserted: an altered row's hash no longer matches its content, a deleted
// row leaves a gap in seq and a broken link, an inserted one a broken link.
func (s *Store) VerifyAudit(ctx context.Context) (VerifyResult, error) {
	var res VerifyResult
	prev := genesisHash
	expect := int64(1)
	var headSeq int64
	var headHash []byte
	err := s.pool.QueryRow(ctx, `SELECT seq, hash FROM audit_heads ORDER BY seq DESC LIMIT 1`).Scan(&headSeq, &headHash)
	switch {
	case err == nil:
		prev, expect = headHash, headSeq+1
	case !errors.Is(err, pgx.ErrNoRows):
		return res, fmt.Errorf("audit verify: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT seq, at, actor, action, message_id, coalesce(route,''), coalesce(destination,''),
		coalesce(legal_basis,''), outcome, coalesce(reference,''), prev_hash, hash FROM audit ORDER BY seq`)
	if err != nil {
		return res, fmt.Errorf("audit verify: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r AuditRow
		var mid *uuid.UUID
		if err := rows.Scan(&r.Seq, &r.At, &r.Actor, &r.Action, &mid, &r.Route, &r.Destination, &r.LegalBasis,
			&r.Outcome, &r.Reference, &r.PrevHash, &r.Hash); err != nil {
			return res, fmt.Errorf("audit verify: %w", err)
		}
		if mid != nil {
			r.MessageID = *mid
		}
		if res.Rows == 0 {
			res.First = r.Seq
		}
		res.Rows++
		res.Last = r.Seq
		if res.Problem != nil {
			continue
		}
		switch {
		case r.Seq > expect:
			res.Problem = &Tampering{Seq: expect, Reason: fmt.Sprintf("rows %d to %d are missing (deleted)", expect, r.Seq-1)}
		case r.Seq < expect:
			res.Problem = &Tampering{Seq: r.Seq, Reason: "row out of sequence (inserted)"}
		case !bytes.Equal(r.PrevHash, prev):
			res.Problem = &Tampering{Seq: r.Seq, Reason: "does not link to the previous row (a row was inserted or deleted before it)"}
		case !hmac.Equal(s.rowHash(prev, &r), r.Hash):
			res.Problem = &Tampering{Seq: r.Seq, Reason: "its content does not match its hash (altered or forged)"}
		}
		prev = r.Hash
		expect = r.Seq + 1
		res.Head = r.Hash
	}
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("audit verify: %w", err)
	}
	return res, nil
}
