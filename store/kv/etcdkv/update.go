package etcdkv

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"promo/store/kv"
)

// Update runs fn in a read-write transaction and commits its writes in one
// etcd Txn that holds only if nothing fn read has changed (see the package
// doc). fn may run more than once. Update returns fn's error or the
// transaction's first failure (nothing written); an error wrapping
// kv.ErrUnavailable when the cluster has no quorum or contention outlasts
// Options.MaxAttempts (nothing written); kv.ErrTooLarge over the limits
// (nothing written); kv.ErrUncertain when the commit was sent and its
// answer lost (it may have taken effect); kv.ErrClosed after Close. It
// returns within about Options.Timeout.
func (e *Engine) Update(fn func(kv.RwTx) error) error {
	if e.closed.Load() {
		return fmt.Errorf("etcdkv: update: %w", kv.ErrClosed)
	}
	ctx, cancel := context.WithTimeout(e.ctx, e.opts.Timeout)
	defer cancel()
	var (
		rev       int64
		prefetch  map[string]read
		immediate bool  // run fn again at once, on what the last Txn read
		linear    bool  // read linearizably even with OptimisticReads
		conflicts int   // failed compares in a row
		sleeps    int   // backoffs so far
		lastErr   error // why the last attempt did not commit
	)
	for attempt := 0; attempt < e.opts.MaxAttempts; attempt++ {
		if attempt > 0 && !immediate {
			if !backoff(ctx, sleeps) {
				break
			}
			sleeps++
		}
		t := &tx{
			e: e, ctx: ctx, writes: newWriteSet(), reads: map[string]read{},
			rev: rev, prefetch: prefetch, fresh: rev != 0,
			optimistic: e.opts.OptimisticReads && !linear,
		}
		// After a backoff the cache is as stale as the snapshot was: read
		// afresh.
		t.cached = t.optimistic && (attempt == 0 || immediate)
		err := fn(t)
		if t.err != nil {
			err = t.err
		}
		if errors.Is(err, errCompacted) {
			rev, prefetch, immediate, lastErr = 0, nil, true, err
			continue
		}
		var res *clientv3.TxnResponse
		var cerr error
		if err != nil || t.writes.len() == 0 {
			// fn failed, or only read: a snapshot known current needs no
			// commit (a read-only update at one snapshot is serialisable as
			// it is). An optimistic snapshot is checked before fn's outcome
			// is believed.
			if t.err != nil || t.fresh || len(t.reads)+len(t.spans) == 0 {
				return err
			}
			res, cerr = t.validate()
			if cerr == nil && res.Succeeded {
				t.remember(0)
				return err
			}
			if errors.Is(cerr, kv.ErrTooLarge) {
				// Too many reads to check in one Txn: read linearizably.
				rev, prefetch, immediate, linear = 0, nil, true, true
				continue
			}
		} else {
			res, cerr = t.commit()
			if cerr == nil && res.Succeeded {
				t.remember(res.Header.Revision)
				return nil
			}
		}
		switch {
		case cerr == nil:
			// A compare failed: another update changed what fn read. The
			// failed Txn read the current values of fn's keys: fn runs again
			// at once on them, before they change again (sleeping first
			// would make them stale). Updates that keep colliding back off
			// a random while and read afresh.
			conflicts++
			lastErr = errConflict
			now := refreshed(t, res)
			if t.optimistic {
				e.cache.contended(changed(t, now))
			}
			if immediate = conflicts <= immediateRetries; immediate {
				rev, prefetch = res.Header.Revision, now
			} else {
				rev, prefetch, conflicts = 0, nil, 0
			}
		case errors.Is(cerr, errRetry):
			rev, prefetch, immediate, lastErr = 0, nil, false, cerr
		default:
			return cerr
		}
	}
	if e.closed.Load() {
		return fmt.Errorf("etcdkv: update: %w", kv.ErrClosed)
	}
	if errors.Is(lastErr, errConflict) {
		return fmt.Errorf("etcdkv: update gave up after %d attempts: other updates kept changing what it read (contention): %w", e.opts.MaxAttempts, kv.ErrUnavailable)
	}
	if lastErr != nil {
		return fmt.Errorf("etcdkv: update gave up within %v: %w", e.opts.Timeout, lastErr)
	}
	return fmt.Errorf("etcdkv: update: etcd did not answer within %v (a cluster without quorum?): %w", e.opts.Timeout, kv.ErrUnavailable)
}

// immediateRetries is how many conflicts in a row an Update retries at once.
const immediateRetries = 3

var (
	errConflict = errors.New("a compare failed")
	// errRetry marks a commit etcd refused without proposing it.
	errRetry = errors.New("etcd refused the commit before proposing it")
)

// backoff sleeps a random time under a bound that doubles with each sleep
// (n = 0, 1, …) from 2 ms up to 64 ms. It returns false when ctx ends
// first.
func backoff(ctx context.Context, n int) bool {
	limit := 2 * time.Millisecond << min(n, 5)
	timer := time.NewTimer(rand.N(limit) + 100*time.Microsecond)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// readSet is what a commit checks: one compare per key got and per span
// scanned, and a Get of each key got for when a compare fails.
type readSet struct {
	cmps     []clientv3.Cmp
	refresh  []clientv3.Op
	bytes    int // the compares' estimated encoding, with the request's
	refBytes int
}

func (t *tx) readSet() (readSet, error) {
	rs := readSet{cmps: make([]clientv3.Cmp, 0, len(t.reads)+len(t.spans)), bytes: txnOverhead}
	keys := make([]string, 0, len(t.reads))
	for k := range t.reads {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	rs.refresh = make([]clientv3.Op, len(keys))
	for i, k := range keys {
		if r := t.reads[k]; r.mod == 0 {
			rs.cmps = append(rs.cmps, clientv3.Compare(clientv3.CreateRevision(k), "=", 0))
		} else {
			rs.cmps = append(rs.cmps, clientv3.Compare(clientv3.ModRevision(k), "=", r.mod))
		}
		rs.refresh[i] = clientv3.OpGet(k)
		rs.refBytes += len(k) + opOverhead
	}
	rs.bytes += rs.refBytes
	for _, s := range t.spans {
		// No key in the span changed or appeared after the snapshot. A key
		// deleted after it is not seen: it is no longer in the range.
		rs.cmps = append(rs.cmps, clientv3.Compare(clientv3.ModRevision(s.start).WithRange(s.end), "<", t.rev+1))
		rs.bytes += len(s.start) + len(s.end) + opOverhead
	}
	// etcd checks each list of a Txn against --max-txn-ops on its own: the
	// compares, the writes, the Gets for a failure (no more than compares).
	if len(rs.cmps) > t.e.opts.MaxOps {
		return rs, fmt.Errorf("etcdkv: the update checks %d reads at commit, more than the %d operations etcd takes in one transaction: %w", len(rs.cmps), t.e.opts.MaxOps, kv.ErrTooLarge)
	}
	return rs, nil
}

// commit sends the writes in one Txn whose compares are the read set.
func (t *tx) commit() (*clientv3.TxnResponse, error) {
	e := t.e
	rs, err := t.readSet()
	if err != nil {
		return nil, err
	}
	size := rs.bytes + t.writes.bytes
	if size > e.opts.MaxBytes {
		return nil, fmt.Errorf("etcdkv: the update's commit takes about %d bytes, more than the %d etcd takes in one request: %w", size, e.opts.MaxBytes, kv.ErrTooLarge)
	}
	if size+rs.refBytes > e.opts.MaxBytes {
		rs.refresh = nil // the values for a rerun are a help, not a need
	}
	ops := make([]clientv3.Op, 0, t.writes.len())
	t.writes.ascend(func(w write) {
		if w.del {
			ops = append(ops, clientv3.OpDelete(w.key))
		} else {
			ops = append(ops, clientv3.OpPut(w.key, string(w.value)))
		}
	})
	resp, err := e.cli.Txn(t.ctx).If(rs.cmps...).Then(ops...).Else(rs.refresh...).Commit()
	if err != nil {
		return nil, e.commitError(t.ctx, err)
	}
	return resp, nil
}

// validate checks an optimistic snapshot's reads against the current state
// in a Txn without writes, which etcd answers linearizably without a
// proposal: nothing can come of it but an answer.
func (t *tx) validate() (*clientv3.TxnResponse, error) {
	rs, err := t.readSet()
	if err != nil {
		return nil, err
	}
	if rs.bytes+rs.refBytes > t.e.opts.MaxBytes {
		return nil, fmt.Errorf("etcdkv: the update checks about %d bytes of reads: %w", rs.bytes+rs.refBytes, kv.ErrTooLarge)
	}
	// etcd serves a Txn whose operations are all serializable Gets (none
	// at all, for an update that only scanned) from the member's own
	// state, however far behind: one linearizable Get, in either branch,
	// makes it check with the leader first.
	linearizable := clientv3.OpGet(t.e.opts.Prefix, clientv3.WithCountOnly())
	resp, err := t.e.cli.Txn(t.ctx).If(rs.cmps...).Then(linearizable).Else(rs.refresh...).Commit()
	if err != nil {
		return nil, t.e.readError(t.ctx, err)
	}
	return resp, nil
}

// remember puts in the engine's cache what an optimistic transaction read
// and, when it committed at revision rev, what it wrote: all current at
// that moment.
func (t *tx) remember(rev int64) {
	if !t.optimistic {
		return
	}
	known := make(map[string]read, len(t.reads)+t.writes.len())
	for k, r := range t.reads {
		known[k] = r
	}
	if rev != 0 {
		t.writes.ascend(func(w write) {
			if w.del {
				known[w.key] = read{}
			} else {
				known[w.key] = read{mod: rev, value: w.value}
			}
		})
	}
	t.e.cache.put(known)
}

// changed returns the keys t got whose ModRevision differs in now, what a
// failed commit brought back (all of them when it brought nothing).
func changed(t *tx, now map[string]read) []string {
	var out []string
	for k, r := range t.reads {
		if cur, ok := now[k]; !ok || cur.mod != r.mod {
			out = append(out, k)
		}
	}
	return out
}

// refreshed returns the values a failed commit brought back, at its
// revision: the keys t got.
func refreshed(t *tx, resp *clientv3.TxnResponse) map[string]read {
	out := make(map[string]read, len(resp.Responses))
	for _, op := range resp.Responses {
		rr := op.GetResponseRange()
		if rr == nil {
			continue
		}
		for _, kv := range rr.Kvs {
			out[string(kv.Key)] = read{mod: kv.ModRevision, value: value(kv)}
		}
	}
	// A key the Gets did not find is absent at that revision.
	for k := range t.reads {
		if _, ok := out[k]; !ok && len(resp.Responses) > 0 {
			out[k] = read{}
		}
	}
	return out
}

// commitError describes a failed Txn: certain to have done nothing, or not.
func (e *Engine) commitError(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, rpctypes.ErrTooManyOps), errors.Is(err, rpctypes.ErrRequestTooLarge), tooLargeForGRPC(err):
		return fmt.Errorf("etcdkv: etcd refused the commit as too large (are Options.MaxOps and MaxBytes above the cluster's --max-txn-ops and --max-request-bytes?): %v: %w", err, kv.ErrTooLarge)
	case errors.Is(err, rpctypes.ErrNoLeader), errors.Is(err, rpctypes.ErrTooManyRequests), proposalDropped(err):
		// Refused before it was proposed: nothing can come of it.
		return fmt.Errorf("%w: %v: %w", errRetry, err, kv.ErrUnavailable)
	case errors.Is(err, rpctypes.ErrNoSpace):
		return fmt.Errorf("etcdkv: etcd is out of space (its backend quota): %v: %w", err, kv.ErrUnavailable)
	case refusedBeforeApply(err):
		return fmt.Errorf("etcdkv: etcd refused the commit: %w", err)
	}
	why := "no answer"
	if e.closed.Load() {
		return fmt.Errorf("etcdkv: the store was closed while a commit was under way: %v: %w (%w)", err, kv.ErrUncertain, kv.ErrClosed)
	}
	if ctx.Err() != nil {
		why = fmt.Sprintf("no answer within %v", e.opts.Timeout)
	}
	return fmt.Errorf("etcdkv: commit sent, %s: %v: %w", why, err, kv.ErrUncertain)
}

// transient reports whether a read failed for want of a leader or of an
// answer: a later read may succeed.
func transient(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, rpctypes.ErrTooManyRequests) {
		return true
	}
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) {
		return ee.Code() == codes.Unavailable
	}
	st, ok := status.FromError(err)
	return ok && (st.Code() == codes.Unavailable || st.Code() == codes.DeadlineExceeded)
}

// tooLargeForGRPC reports a request over a gRPC message limit, the
// client's or the member's: refused before it reached etcd.
func tooLargeForGRPC(err error) bool {
	st, ok := status.FromError(err)
	return ok && st.Code() == codes.ResourceExhausted && strings.Contains(st.Message(), "larger than max")
}

// proposalDropped reports raft dropping a proposal of a member without a
// leader.
func proposalDropped(err error) bool {
	st, ok := status.FromError(err)
	return ok && strings.Contains(st.Message(), "raft proposal dropped")
}

// refusedBeforeApply reports errors etcd returns only on checking a request
// it then does not propose: bad requests, authentication, permissions.
func refusedBeforeApply(err error) bool {
	var ee rpctypes.EtcdError
	if !errors.As(err, &ee) {
		return false
	}
	switch ee.Code() {
	case codes.InvalidArgument, codes.PermissionDenied, codes.Unauthenticated, codes.FailedPrecondition:
		return true
	}
	return false
}
