package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"promo/store/kv"
	"promo/store/kv/etcdkv"
)

// A store on an etcd cluster (OpenEtcd) shares its data with every other
// promo process on the same cluster and prefix. What a file-backed store
// keeps in memory because it is the only writer follows the cluster here:
//
//   - The campaign catalog, the API keys and the Bloom filter are loaded at
//     open and then follow etcd watches of their buckets. A lookup reads the
//     code's campaign in its own transaction, so a campaign paused through
//     another node is never redeemed from a stale catalog; a campaign named
//     by id that the catalog does not know yet is read from etcd.
//   - The filter's rule across nodes: a code committed through any node
//     before a lookup begins is never answered not_found. Every transaction
//     that adds codes also writes the meta key codes_rev; a negative answer
//     of the filter is believed only once the node's watch of the codes has
//     passed that key's revision (read linearizably, one read shared by the
//     lookups waiting at that moment); otherwise the lookup reads etcd.
//     Checks for duplicate codes never trust the filter's "no".
//   - What every redemption writes (counters, redemption ids, events) is
//     written under the node's shard, and events are numbered after
//     commit in commit order (shards.go). Other sequences (campaigns,
//     batches, holds) are keys updated in the same transaction as the
//     data: commits that race on them conflict in etcd and run again.
//   - Waiting for events (events --follow, webhooks) follows the events
//     bucket's watch, so events committed through other nodes wake it.
//   - Failed-lookup counts are added to the database as deltas.
//   - The filter is never saved to a file: each node builds it from the
//     codes when it opens.

// metaCodesRev is the meta key every transaction that adds codes writes,
// on a cluster: its revision is the newest generation's.
var metaCodesRev = []byte("codes_rev")

// EtcdOptions are the connection options of OpenEtcd.
type EtcdOptions = etcdkv.Options

// OpenEtcd opens or creates the store kept in an etcd cluster under
// eo.Prefix (etcdkv.DefaultPrefix when empty). It fails with unavailable
// when the cluster cannot be reached. Options that concern files (NoLog,
// Log, LockTimeout, PageSize, NoSync) do not apply.
func OpenEtcd(ctx context.Context, eo EtcdOptions, opts Options) (*Store, error) {
	if eo.Prefix == "" {
		eo.Prefix = etcdkv.DefaultPrefix
	}
	eo.OptimisticReads = true // every Update's reads are checked at commit
	e, err := openEtcdEngine(ctx, eo)
	if err != nil {
		return nil, err
	}
	if opts.MaxBatch <= 0 {
		// A redemption alone writes 9 keys, but a group writes its
		// campaign's counters and the sequences once: about 4 keys and 3
		// checked reads each. A group over the limits is halved.
		opts.MaxBatch = max(1, e.Limits().MaxOps/5)
	}
	name := "etcd " + strings.Join(eo.Endpoints, ",") + " " + strings.TrimSuffix(eo.Prefix, "/") + "/"
	return openEngine(e, name, opts)
}

func openEtcdEngine(ctx context.Context, eo EtcdOptions) (*etcdkv.Engine, error) {
	e, err := etcdkv.Open(ctx, eo)
	if err != nil {
		if errors.Is(err, kv.ErrUnavailable) {
			return nil, &Error{Code: EUnavailable, Message: strings.TrimPrefix(err.Error(), "etcdkv: "), Err: err}
		}
		return nil, &Error{Code: EInvalid, Message: strings.TrimPrefix(err.Error(), "etcdkv: "), Err: err}
	}
	return e, nil
}

// EtcdHasStore reports whether the cluster holds a promo store under
// eo.Prefix, without creating one.
func EtcdHasStore(ctx context.Context, eo EtcdOptions) (bool, error) {
	if eo.Prefix == "" {
		eo.Prefix = etcdkv.DefaultPrefix
	}
	e, err := openEtcdEngine(ctx, eo)
	if err != nil {
		return false, err
	}
	defer e.Close()
	has := false
	err = e.View(func(tx kv.Tx) error {
		has = tx.Get(bucketMeta, metaSchema) != nil
		return nil
	})
	return has, classify(err, "read the etcd prefix")
}

// cluster is the state of a store whose engine other processes write to.
type cluster struct {
	f          kv.Follower
	codesRev   atomic.Int64 // every code committed up to here is in the filter
	codesMu    sync.Mutex
	codesMoved chan struct{} // closed and replaced when codesRev moves
	barrier    revBarrier
	// codesHook, when set (tests), runs before each batch of the codes'
	// watch: a test holds it to keep the watch behind.
	codesHook atomic.Pointer[func()]
	cancel    context.CancelFunc
	// shard is the shard this store writes under (shards.go), claimed
	// as holder; numberMu orders its numberEvents; pending wakes numberLoop.
	shard    atomic.Uint32
	holder   string
	numberMu sync.Mutex
	pending  chan struct{}
	done     sync.WaitGroup
}

// Cluster reports whether the store is shared with other processes (etcd).
func (s *Store) Cluster() bool { return s.cl != nil }

// startCluster notes the revision before init's reads, so that following
// from it misses nothing init did not see.
func (s *Store) startCluster() error {
	f, ok := s.db.(kv.Follower)
	if !ok {
		return nil
	}
	rev, err := f.Revision(context.Background())
	if err != nil {
		return classify(err, "read the cluster's revision")
	}
	shard, holder := randomShard()
	s.cl = &cluster{f: f, codesMoved: make(chan struct{}), holder: holder, pending: make(chan struct{}, 1)}
	s.cl.shard.Store(uint32(shard))
	s.cl.codesRev.Store(rev)
	s.cl.barrier.read = func() (int64, error) {
		return f.KeyRevision(context.Background(), bucketMeta, metaCodesRev)
	}
	return nil
}

// followCluster starts the watches, from the revision startCluster noted.
func (s *Store) followCluster() {
	if s.cl == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cl.cancel = cancel
	if err := s.claimShard(); err != nil {
		s.log.Debug("claiming a shard", "err", err)
	}
	s.cl.done.Add(1)
	go s.numberLoop(ctx)
	from := s.cl.codesRev.Load()
	s.follow(ctx, bucketCodes, from, func(rev int64, changes []kv.Change) {
		if h := s.cl.codesHook.Load(); h != nil {
			(*h)()
		}
		var keys [][]byte
		for _, c := range changes {
			if c.Created {
				keys = append(keys, bytes.Clone(c.Key))
			}
		}
		if len(keys) > 0 {
			s.filter.Load().AddMany(keys)
		}
		s.cl.setCodesRev(rev)
	}, func() error {
		f, _, err := s.buildFilter()
		if err == nil {
			s.filter.Store(f)
		}
		return err
	})
	s.follow(ctx, bucketCampaigns, from, func(_ int64, changes []kv.Change) {
		if len(changes) > 0 {
			s.reloadCatalog()
		}
	}, func() error { s.reloadCatalog(); return nil })
	s.follow(ctx, bucketKeys, from, func(_ int64, changes []kv.Change) {
		if len(changes) > 0 {
			s.reloadKeys()
		}
	}, func() error { s.reloadKeys(); return nil })
	s.follow(ctx, bucketEvents, from, func(_ int64, changes []kv.Change) {
		if len(changes) > 0 {
			s.notifyEvents()
		}
	}, func() error { s.notifyEvents(); return nil })
}

// follow runs one watch until ctx ends, following again after a failure
// from the last revision seen, and after a compaction from a fresh
// revision once reload has brought the cache up to date.
func (s *Store) follow(ctx context.Context, b kv.Bucket, from int64, fn func(int64, []kv.Change), reload func() error) {
	s.cl.done.Add(1)
	go func() {
		defer s.cl.done.Done()
		last := from
		for ctx.Err() == nil {
			err := s.cl.f.Follow(ctx, b, last, func(rev int64, changes []kv.Change) {
				fn(rev, changes)
				last = rev
			})
			if err == nil || ctx.Err() != nil {
				return
			}
			if errors.Is(err, kv.ErrCompacted) {
				rev, rerr := s.cl.f.Revision(ctx)
				if rerr == nil {
					rerr = reload()
				}
				if rerr == nil {
					last = rev
					fn(rev, nil)
					continue
				}
				err = rerr
			}
			s.log.Debug("following the cluster", "bucket", string(b), "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
}

func (s *Store) stopCluster() {
	if s.cl != nil && s.cl.cancel != nil {
		s.cl.cancel()
		s.cl.done.Wait()
	}
}

// reloadCatalog replaces the catalog with the campaigns stored now: after
// a commit that changed one, and on a cluster when another node did.
func (s *Store) reloadCatalog() {
	err := s.db.View(func(tx kv.Tx) error {
		cat, err := loadCatalog(tx)
		if err == nil {
			s.cat.Store(cat)
		}
		return err
	})
	if err != nil {
		s.log.Error("reloading campaigns", "err", err)
	}
}

func (s *Store) reloadKeys() {
	if err := s.db.View(s.keys.load); err != nil {
		s.log.Warn("reloading API keys", "err", err)
	}
}

// filterSaysNo reports whether the filter's "no" for key can be believed:
// always on a file, and on a cluster once the codes' watch has passed the
// newest generation (see the rule above). An error means the cluster
// cannot say: the lookup then reads the code.
func (s *Store) filterSaysNo(key []byte) bool {
	if s.filter.Load().Test(key) {
		return false
	}
	if s.cl == nil {
		return true
	}
	rev, err := s.cl.barrier.wait()
	if err != nil {
		return false
	}
	if !s.cl.waitCodes(rev, filterWait) {
		return false
	}
	return !s.filter.Load().Test(key)
}

// filterWait bounds how long a lookup waits for the codes' watch to pass
// the newest generation before it reads etcd instead.
const filterWait = 500 * time.Millisecond

// waitCodes waits until the codes' watch has passed rev, at most d; it
// reports whether it has.
func (c *cluster) waitCodes(rev int64, d time.Duration) bool {
	if c.codesRev.Load() >= rev {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		c.codesMu.Lock()
		ch := c.codesMoved
		c.codesMu.Unlock()
		if c.codesRev.Load() >= rev {
			return true
		}
		select {
		case <-ch:
		case <-t.C:
			return c.codesRev.Load() >= rev
		}
	}
}

// setCodesRev records that the codes' watch has passed rev.
func (c *cluster) setCodesRev(rev int64) {
	if rev <= c.codesRev.Load() {
		return
	}
	c.codesRev.Store(rev)
	c.codesMu.Lock()
	close(c.codesMoved)
	c.codesMoved = make(chan struct{})
	c.codesMu.Unlock()
}

// mayExist reports whether a code may be stored, for checks of
// uniqueness: on a cluster the filter's "no" is never taken for it
// (another node may have just added the code), so tx reads it.
func (s *Store) mayExist(key []byte) bool {
	return s.cl != nil || s.filter.Load().Test(key)
}

// noteCodesAdded marks, in a transaction that adds codes, the newest
// generation's revision for the other nodes.
func (s *Store) noteCodesAdded(tx *wtx) {
	if s.cl != nil {
		tx.Put(bucketMeta, metaCodesRev, []byte{1})
	}
}

// revBarrier shares linearizable reads among the callers waiting at one
// moment: each caller gets the result of a read that started after it
// called.
type revBarrier struct {
	read    func() (int64, error)
	mu      sync.Mutex
	next    *revCall
	running bool
}

type revCall struct {
	done chan struct{}
	rev  int64
	err  error
}

func (b *revBarrier) wait() (int64, error) {
	b.mu.Lock()
	if b.next == nil {
		b.next = &revCall{done: make(chan struct{})}
	}
	c := b.next
	if !b.running {
		b.running = true
		go b.run()
	}
	b.mu.Unlock()
	<-c.done
	return c.rev, c.err
}

func (b *revBarrier) run() {
	for {
		b.mu.Lock()
		c := b.next
		b.next = nil
		if c == nil {
			b.running = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		c.rev, c.err = b.read()
		close(c.done)
	}
}

// campaignOfTx returns the campaign numbered num as tx sees it: the
// catalog's copy when tx holds the same record, else the record decoded.
// On a file the catalog is always current.
func (s *Store) campaignOfTx(tx kv.Tx, num uint32) (*Campaign, error) {
	cat := s.cat.Load()
	c := cat.byNum[num]
	if s.cl == nil {
		if c == nil {
			return nil, fmt.Errorf("campaign %d missing", num)
		}
		return c, nil
	}
	var id []byte
	if c != nil {
		id = []byte(c.ID)
	} else if id = tx.Get(bucketCampNums, numKey(num)); id == nil {
		return nil, fmt.Errorf("campaign %d missing", num)
	}
	v := tx.Get(bucketCampaigns, id)
	if v == nil {
		return nil, fmt.Errorf("campaign %q missing", id)
	}
	if c != nil && bytes.Equal(v, cat.raw[num]) {
		return c, nil
	}
	return decodeCampaign(v)
}
