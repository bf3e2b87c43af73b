package walkv

import (
	"iter"
	"unsafe"

	"github.com/google/btree"

	"promo/store/kv"
)

// item is one write held in memory: a value, or a deletion.
type item struct {
	b   kv.Bucket
	k   string
	v   []byte
	del bool
}

func less(a, b item) bool {
	if a.b != b.b {
		return a.b < b.b
	}
	return a.k < b.k
}

func (it item) size() int64 { return int64(len(it.b) + len(it.k) + len(it.v) + 64) }

type tree = btree.BTreeG[item]

func newTree() *tree { return btree.NewG(32, less) }

// probe is a lookup key that borrows k's bytes: the tree keeps no lookup key.
func probe(b kv.Bucket, k []byte) item {
	if len(k) == 0 {
		return item{b: b}
	}
	return item{b: b, k: unsafe.String(&k[0], len(k))}
}

// view reads through layers of writes held in memory, newest first, and
// then the database file. It keeps the first failure, as kv.Tx requires.
type view struct {
	layers []*tree
	base   kv.Tx
	err    error
}

func (v *view) Err() error {
	if v.err != nil {
		return v.err
	}
	return v.base.Err()
}

func (v *view) Get(b kv.Bucket, key []byte) []byte {
	p := probe(b, key)
	for _, t := range v.layers {
		if it, ok := t.Get(p); ok {
			if it.del {
				return nil
			}
			return it.v
		}
	}
	return v.base.Get(b, key)
}

// items yields the layer's items of bucket b in r, in r's order.
func items(t *tree, b kv.Bucket, r kv.Range) iter.Seq[item] {
	return func(yield func(item) bool) {
		if !r.Reverse {
			t.AscendGreaterOrEqual(probe(b, r.Start), func(it item) bool {
				if it.b != b || (r.End != nil && it.k >= string(r.End)) {
					return false
				}
				return yield(it)
			})
			return
		}
		pivot := item{b: b + "\x00"} // after every key of b
		if r.End != nil {
			pivot = probe(b, r.End)
		}
		t.DescendLessOrEqual(pivot, func(it item) bool {
			if it.b != b {
				return it.b > b // keys of later buckets come first
			}
			if r.End != nil && it.k >= string(r.End) {
				return true
			}
			if r.Start != nil && it.k < string(r.Start) {
				return false
			}
			return yield(it)
		})
	}
}

// merged yields the layers' items in r's order; where layers hold the same
// key, the newest layer's item wins.
func merged(layers []*tree, b kv.Bucket, r kv.Range) iter.Seq[item] {
	return func(yield func(item) bool) {
		type src struct {
			next func() (item, bool)
			stop func()
			cur  item
			ok   bool
		}
		var srcs []*src
		for _, t := range layers {
			if t.Len() == 0 {
				continue
			}
			next, stop := iter.Pull(items(t, b, r))
			s := &src{next: next, stop: stop}
			s.cur, s.ok = next()
			srcs = append(srcs, s)
		}
		defer func() {
			for _, s := range srcs {
				s.stop()
			}
		}()
		before := func(a, c string) bool { return a < c }
		if r.Reverse {
			before = func(a, c string) bool { return a > c }
		}
		for {
			best := -1
			for i, s := range srcs {
				if s.ok && (best < 0 || before(s.cur.k, srcs[best].cur.k)) {
					best = i // ties keep the earlier, newer layer
				}
			}
			if best < 0 {
				return
			}
			it := srcs[best].cur
			for _, s := range srcs {
				if s.ok && s.cur.k == it.k {
					s.cur, s.ok = s.next()
				}
			}
			if !yield(it) {
				return
			}
		}
	}
}

// holds reports whether t has an item of bucket b in r.
func holds(t *tree, b kv.Bucket, r kv.Range) bool {
	for range items(t, b, r) {
		return true
	}
	return false
}

func (v *view) Scan(b kv.Bucket, r kv.Range, fn func(k, v []byte) bool) {
	// Only the layers with writes in r take part: most scans (a
	// campaign's holds, a customer's codes) find none, and merging costs
	// a coroutine per layer.
	var layers []*tree
	for _, t := range v.layers {
		if t.Len() > 0 && holds(t, b, r) {
			layers = append(layers, t)
		}
	}
	if len(layers) == 0 {
		v.base.Scan(b, r, fn)
		return
	}
	next, stop := iter.Pull(merged(layers, b, r))
	defer stop()
	mem, ok := next()
	before := func(a string, c []byte) bool { return a < string(c) }
	if r.Reverse {
		before = func(a string, c []byte) bool { return a > string(c) }
	}
	done := false
	emit := func(it item) bool {
		if it.del {
			return true
		}
		if !fn([]byte(it.k), it.v) {
			done = true
			return false
		}
		return true
	}
	v.base.Scan(b, r, func(k, val []byte) bool {
		for ok && before(mem.k, k) {
			if !emit(mem) {
				return false
			}
			mem, ok = next()
		}
		if ok && mem.k == string(k) {
			shadow := mem
			mem, ok = next()
			return emit(shadow)
		}
		if !fn(k, val) {
			done = true
			return false
		}
		return true
	})
	for ok && !done && v.Err() == nil {
		if !emit(mem) {
			return
		}
		mem, ok = next()
	}
}

// wtx is the writer's transaction: its writes go to batch, the newest layer.
type wtx struct {
	view
	batch *tree
	ops   int
	bytes int64
}

func (t *wtx) Put(b kv.Bucket, key, value []byte) {
	v := make([]byte, len(value))
	copy(v, value)
	t.set(item{b: b, k: string(key), v: v})
}

func (t *wtx) Delete(b kv.Bucket, key []byte) {
	t.set(item{b: b, k: string(key), del: true})
}

func (t *wtx) set(it item) {
	if old, ok := t.batch.ReplaceOrInsert(it); ok {
		t.bytes -= old.size()
	} else {
		t.ops++
	}
	t.bytes += it.size()
}
