package etcdkv

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"promo/store/kv"
)

// tx is a transaction over one snapshot: a View's, or one attempt of an
// Update's (then writes, reads and spans are set).
type tx struct {
	e   *Engine
	ctx context.Context // an Update's deadline; nil in a View: each read gets Options.Timeout
	rev int64           // the snapshot; 0 until the first read fixes it
	err error

	// optimistic: the first read may be served by any member, however far
	// behind (Options.OptimisticReads). fresh: the snapshot is known to have
	// been current during the transaction (a linearizable read, or a Txn's
	// answer, fixed it).
	optimistic, fresh bool
	cached            bool // optimistic reads may come from the engine's cache

	writes   *writeSet
	reads    map[string]read             // keys got from the snapshot: the read set
	spans    []span                      // parts of ranges scanned
	prefetch map[string]read             // values at rev: brought back by the last failed commit, or prefetched
	scans    map[span][]*mvccpb.KeyValue // whole ranges at rev, prefetched
}

// read is what the snapshot holds at a key.
type read struct {
	mod   int64  // ModRevision; 0 when absent
	value []byte // nil when absent
}

// span is the etcd key range [start, end) a Scan visited.
type span struct{ start, end string }

// errCompacted marks a snapshot that etcd compacted away: an Update runs
// again on a newer one.
var errCompacted = errors.New("the snapshot was compacted")

func (t *tx) Err() error { return t.err }

func (t *tx) fail(err error) {
	if t.err == nil {
		t.err = err
	}
}

// get runs one ranged Get at the snapshot, fixing it on the first read.
func (t *tx) get(key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	ctx := t.ctx
	if ctx == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(t.e.ctx, t.e.opts.Timeout)
		defer cancel()
	}
	if t.rev == 0 {
		if t.optimistic {
			opts = append(opts, clientv3.WithSerializable())
		}
		resp, err := t.e.cli.Get(ctx, key, opts...)
		if err != nil {
			return nil, t.e.readError(ctx, err)
		}
		t.rev, t.fresh = resp.Header.Revision, !t.optimistic
		return resp, nil
	}
	at := append(opts, clientv3.WithRev(t.rev))
	resp, err := t.e.cli.Get(ctx, key, append(at, clientv3.WithSerializable())...)
	if errors.Is(err, rpctypes.ErrFutureRev) {
		// That member has not applied the snapshot yet: a linearizable
		// read waits until it has.
		resp, err = t.e.cli.Get(ctx, key, at...)
	}
	if err != nil {
		if errors.Is(err, rpctypes.ErrCompacted) {
			return nil, fmt.Errorf("etcdkv: revision %d: %w: %w", t.rev, errCompacted, kv.ErrUnavailable)
		}
		return nil, t.e.readError(ctx, err)
	}
	return resp, nil
}

// readError describes a failed read.
func (e *Engine) readError(ctx context.Context, err error) error {
	if e.closed.Load() {
		return fmt.Errorf("etcdkv: read: %w", kv.ErrClosed)
	}
	if transient(err) || ctx.Err() != nil {
		return fmt.Errorf("etcdkv: read: etcd cannot answer (no leader, or no reply within %v): %v: %w", e.opts.Timeout, err, kv.ErrUnavailable)
	}
	return fmt.Errorf("etcdkv: read: %w", err)
}

func value(kv *mvccpb.KeyValue) []byte {
	if kv.Value == nil {
		return []byte{} // present, empty
	}
	return kv.Value
}

func (t *tx) Get(b kv.Bucket, key []byte) []byte {
	if t.err != nil {
		return nil
	}
	ek := t.e.bucketPrefix(b) + string(key)
	if t.writes != nil {
		if w, ok := t.writes.get(ek); ok {
			if w.del {
				return nil
			}
			return w.value
		}
	}
	if t.reads != nil {
		if r, ok := t.reads[ek]; ok {
			return r.value
		}
		if r, ok := t.prefetch[ek]; ok {
			t.reads[ek] = r
			return r.value
		}
		if t.cached {
			if r, ok := t.e.cache.get(ek); ok {
				// Not read at the snapshot: an answer that rests on it is
				// checked before it is believed, as any optimistic read's.
				t.reads[ek], t.fresh = r, false
				return r.value
			}
		}
	}
	resp, err := t.get(ek)
	if err != nil {
		t.fail(err)
		return nil
	}
	var r read
	if len(resp.Kvs) > 0 {
		r = read{mod: resp.Kvs[0].ModRevision, value: value(resp.Kvs[0])}
	}
	if t.reads != nil {
		t.reads[ek] = r
	}
	return r.value
}

// Prefetch gets the keys and prefixes the transaction has not read yet,
// and the keys the cache holds out as contended, in Txns of at most MaxOps
// Gets, at the snapshot (fixing it when none is yet), so that an update's
// Gets and Scans of them take no round trip of their own.
func (t *tx) Prefetch(keys []kv.Key) {
	if t.err != nil || t.reads == nil {
		return
	}
	want := make([]span, 0, len(keys)) // end "" for a key
	seen := make(map[span]bool, len(keys))
	for _, k := range keys {
		bp := t.e.bucketPrefix(k.Bucket)
		s := span{start: bp + string(k.Key)}
		if k.Prefix {
			s.end = t.scanEnd(bp, kv.PrefixEnd(k.Key))
		}
		_, written := t.writes.get(s.start)
		_, read := t.reads[s.start]
		_, fetched := t.prefetch[s.start]
		_, scanned := t.scans[s]
		if !seen[s] && (k.Prefix && !scanned || !k.Prefix && !written && !read && !fetched) {
			want = append(want, s)
		}
		seen[s] = true
	}
	if t.cached {
		// Keys other clients keep changing (two nodes' counters): read
		// afresh, with the rest.
		for _, k := range t.e.cache.hotKeys(t.e.opts.MaxOps / 2) {
			_, written := t.writes.get(k)
			_, read := t.reads[k]
			_, fetched := t.prefetch[k]
			if s := (span{start: k}); !seen[s] && !written && !read && !fetched {
				want = append(want, s)
				seen[s] = true
			}
		}
	}
	for len(want) > 0 {
		n := min(len(want), t.e.opts.MaxOps)
		if !t.getMany(want[:n]) {
			return // a hint only: the reads fetch, and report a failure
		}
		want = want[n:]
	}
}

// scanEnd is the etcd key after a Scan's range in the bucket with prefix
// bp: bp+end, or the bucket's end when end is nil.
func (t *tx) scanEnd(bp string, end []byte) string {
	if end == nil {
		return string(kv.PrefixEnd([]byte(bp)))
	}
	return bp + string(end)
}

// getMany reads keys and ranges at the snapshot in one Txn, into
// t.prefetch and t.scans.
func (t *tx) getMany(spans []span) bool {
	var opts []clientv3.OpOption
	if t.rev != 0 {
		opts = append(opts, clientv3.WithRev(t.rev), clientv3.WithSerializable())
	} else if t.optimistic {
		opts = append(opts, clientv3.WithSerializable())
	}
	ops := make([]clientv3.Op, len(spans))
	for i, s := range spans {
		if s.end == "" {
			ops[i] = clientv3.OpGet(s.start, opts...)
		} else {
			ops[i] = clientv3.OpGet(s.start, append(opts, clientv3.WithRange(s.end), clientv3.WithLimit(minPage))...)
		}
	}
	resp, err := t.e.cli.Txn(t.ctx).Then(ops...).Commit()
	if err != nil || len(resp.Responses) != len(spans) {
		return false
	}
	if t.rev == 0 {
		t.rev, t.fresh = resp.Header.Revision, !t.optimistic
	}
	if t.prefetch == nil {
		t.prefetch = make(map[string]read)
	}
	if t.scans == nil {
		t.scans = make(map[span][]*mvccpb.KeyValue)
	}
	for i, op := range resp.Responses {
		rr := op.GetResponseRange()
		switch s := spans[i]; {
		case rr == nil:
		case s.end != "":
			if !rr.More { // a range of more than a page is left to Scan
				t.scans[s] = rr.Kvs
			}
		case len(rr.Kvs) > 0:
			t.prefetch[s.start] = read{mod: rr.Kvs[0].ModRevision, value: value(rr.Kvs[0])}
		default:
			t.prefetch[s.start] = read{}
		}
	}
	return true
}

// Pages of a Scan start small, for the Scans that want a key or two, and
// grow while their values stay small.
const (
	minPage   = 16
	maxPage   = 1024
	pageBytes = 1 << 20
)

func nextPage(page int, kvs []*mvccpb.KeyValue) int {
	n := 0
	for _, kv := range kvs {
		n += len(kv.Key) + len(kv.Value)
	}
	switch {
	case n > pageBytes && page > 1:
		return page / 2
	case n < pageBytes/2 && page < maxPage:
		return page * 2
	}
	return page
}

// pager yields the snapshot's keys of [lo, hi) in order, a page at a time.
type pager struct {
	t       *tx
	lo, hi  string // what is left to fetch
	reverse bool
	page    int
	buf     []*mvccpb.KeyValue
	more    bool
}

// next returns the next key of the snapshot, nil at the end or on failure.
func (p *pager) next() *mvccpb.KeyValue {
	for len(p.buf) == 0 {
		if !p.more || p.t.err != nil {
			return nil
		}
		p.fetch()
	}
	kv := p.buf[0]
	p.buf = p.buf[1:]
	return kv
}

func (p *pager) fetch() {
	if !p.reverse {
		resp, err := p.t.get(p.lo, clientv3.WithRange(p.hi), clientv3.WithLimit(int64(p.page)))
		if err != nil {
			p.t.fail(err)
			return
		}
		p.buf, p.more = resp.Kvs, resp.More
		if n := len(resp.Kvs); n > 0 {
			p.lo = string(resp.Kvs[n-1].Key) + "\x00"
		}
		p.page = nextPage(p.page, resp.Kvs)
		return
	}
	// etcd sorts a descending range in full before it applies the limit:
	// sort the keys only (its in-memory index), then fetch the page's
	// values in ascending order, which etcd limits as it reads.
	keys, err := p.t.get(p.lo, clientv3.WithRange(p.hi), clientv3.WithKeysOnly(),
		clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend), clientv3.WithLimit(int64(p.page)))
	if err != nil {
		p.t.fail(err)
		return
	}
	p.more = keys.More
	n := len(keys.Kvs)
	if n == 0 {
		p.buf = nil
		return
	}
	first, last := string(keys.Kvs[n-1].Key), string(keys.Kvs[0].Key)
	vals, err := p.t.get(first, clientv3.WithRange(last+"\x00"), clientv3.WithLimit(int64(n)))
	if err != nil {
		p.t.fail(err)
		return
	}
	if len(vals.Kvs) != n {
		p.t.fail(fmt.Errorf("etcdkv: scan: %d keys at revision %d but %d values", n, p.t.rev, len(vals.Kvs)))
		return
	}
	p.buf = make([]*mvccpb.KeyValue, n)
	for i, kv := range vals.Kvs {
		p.buf[n-1-i] = kv
	}
	p.hi = first
	p.page = nextPage(p.page, vals.Kvs)
}

func (t *tx) Scan(b kv.Bucket, r kv.Range, fn func(k, v []byte) bool) {
	if t.err != nil {
		return
	}
	bp := t.e.bucketPrefix(b)
	lo, hi := bp+string(r.Start), t.scanEnd(bp, r.End)
	if lo >= hi {
		return
	}
	p := &pager{t: t, lo: lo, hi: hi, reverse: r.Reverse, page: minPage, more: true}
	if kvs, ok := t.scans[span{lo, hi}]; ok && !r.Reverse {
		p.buf, p.more = kvs, false
	}
	// before reports whether key a comes before key b in the Scan's order.
	before := func(a, b string) bool { return a < b }
	nextWrite := func(after string) (write, bool) { return t.writes.ceil(after, hi) }
	if r.Reverse {
		before = func(a, b string) bool { return a > b }
		nextWrite = func(after string) (write, bool) { return t.writes.floorBelow(after, lo) }
	}
	var w write
	wok := false
	if t.writes != nil {
		if r.Reverse {
			w, wok = nextWrite(hi)
		} else {
			w, wok = nextWrite(lo)
		}
	}
	var last string // the last key fn was given
	stopped := false
	snap := p.next()
	for t.err == nil {
		if wok && (snap == nil || !before(string(snap.Key), w.key)) {
			// The transaction's own write comes first, or shadows the
			// snapshot's key.
			if snap != nil && string(snap.Key) == w.key {
				snap = p.next()
			}
			cur := w
			if r.Reverse {
				w, wok = nextWrite(cur.key)
			} else {
				w, wok = nextWrite(cur.key + "\x00")
			}
			if cur.del {
				continue
			}
			last = cur.key
			if !fn([]byte(cur.key[len(bp):]), cur.value) {
				stopped = true
				break
			}
			continue
		}
		if snap == nil {
			break
		}
		last = string(snap.Key)
		if !fn(snap.Key[len(bp):], value(snap)) {
			stopped = true
			break
		}
		snap = p.next()
	}
	if t.reads == nil || t.err != nil {
		return
	}
	s := span{lo, hi}
	if stopped {
		if r.Reverse {
			s.start = last
		} else {
			s.end = last + "\x00"
		}
	}
	t.spans = append(t.spans, s)
}

func (t *tx) Put(b kv.Bucket, key, value []byte) {
	v := make([]byte, len(value))
	copy(v, value)
	t.set(write{key: t.e.bucketPrefix(b) + string(key), value: v})
}

func (t *tx) Delete(b kv.Bucket, key []byte) {
	t.set(write{key: t.e.bucketPrefix(b) + string(key), del: true})
}

func (t *tx) set(w write) {
	if t.err != nil {
		return
	}
	if t.writes == nil {
		t.fail(fmt.Errorf("etcdkv: a write in a view: %w", kv.ErrReadOnly))
		return
	}
	t.writes.set(w)
	if n := t.writes.len(); n > t.e.opts.MaxOps {
		t.fail(fmt.Errorf("etcdkv: the update writes more than %d keys: %w", t.e.opts.MaxOps, kv.ErrTooLarge))
	} else if t.writes.bytes > t.e.opts.MaxBytes {
		t.fail(fmt.Errorf("etcdkv: the update writes more than %d bytes: %w", t.e.opts.MaxBytes, kv.ErrTooLarge))
	}
}

// Oldest returns up to n keys of b at the snapshot, oldest last write
// first (kv.CommitOrderer), with their values: one keys-only Range sorted
// by ModRevision, then one Txn of Gets.
func (t *tx) Oldest(b kv.Bucket, n int) (keys, values [][]byte) {
	if t.err != nil || n <= 0 {
		return nil, nil
	}
	if t.ctx == nil { // a View: its reads get Options.Timeout
		ctx, cancel := context.WithTimeout(t.e.ctx, t.e.opts.Timeout)
		defer cancel()
		t.ctx = ctx
		defer func() { t.ctx = nil }()
	}
	if t.rev == 0 && t.optimistic {
		// The snapshot must hold every write committed before the call.
		t.optimistic = false
		defer func() { t.optimistic = true }()
	}
	bp := t.e.bucketPrefix(b)
	resp, err := t.get(bp, clientv3.WithRange(t.scanEnd(bp, nil)), clientv3.WithKeysOnly(),
		clientv3.WithSort(clientv3.SortByModRevision, clientv3.SortAscend))
	if err != nil {
		t.fail(err)
		return nil, nil
	}
	kvs := resp.Kvs
	// etcd's sort is not stable: writes of one commit go in key order.
	slices.SortStableFunc(kvs, func(a, b *mvccpb.KeyValue) int {
		if c := cmp.Compare(a.ModRevision, b.ModRevision); c != 0 {
			return c
		}
		return bytes.Compare(a.Key, b.Key)
	})
	for rest := kvs[:min(n, len(kvs))]; len(rest) > 0; {
		part := rest[:min(len(rest), t.e.opts.MaxOps)]
		rest = rest[len(part):]
		// Linearizable Gets at the snapshot: a member that has not applied
		// it yet waits instead of refusing.
		ops := make([]clientv3.Op, len(part))
		for i, p := range part {
			ops[i] = clientv3.OpGet(string(p.Key), clientv3.WithRev(t.rev))
		}
		resp, err := t.e.cli.Txn(t.ctx).Then(ops...).Commit()
		if err != nil {
			t.fail(t.e.readError(t.ctx, err))
			return nil, nil
		}
		for _, op := range resp.Responses {
			if rr := op.GetResponseRange(); rr != nil && len(rr.Kvs) == 1 {
				keys, values = append(keys, rr.Kvs[0].Key[len(bp):]), append(values, value(rr.Kvs[0]))
			}
		}
	}
	return keys, values
}
