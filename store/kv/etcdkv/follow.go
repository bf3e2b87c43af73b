package etcdkv

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"promo/store/kv"
)

var _ kv.Follower = (*Engine)(nil)

// Revision returns the cluster's current revision, read linearizably.
func (e *Engine) Revision(ctx context.Context) (int64, error) {
	return e.KeyRevision(ctx, "meta", nil)
}

// KeyRevision returns the ModRevision of key in b (0 when absent), read
// linearizably; with a nil key, the cluster's current revision.
func (e *Engine) KeyRevision(ctx context.Context, b kv.Bucket, key []byte) (int64, error) {
	if e.closed.Load() {
		return 0, fmt.Errorf("etcdkv: read: %w", kv.ErrClosed)
	}
	ctx, cancel := context.WithTimeout(mergeCtx(ctx, e.ctx), e.opts.Timeout)
	defer cancel()
	resp, err := e.cli.Get(ctx, e.bucketPrefix(b)+string(key), clientv3.WithKeysOnly())
	if err != nil {
		return 0, e.readError(ctx, err)
	}
	if key == nil {
		return resp.Header.Revision, nil
	}
	if len(resp.Kvs) == 0 {
		return 0, nil
	}
	return resp.Kvs[0].ModRevision, nil
}

// mergeCtx returns a context that carries base's values (the leader
// requirement) and ends when either ends.
func mergeCtx(ctx, base context.Context) context.Context {
	out, cancel := context.WithCancel(base)
	stop := context.AfterFunc(ctx, cancel)
	context.AfterFunc(out, func() { stop() })
	return out
}

// Follow watches bucket b from revision after+1 (see kv.Follower). The
// watch asks for a leader: a member cut off from its cluster ends it with
// kv.ErrUnavailable, and etcd's progress notifications report the
// revisions seen while b does not change.
func (e *Engine) Follow(ctx context.Context, b kv.Bucket, after int64, fn func(rev int64, changes []kv.Change)) error {
	if e.closed.Load() {
		return fmt.Errorf("etcdkv: follow: %w", kv.ErrClosed)
	}
	ctx = mergeCtx(ctx, e.ctx)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pfx := e.bucketPrefix(b)
	wch := e.cli.Watch(ctx, pfx, clientv3.WithPrefix(), clientv3.WithRev(after+1), clientv3.WithProgressNotify())
	for resp := range wch {
		if err := resp.Err(); err != nil {
			if errors.Is(err, rpctypes.ErrCompacted) || resp.CompactRevision != 0 {
				return fmt.Errorf("etcdkv: follow %s after revision %d: %w", b, after, kv.ErrCompacted)
			}
			return fmt.Errorf("etcdkv: follow %s: %v: %w", b, err, kv.ErrUnavailable)
		}
		var changes []kv.Change
		rev := int64(0)
		for _, ev := range resp.Events {
			r := ev.Kv.ModRevision
			if rev != 0 && r != rev {
				fn(rev, changes)
				changes = nil
			}
			rev = r
			c := kv.Change{Bucket: b, Key: ev.Kv.Key[len(pfx):]}
			if ev.Type == clientv3.EventTypeDelete {
				c.Deleted = true
			} else {
				c.Value, c.Created = value(ev.Kv), ev.IsCreate()
			}
			changes = append(changes, c)
		}
		if rev != 0 {
			fn(rev, changes)
			after = rev
		}
		if resp.Header.Revision > after && (len(resp.Events) == 0 || resp.IsProgressNotify()) {
			// Progress: every commit up to the header's revision was sent.
			fn(resp.Header.Revision, nil)
			after = resp.Header.Revision
		}
	}
	if ctx.Err() != nil || e.closed.Load() {
		return nil
	}
	return fmt.Errorf("etcdkv: follow %s: the watch ended: %w", b, kv.ErrUnavailable)
}
