package store

import (
	"crypto/sha256"
	"sync"

	"github.com/google/uuid"
)

// identityCache remembers, in one hub process, which person an identifier is linked to,
// so that the facts of a person already seen (several measures of one person, every
// version of one measure) do not each probe the identities table again: in a backfill
// of APPI's history that was two probes per row, the second largest statement of the
// whole path in PostgreSQL.
//
// A link never changes but by an operator's merge (DecideIdentityReview), which moves a
// person's identifiers to another: every other writer only adds identifiers. So an
// entry stays true until a merge, and a merge raises identity_epoch in its
// transaction (the triggers of migrations 0028 and 0029 raise it at any UPDATE, DELETE
// or TRUNCATE of the links, so an older binary's merge or a change made by hand does
// too). A resolution reads the epoch under its identifier locks, which a merge takes
// all of: no merge runs between that read and its commit, and an epoch other than the
// cache's empties it. A change by hand takes no lock: one that commits during a
// resolution empties the caches at the next one. Hub processes sharing the database
// each keep their own cache and read the same epoch.
//
// Entries are fixed-size, with no pointer for the collector to follow (a key is a hash
// of the identifier; a value, a person id's 16 bytes), in two generations: a lookup
// that finds an entry in the older one moves it to the newer, and when the newer one is
// full the older is dropped. At most 2 × size entries, about 80 bytes each in a Go map.
type identityCache struct {
	epochEntries[uuid.UUID]
}

// epochEntries are entries about identifiers that hold at one identity_epoch, in two
// generations: what identityCache and identitySet share.
type epochEntries[V any] struct {
	mu      sync.Mutex
	epoch   int64 // of the entries; -1 before the first
	entries generations[identityHash, V]
}

func newEpochEntries[V any](size int) epochEntries[V] {
	return epochEntries[V]{epoch: -1, entries: newGenerations[identityHash, V](size)}
}

// at follows epoch, read by a transaction: a later one than the entries' empties them
// first. It reports whether the entries hold at epoch (an earlier one: they do not).
// e.mu is held.
func (e *epochEntries[V]) at(epoch int64) bool {
	if epoch > e.epoch {
		e.epoch = epoch
		e.entries.clear()
	}
	return epoch == e.epoch
}

// identityHash is the first 16 bytes of SHA-256(system, NUL, value): an identifier's
// key in the cache, its value never kept.
type identityHash [16]byte

// defaultIdentityCache is the default size of one generation of the cache: enough for
// the identifiers of APPI's national history (about 370,000 in a backfill of 2,000,000
// rows), where 131,072 kept only seven lookups in ten.
const defaultIdentityCache = 1 << 18

func newIdentityCache(opt int) *identityCache {
	size, ok := cacheSize(opt, defaultIdentityCache)
	if !ok {
		return nil
	}
	return &identityCache{newEpochEntries[uuid.UUID](size)}
}

func hashIdentifier(id Identifier) identityHash {
	h := sha256.New()
	h.Write([]byte(id.System))
	h.Write([]byte{0})
	h.Write([]byte(id.Value))
	var out identityHash
	copy(out[:], h.Sum(nil))
	return out
}

// lookup returns the epoch of the cache's entries and the person each identifier of
// ids is known to be linked to (absent when unknown).
func (c *identityCache) lookup(ids []Identifier) (int64, map[Identifier]string) {
	found := map[Identifier]string{}
	if c == nil {
		return -1, found
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		if p, ok := c.entries.get(hashIdentifier(id), true); ok {
			found[id] = p.String()
		}
	}
	return c.epoch, found
}

// remember records links read or written at epoch, once their transaction committed.
// Links of an epoch the cache has left are dropped; a later epoch empties the cache
// first. A person id that is not a UUID in its canonical form is not kept.
func (c *identityCache) remember(epoch int64, links map[Identifier]string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at(epoch) {
		return
	}
	for id, pid := range links {
		if u, err := uuid.Parse(pid); err == nil && u.String() == pid {
			c.entries.put(hashIdentifier(id), u)
		}
	}
}

// identitySet remembers which identifiers the identities table holds, for the links
// the deliverers write from the destinations' receipts (a PRISME dossier's id, on
// every acknowledgement): an identifier the set holds needs no insert, which would do
// nothing. It says nothing of the person, so a merge cannot make it wrong; a link
// deleted (by hand: no code of the hub deletes one) raises identity_epoch like a
// merge, and a set asked at another epoch than its entries' empties itself. A delete
// that commits between a transaction's read of the epoch and its commit leaves that
// identifier out until the next receipt that carries it. Pointer-free, in two
// generations like identityCache, about 40 bytes an entry.
type identitySet struct {
	epochEntries[struct{}]
}

// defaultIdentitySet is the default size of one generation of the set (a backfill of
// 2,000,000 APPI rows gave 146,000 PRISME dossiers).
const defaultIdentitySet = 1 << 17

func newIdentitySet(opt int) *identitySet {
	size, ok := cacheSize(opt, defaultIdentitySet)
	if !ok {
		return nil
	}
	return &identitySet{newEpochEntries[struct{}](size)}
}

// missing returns the indexes of the identifiers of ids the set does not hold, asked
// by a transaction that read epoch: all of them when the set's entries are of an
// earlier epoch (it empties itself) or a later one.
func (c *identitySet) missing(epoch int64, ids []Identifier) []int {
	out := make([]int, 0, len(ids))
	if c == nil {
		for i := range ids {
			out = append(out, i)
		}
		return out
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	current := c.at(epoch)
	for i, id := range ids {
		if !current {
			out = append(out, i)
		} else if _, ok := c.entries.get(hashIdentifier(id), true); !ok {
			out = append(out, i)
		}
	}
	return out
}

// add records identifiers the table holds, once the transaction that wrote them (and
// read epoch) committed. Those of an epoch the set has left, or of none (-1: the
// transaction did not read it), are not kept.
func (c *identitySet) add(epoch int64, ids []Identifier) {
	if c == nil || epoch < 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at(epoch) {
		return
	}
	for _, id := range ids {
		c.entries.put(hashIdentifier(id), struct{}{})
	}
}
