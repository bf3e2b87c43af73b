package etcdkv

import "github.com/google/btree"

// write is a buffered put, or a deletion, of an etcd key.
type write struct {
	key   string
	value []byte
	del   bool
}

// opOverhead is what etcdkv counts for the encoding of one operation of a
// Txn beyond its keys and values (etcd's is at most about 20 bytes for a
// put, 30 for a compare); txnOverhead for the request around them.
const (
	opOverhead  = 32
	txnOverhead = 64
)

func (w write) size() int { return len(w.key) + len(w.value) + opOverhead }

// writeSet is an Update's buffered writes, ordered by key as etcd orders
// them, so that Scans merge them over the snapshot in one pass.
type writeSet struct {
	tree  *btree.BTreeG[write]
	bytes int // the estimated encoding of the writes as Txn operations
}

func newWriteSet() *writeSet {
	return &writeSet{tree: btree.NewG(16, func(a, b write) bool { return a.key < b.key })}
}

func (s *writeSet) len() int { return s.tree.Len() }

func (s *writeSet) set(w write) {
	if old, ok := s.tree.ReplaceOrInsert(w); ok {
		s.bytes -= old.size()
	}
	s.bytes += w.size()
}

func (s *writeSet) get(key string) (write, bool) {
	return s.tree.Get(write{key: key})
}

// ceil returns the first write at or after key and before hi.
func (s *writeSet) ceil(key, hi string) (w write, ok bool) {
	s.tree.AscendGreaterOrEqual(write{key: key}, func(it write) bool {
		w, ok = it, it.key < hi
		return false
	})
	return w, ok
}

// floorBelow returns the last write before key and at or after lo.
func (s *writeSet) floorBelow(key, lo string) (w write, ok bool) {
	s.tree.DescendLessOrEqual(write{key: key}, func(it write) bool {
		if it.key == key {
			return true
		}
		w, ok = it, it.key >= lo
		return false
	})
	return w, ok
}

// ascend calls fn with every write in key order.
func (s *writeSet) ascend(fn func(write)) {
	s.tree.Ascend(func(w write) bool {
		fn(w)
		return true
	})
}
