package store

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"passerelle/canonical"
)

// outboxCache keeps, in one hub process, the messages of the outbox rows it committed
// until the relay marks them published, so that the relay asks PostgreSQL only which
// rows are unpublished (a narrow partial index) and not for every payload it has just
// written: in a backfill of 2,000,000 APPI rows, reading the outbox back was 30 s of
// PostgreSQL's 475.
//
// PostgreSQL stays the authority on what is unpublished and in which order; the cache
// only answers "what does row seq hold", which never changes while the row is
// unpublished (a seq is never reused, and retention purges a payload with its state
// row). A row this process did not commit, or whose entry was dropped, is read from
// the outbox as before. An entry the relay never asks for (a row another process
// published, an ingest rolled back by an enclosing transaction) is dropped with its
// generation.
//
// Two generations of at most size entries and outboxCacheBytes of payloads each: when
// the newer is full, the older is dropped. A message keeps its Data, which may be part
// of a larger buffer of its source (a jsonl line): outboxEntryCost counts for it. Only
// a process whose relay reads the outbox caches (relayReading): the others' messages
// would never be asked for.
type outboxCache struct {
	mu       sync.Mutex
	msgs     generations[int64, *canonical.Message]
	lastRead atomic.Int64 // when the process's relay last read the outbox (Unix ns)
}

// defaultOutboxCache is the default size of one generation: four relay batches.
const defaultOutboxCache = 4096

// outboxCacheBytes bounds the payloads of one generation.
const outboxCacheBytes = 8 << 20

// outboxEntryCost is what an entry costs of outboxCacheBytes: its data and about what
// its source's buffer holds besides (a CloudEvent's other attributes).
func outboxEntryCost(m *canonical.Message) int { return len(m.Data) + 512 }

// relayIdle is how long after its relay's last read a process stops caching: its
// relay lost the lease, or stopped.
const relayIdle = 10 * time.Second

func newOutboxCache(opt int) *outboxCache {
	size, ok := cacheSize(opt, defaultOutboxCache)
	if !ok {
		return nil
	}
	c := &outboxCache{msgs: newGenerations[int64, *canonical.Message](size)}
	c.msgs.budget = outboxCacheBytes
	return c
}

// outboxMessage is the message the relay reads from an outbox row written with these
// values: the same fields, and the event time as PostgreSQL keeps it (microseconds) in
// UTC, as scanOutbox gives it.
func outboxMessage(id uuid.UUID, m *canonical.Message) *canonical.Message {
	return &canonical.Message{SpecVersion: "1.0", DataContentType: "application/json", ID: id.String(),
		Type: m.Type, Subject: m.Subject, Source: m.Source, DataSchema: m.DataSchema, FactSystem: m.FactSystem,
		FactRef: m.FactRef, FactVersion: m.FactVersion, Time: m.Time.Truncate(time.Microsecond).UTC(), Data: m.Data}
}

// relayReading is whether this process's relay read the outbox lately.
func (c *outboxCache) relayReading(now time.Time) bool {
	return c != nil && now.UnixNano()-c.lastRead.Load() < int64(relayIdle)
}

func (c *outboxCache) put(rows []OutboxMessage) {
	if len(rows) == 0 || !c.relayReading(time.Now()) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range rows {
		c.msgs.putCost(r.Seq, r.Message, outboxEntryCost(r.Message))
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
	c.lastRead.Store(time.Now().UnixNano())
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
