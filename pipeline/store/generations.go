package store

// generations is a map bounded without bookkeeping per entry, for the process's
// caches: entries go into the newer of two generations, and when it holds size entries
// it becomes the older and the older is dropped. At most 2 × size entries; an entry
// lives between size and 2 × size insertions, longer when get moves it to the newer.
// Not safe for concurrent use: its owner locks.
type generations[K comparable, V any] struct {
	size     int
	cur, old map[K]V
	// budget, when above 0, also bounds the newer generation by the costs given to
	// putCost (bytes): spent is what its entries cost.
	budget, spent int
}

func newGenerations[K comparable, V any](size int) generations[K, V] {
	return generations[K, V]{size: size, cur: make(map[K]V)}
}

func (g *generations[K, V]) put(k K, v V) { g.putCost(k, v, 0) }

// putCost puts an entry that costs cost of the budget.
func (g *generations[K, V]) putCost(k K, v V, cost int) {
	g.cur[k] = v
	g.spent += cost
	if len(g.cur) >= g.size || (g.budget > 0 && g.spent >= g.budget) {
		g.old, g.cur, g.spent = g.cur, make(map[K]V), 0
	}
}

// get returns k's entry; one found in the older generation moves to the newer when
// keep is set (what is asked for again stays).
func (g *generations[K, V]) get(k K, keep bool) (V, bool) {
	if v, ok := g.cur[k]; ok {
		return v, true
	}
	v, ok := g.old[k]
	if ok && keep {
		delete(g.old, k)
		g.put(k, v)
	}
	return v, ok
}

func (g *generations[K, V]) delete(k K) {
	delete(g.cur, k)
	delete(g.old, k)
}

// len is the number of entries held.
func (g *generations[K, V]) len() int { return len(g.cur) + len(g.old) }

// clear drops every entry.
func (g *generations[K, V]) clear() { g.cur, g.old, g.spent = make(map[K]V), nil, 0 }

// cacheSize is the size of one generation of a cache from its option: def for 0, and
// false, no cache, when negative.
func cacheSize(opt, def int) (int, bool) {
	switch {
	case opt < 0:
		return 0, false
	case opt == 0:
		return def, true
	}
	return opt, true
}
