package store

import (
	"sync"
	"time"

	"github.com/google/uuid"

	"passerelle/canonical"
)

// outboxCache keeps, in one hub process, the messages of the outbox rows it committed
// until the relay marks them published, so that the relay asks PostgreSQL only which
// rows are unpublished (a narrow partial index) and not for every payload it has just
// written: in a backfill of APPI's history, reading the outbox back was a fifth of the
// statements the whole path runs after ingest.
//
// PostgreSQL stays the authority on what is unpublished and in which order; the cache
// only answers "what does row seq hold", which never changes while the row is
// unpublished (a seq is never reused, and retention purges a payload with its state
// row). A row this process did not commit, or whose entry was dropped, is read from
// the outbox as before. An entry the relay never asks for (a row another process
// published, an ingest rolled back by an enclosing transaction) is dropped with its
// generation.
//
// Two generations of at most size entries each: when the newer is full, the older is
// dropped.
type outboxCache struct {
	mu   sync.Mutex
	msgs generations[int64, *canonical.Message]
}

// defaultOutboxCache is the default size of one generation: four relay batches, a few
// megabytes of payloads.
const defaultOutboxCache = 4096

func newOutboxCache(size int) *outboxCache {
	if size < 0 {
		return nil
	}
	if size == 0 {
		size = defaultOutboxCache
	}
	return &outboxCache{msgs: newGenerations[int64, *canonical.Message](size)}
}

// outboxMessage is the message the relay reads from an outbox row written with these
// values: the same fields, and the event time as PostgreSQL keeps it (microseconds) in
// UTC, as scanOutbox gives it.
func outboxMessage(id uuid.UUID, m *canonical.Message) *canonical.Message {
	return &canonical.Message{SpecVersion: "1.0", DataContentType: "application/json", ID: id.String(),
		Type: m.Type, Subject: m.Subject, Source: m.Source, DataSchema: m.DataSchema, FactSystem: m.FactSystem,
		FactRef: m.FactRef, FactVersion: m.FactVersion, Time: m.Time.Truncate(time.Microsecond).UTC(), Data: m.Data}
}

func (c *outboxCache) put(rows []OutboxMessage) {
	if c == nil || len(rows) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range rows {
		c.msgs.put(r.Seq, r.Message)
	}
}

// fill sets the Message of each row the cache holds and returns the seqs of the others.
func (c *outboxCache) fill(rows []OutboxMessage) (missing []int64) {
	if c == nil {
		missing = make([]int64, len(rows))
		for i, r := range rows {
			missing[i] = r.Seq
		}
		return missing
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, r := range rows {
		// Read once, then published and forgotten: nothing to keep.
		if m, ok := c.msgs.get(r.Seq, false); ok {
			rows[i].Message = m
		} else {
			missing = append(missing, r.Seq)
		}
	}
	return missing
}

// forget drops the entries of rows the broker acknowledged.
func (c *outboxCache) forget(seqs []int64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range seqs {
		c.msgs.delete(s)
	}
}
