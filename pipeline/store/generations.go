package store

// generations is a map bounded without bookkeeping per entry, for the process's
// caches: entries go into the newer of two generations, and when it holds size entries
// it becomes the older and the older is dropped. At most 2 × size entries; an entry
// lives between size and 2 × size insertions, longer when get moves it to the newer.
// Not safe for concurrent use: its owner locks.
type generations[K comparable, V any] struct {
	size     int
	cur, old map[K]V
}

func newGenerations[K comparable, V any](size int) generations[K, V] {
	return generations[K, V]{size: size, cur: make(map[K]V)}
}

func (g *generations[K, V]) put(k K, v V) {
	g.cur[k] = v
	if len(g.cur) >= g.size {
		g.old, g.cur = g.cur, make(map[K]V, g.size)
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
func (g *generations[K, V]) clear() { g.cur, g.old = make(map[K]V), nil }
