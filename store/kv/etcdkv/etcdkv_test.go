package etcdkv_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"promo/store/kv"
	"promo/store/kv/etcdkv"
	"promo/store/kv/etcdkv/etcdtest"
	"promo/store/kv/kvtest"
)

// The shared cluster's limits: room for the contract suite's large
// transaction (20,001 keys and a 1 MiB value).
const (
	clusterMaxOps   = 25_000
	clusterMaxBytes = 8 << 20
)

// shared is the 3-member cluster of this test binary. Tests that stop
// members start their own.
var shared *etcdtest.Cluster

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "etcdkv-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	start := time.Now()
	// The contract's large transaction (20,000 writes) can take etcd longer
	// than its default 7 s under the race detector on a busy machine.
	shared, err = etcdtest.New(dir, etcdtest.Options{MaxTxnOps: clusterMaxOps, MaxRequestBytes: clusterMaxBytes, ElectionMs: 5000})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	if testing.Verbose() {
		fmt.Printf("etcdkv_test: 3-member cluster ready in %v\n", time.Since(start).Round(time.Millisecond))
	}
	code := m.Run()
	shared.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

var prefixes atomic.Int64

// freshPrefix returns a prefix no other test uses.
func freshPrefix(t testing.TB) string {
	return fmt.Sprintf("/test/%s-%d/", t.Name(), prefixes.Add(1))
}

// open opens an engine on c; o's Endpoints and Prefix default to c's
// members and a fresh prefix.
func open(t testing.TB, c *etcdtest.Cluster, o etcdkv.Options) *etcdkv.Engine {
	t.Helper()
	if o.Endpoints == nil {
		o.Endpoints = c.Endpoints()
	}
	if o.Prefix == "" {
		o.Prefix = freshPrefix(t)
	}
	e, err := etcdkv.Open(context.Background(), o)
	require.NoError(t, err)
	t.Cleanup(func() { e.Close() })
	return e
}

func TestEngine_Contract(t *testing.T) {
	for _, optimistic := range []bool{false, true} {
		t.Run(fmt.Sprintf("OptimisticReads=%v", optimistic), func(t *testing.T) {
			kvtest.Run(t, func(t *testing.T, dir string) kv.Engine {
				// The suite reopens an engine on the same dir: the prefix is
				// the dir's, so a reopen finds the data and no two subtests
				// meet.
				sum := sha256.Sum256([]byte(dir))
				e, err := etcdkv.Open(context.Background(), etcdkv.Options{
					Endpoints:       shared.Endpoints(),
					Prefix:          "/kvtest/" + hex.EncodeToString(sum[:8]) + "/",
					MaxOps:          clusterMaxOps,
					MaxBytes:        clusterMaxBytes,
					OptimisticReads: optimistic,
					// The large transaction takes seconds under the race
					// detector.
					Timeout: 30 * time.Second,
					// Eight goroutines increment one key: on a loaded machine
					// one of 400 updates can lose 50 races in a row, which
					// is the contention error working, not a lost update.
					MaxAttempts: 1000,
				})
				require.NoError(t, err)
				return e
			})
		})
	}
}

func keys(t *testing.T, tx kv.Tx, b kv.Bucket, r kv.Range) []string {
	t.Helper()
	out := []string{}
	tx.Scan(b, r, func(k, _ []byte) bool {
		out = append(out, string(k))
		return true
	})
	return out
}

// incr reads key n of bucket b as a number and writes it back plus one.
func incr(tx kv.RwTx, b kv.Bucket) int {
	n, _ := strconv.Atoi(string(tx.Get(b, []byte("n"))))
	tx.Put(b, []byte("n"), []byte(strconv.Itoa(n+1)))
	return n + 1
}

func TestEngine_Update_NoLostUpdateAcrossClients(t *testing.T) {
	for _, optimistic := range []bool{false, true} {
		t.Run(fmt.Sprintf("OptimisticReads=%v", optimistic), func(t *testing.T) { testNoLostUpdate(t, optimistic) })
	}
}

func testNoLostUpdate(t *testing.T, optimistic bool) {
	prefix := freshPrefix(t)
	a := open(t, shared, etcdkv.Options{Prefix: prefix, OptimisticReads: optimistic})
	b := open(t, shared, etcdkv.Options{Prefix: prefix, OptimisticReads: optimistic})
	const rounds = 500
	var runs [2]atomic.Int64
	var most atomic.Int64 // the most runs of fn one update took
	var wg sync.WaitGroup
	for i, e := range []*etcdkv.Engine{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				var got int
				n := int64(0)
				err := e.Update(func(tx kv.RwTx) error {
					n++
					runs[i].Add(1)
					got = incr(tx, "c")
					tx.Put("c", fmt.Appendf(nil, "by-%d-%03d", i, r), []byte(strconv.Itoa(got)))
					return nil
				})
				if !assertNoError(t, err) {
					return
				}
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
			}
		}()
	}
	wg.Wait()
	require.Equal(t, strconv.Itoa(2*rounds), string(kvtest.Get(t, a, "c", "n")), "every commit counted once")
	seen := map[string]bool{}
	require.NoError(t, a.View(func(tx kv.Tx) error {
		tx.Scan("c", kv.Prefix([]byte("by-")), func(_, v []byte) bool {
			seen[string(v)] = true
			return true
		})
		return nil
	}))
	require.Len(t, seen, 2*rounds, "each commit saw a count no other commit saw")
	t.Logf("%d updates ran fn %d times, at most %d times for one", 2*rounds, runs[0].Load()+runs[1].Load(), most.Load())
}

// assertNoError reports err from a goroutine other than the test's.
func assertNoError(t *testing.T, err error) bool {
	if err != nil {
		t.Errorf("unexpected error: %v", err)
		return false
	}
	return true
}

func TestEngine_Update_ScanThenInsertConflicts(t *testing.T) {
	prefix := freshPrefix(t)
	a := open(t, shared, etcdkv.Options{Prefix: prefix})
	b := open(t, shared, etcdkv.Options{Prefix: prefix})
	kvtest.Put(t, a, "s", "k1", "", "z", "")
	runs := 0
	require.NoError(t, a.Update(func(tx kv.RwTx) error {
		runs++
		seen := keys(t, tx, "s", kv.Prefix([]byte("k")))
		if runs == 1 {
			require.Equal(t, []string{"k1"}, seen)
			// Another client inserts into the range a scanned, between a's
			// snapshot and its commit.
			kvtest.Put(t, b, "s", "k2", "")
		} else {
			require.Equal(t, []string{"k1", "k2"}, seen, "the rerun sees the insertion")
		}
		tx.Put("s", []byte("count"), []byte(strconv.Itoa(len(seen))))
		return nil
	}))
	require.Equal(t, 2, runs, "the insertion made the first commit fail")
	require.Equal(t, "2", string(kvtest.Get(t, a, "s", "count")))

	// A change outside the part of the range a Scan visited does not.
	runs = 0
	require.NoError(t, a.Update(func(tx kv.RwTx) error {
		runs++
		tx.Scan("s", kv.Prefix([]byte("k")), func(k, _ []byte) bool { return false }) // visits k1
		if runs == 1 {
			kvtest.Put(t, b, "s", "k3", "")
		}
		tx.Put("s", []byte("first"), []byte("k1"))
		return nil
	}))
	require.Equal(t, 1, runs, "k3 lies after the key the scan stopped at")
}

func TestEngine_Update_ScanThenDeleteIsNotSeen(t *testing.T) {
	// The documented limit of a ranged compare: a deletion in a scanned
	// range leaves no key to compare.
	prefix := freshPrefix(t)
	a := open(t, shared, etcdkv.Options{Prefix: prefix})
	b := open(t, shared, etcdkv.Options{Prefix: prefix})
	kvtest.Put(t, a, "s", "k1", "", "k2", "")
	runs := 0
	require.NoError(t, a.Update(func(tx kv.RwTx) error {
		runs++
		seen := keys(t, tx, "s", kv.All)
		if runs == 1 {
			require.NoError(t, b.Update(func(tx kv.RwTx) error {
				tx.Delete("s", []byte("k2"))
				return nil
			}))
		}
		tx.Put("t", []byte("count"), []byte(strconv.Itoa(len(seen))))
		return nil
	}))
	require.Equal(t, 1, runs)
	require.Equal(t, "2", string(kvtest.Get(t, a, "t", "count")))
}

func TestEngine_Update_GetThenChangeConflicts(t *testing.T) {
	prefix := freshPrefix(t)
	a := open(t, shared, etcdkv.Options{Prefix: prefix})
	b := open(t, shared, etcdkv.Options{Prefix: prefix})
	runs := 0
	require.NoError(t, a.Update(func(tx kv.RwTx) error {
		runs++
		v := tx.Get("g", []byte("absent"))
		if runs == 1 {
			require.Nil(t, v)
			kvtest.Put(t, b, "g", "absent", "now")
		} else {
			require.Equal(t, "now", string(v))
		}
		tx.Put("g", []byte("other"), nil)
		return nil
	}))
	require.Equal(t, 2, runs, "a key read absent and then created fails the commit")
}

func TestEngine_Update_OptimisticSnapshotIsCheckedBeforeAnswering(t *testing.T) {
	for _, tc := range []struct {
		name       string
		optimistic bool
		wantRuns   int
	}{
		// A linearizable snapshot was current when fn read it: its answer
		// stands.
		{"Linearizable", false, 1},
		// An optimistic one is checked first: it is stale by then, and fn
		// runs again on the current state.
		{"Optimistic", true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := freshPrefix(t)
			a := open(t, shared, etcdkv.Options{Prefix: prefix, OptimisticReads: tc.optimistic})
			b := open(t, shared, etcdkv.Options{Prefix: prefix})
			kvtest.Put(t, a, "o", "k", "1")
			for _, fails := range []bool{true, false} {
				kvtest.Put(t, a, "o", "k", "1")
				runs := 0
				var seen string
				err := a.Update(func(tx kv.RwTx) error {
					runs++
					seen = string(tx.Get("o", []byte("k")))
					if runs == 1 {
						kvtest.Put(t, b, "o", "k", "2")
					}
					if fails {
						return errNotFound
					}
					return nil // read only
				})
				if fails {
					require.ErrorIs(t, err, errNotFound)
				} else {
					require.NoError(t, err)
				}
				require.Equal(t, tc.wantRuns, runs, "fn failing: %v", fails)
				require.Equal(t, map[int]string{1: "1", 2: "2"}[runs], seen)
			}
		})
	}
}

var errNotFound = errors.New("not found")

// A key an optimistic engine wrote is read from its cache with no round
// trip, and a change another engine made since fails the commit: fn runs
// again on the current value, and no increment is lost.
func TestEngine_Update_CachedReadIsCheckedAtCommit(t *testing.T) {
	prefix := freshPrefix(t)
	a := open(t, shared, etcdkv.Options{Prefix: prefix, OptimisticReads: true})
	b := open(t, shared, etcdkv.Options{Prefix: prefix, OptimisticReads: true})
	require.NoError(t, a.Update(func(tx kv.RwTx) error { incr(tx, "n"); return nil })) // n = 1, cached by a
	require.NoError(t, b.Update(func(tx kv.RwTx) error { incr(tx, "n"); return nil })) // n = 2, behind a's back
	var seen []int
	require.NoError(t, a.Update(func(tx kv.RwTx) error {
		seen = append(seen, incr(tx, "n")-1)
		return nil
	}))
	require.Equal(t, []int{1, 2}, seen, "the first run read a's cached 1, the second the current 2")
	require.Equal(t, "3", string(kvtest.Get(t, b, "n", "n")))
}

// A run after a conflict reads at the failed commit's revision, which was
// current; a key it then takes from the cache was not, so an answer that
// rests on it is checked before Update returns it.
func TestEngine_Update_CachedReadAfterAConflictIsChecked(t *testing.T) {
	prefix := freshPrefix(t)
	a := open(t, shared, etcdkv.Options{Prefix: prefix, OptimisticReads: true})
	b := open(t, shared, etcdkv.Options{Prefix: prefix, OptimisticReads: true})
	kvtest.Put(t, a, "k", "x", "1")
	kvtest.Put(t, a, "k", "y", "1") // both cached by a
	kvtest.Put(t, b, "k", "x", "2")
	kvtest.Put(t, b, "k", "y", "2")
	runs := 0
	var y string
	err := a.Update(func(tx kv.RwTx) error {
		runs++
		if string(tx.Get("k", []byte("x"))) == "1" {
			tx.Put("k", []byte("z"), []byte("on a stale x")) // fails the commit
			return nil
		}
		y = string(tx.Get("k", []byte("y")))
		return errNotFound
	})
	require.ErrorIs(t, err, errNotFound)
	require.Equal(t, "2", y, "the answer rests on the current y")
	require.Equal(t, 3, runs, "a stale x, then a stale y from the cache, then both current")
	require.Nil(t, kvtest.Get(t, b, "k", "z"))
}

func TestEngine_Update_OverTheLimitsWritesNothing(t *testing.T) {
	e := open(t, shared, etcdkv.Options{}) // etcd's default limits
	require.Equal(t, kv.Limits{MaxOps: 128, MaxBytes: 1536 * 1024}, e.Limits())
	empty := func() {
		t.Helper()
		require.NoError(t, e.View(func(tx kv.Tx) error {
			require.Empty(t, keys(t, tx, "l", kv.All))
			return nil
		}))
	}

	err := e.Update(func(tx kv.RwTx) error {
		for i := 0; i < 129; i++ {
			tx.Put("l", fmt.Appendf(nil, "%03d", i), nil)
		}
		return nil
	})
	require.ErrorIs(t, err, kv.ErrTooLarge)
	require.NotErrorIs(t, err, kv.ErrUnavailable)
	empty()

	require.NoError(t, e.Update(func(tx kv.RwTx) error {
		for i := 0; i < 128; i++ {
			tx.Put("l", fmt.Appendf(nil, "%03d", i), nil)
		}
		return nil
	}), "128 writes fit")
	require.NoError(t, e.Update(func(tx kv.RwTx) error {
		for i := 0; i < 128; i++ {
			tx.Delete("l", fmt.Appendf(nil, "%03d", i))
		}
		return nil
	}))
	empty()

	err = e.Update(func(tx kv.RwTx) error {
		for i := 0; i < 129; i++ {
			tx.Get("r", fmt.Appendf(nil, "%03d", i))
		}
		tx.Put("l", []byte("x"), nil)
		return nil
	})
	require.ErrorIs(t, err, kv.ErrTooLarge, "each read is a compare, and compares count")
	empty()

	err = e.Update(func(tx kv.RwTx) error {
		tx.Put("l", []byte("big"), make([]byte, 1536*1024))
		return nil
	})
	require.ErrorIs(t, err, kv.ErrTooLarge)
	empty()

	// An engine that believes the cluster takes more than it does: the
	// cluster refuses the Txn, before proposing it.
	loose := open(t, shared, etcdkv.Options{MaxOps: clusterMaxOps + 10, MaxBytes: 64 << 20})
	err = loose.Update(func(tx kv.RwTx) error {
		for i := 0; i < clusterMaxOps+1; i++ {
			tx.Put("l", fmt.Appendf(nil, "%06d", i), nil)
		}
		return nil
	})
	require.ErrorIs(t, err, kv.ErrTooLarge)
	require.NotErrorIs(t, err, kv.ErrUncertain)
	err = loose.Update(func(tx kv.RwTx) error {
		tx.Put("l", []byte("big"), make([]byte, clusterMaxBytes+1))
		return nil
	})
	require.ErrorIs(t, err, kv.ErrTooLarge)
	require.NotErrorIs(t, err, kv.ErrUncertain)
	require.NoError(t, loose.View(func(tx kv.Tx) error {
		require.Empty(t, keys(t, tx, "l", kv.All))
		return nil
	}))
}

// model is the expected content of a bucket, for the paging tests.
type model map[string]string

func (m model) scan(r kv.Range) []string {
	var out []string
	for k, v := range m {
		if r.Contains([]byte(k)) {
			out = append(out, k+"="+v)
		}
	}
	sort.Strings(out)
	if r.Reverse {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out
}

func scanAll(tx kv.Tx, b kv.Bucket, r kv.Range) []string {
	var out []string
	tx.Scan(b, r, func(k, v []byte) bool {
		out = append(out, string(k)+"="+string(v))
		return true
	})
	return out
}

func TestEngine_Scan_PagesAndMergesWrites(t *testing.T) {
	e := open(t, shared, etcdkv.Options{MaxOps: clusterMaxOps, MaxBytes: clusterMaxBytes})
	m := model{}
	const n = 3000 // many pages
	require.NoError(t, e.Update(func(tx kv.RwTx) error {
		for i := 0; i < n; i += 2 {
			k := fmt.Sprintf("%05d", i)
			m[k] = "v" + k
			tx.Put("p", []byte(k), []byte(m[k]))
		}
		return nil
	}))
	ranges := []kv.Range{
		kv.All,
		{Reverse: true},
		kv.Prefix([]byte("01")),
		{Start: []byte("00999"), End: []byte("02001"), Reverse: true},
		kv.From([]byte("02990")),
	}
	require.NoError(t, e.View(func(tx kv.Tx) error {
		for _, r := range ranges {
			require.Equal(t, m.scan(r), scanAll(tx, "p", r), "range %q", r)
		}
		return nil
	}))
	// Inside an update, its writes (odd keys, deletions, changes) merge in.
	require.NoError(t, e.Update(func(tx kv.RwTx) error {
		for i := 0; i < n; i += 7 {
			k := fmt.Sprintf("%05d", i)
			switch i % 3 {
			case 0:
				delete(m, k)
				tx.Delete("p", []byte(k))
			default:
				m[k] = "w" + k
				tx.Put("p", []byte(k), []byte(m[k]))
			}
		}
		for _, r := range ranges {
			require.Equal(t, m.scan(r), scanAll(tx, "p", r), "range %q in the update", r)
		}
		return nil
	}))
	require.NoError(t, e.View(func(tx kv.Tx) error {
		for _, r := range ranges {
			require.Equal(t, m.scan(r), scanAll(tx, "p", r), "range %q after the update", r)
		}
		return nil
	}))
}

func TestEngine_View_CompactedSnapshotFailsUnavailable(t *testing.T) {
	// Engine and compacting client talk to one member: a compaction is
	// applied on each member in its time, and that member has applied it
	// when Compact returns.
	one := []string{shared.Endpoint(0)}
	e := open(t, shared, etcdkv.Options{Endpoints: one})
	cli := clientOf(t, one)
	kvtest.Put(t, e, "b", "a", "1", "b", "1")
	err := e.View(func(tx kv.Tx) error {
		tx.Get("b", []byte("a")) // fixes the snapshot
		kvtest.Put(t, e, "b", "a", "2")
		rev := currentRev(t, cli)
		_, err := cli.Compact(context.Background(), rev, clientv3.WithCompactPhysical())
		require.NoError(t, err)
		tx.Get("b", []byte("b"))
		return nil
	})
	require.ErrorIs(t, err, kv.ErrUnavailable)

	// An update whose snapshot is compacted away runs again.
	runs := 0
	require.NoError(t, e.Update(func(tx kv.RwTx) error {
		runs++
		tx.Get("b", []byte("a"))
		if runs == 1 {
			kvtest.Put(t, e, "b", "a", "3")
			_, err := cli.Compact(context.Background(), currentRev(t, cli), clientv3.WithCompactPhysical())
			require.NoError(t, err)
		}
		tx.Get("b", []byte("b"))
		tx.Put("b", []byte("c"), nil)
		return nil
	}))
	require.Equal(t, 2, runs)
}

func client(t testing.TB, c *etcdtest.Cluster) *clientv3.Client {
	return clientOf(t, c.Endpoints())
}

func clientOf(t testing.TB, endpoints []string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { cli.Close() })
	return cli
}

func currentRev(t testing.TB, cli *clientv3.Client) int64 {
	t.Helper()
	resp, err := cli.Get(context.Background(), "/")
	require.NoError(t, err)
	return resp.Header.Revision
}

func TestEngine_Close(t *testing.T) {
	e, err := etcdkv.Open(context.Background(), etcdkv.Options{Endpoints: shared.Endpoints(), Prefix: freshPrefix(t)})
	require.NoError(t, err)
	require.NoError(t, e.Close())
	require.NoError(t, e.Close())
	require.ErrorIs(t, e.Update(func(kv.RwTx) error { return nil }), kv.ErrClosed)
	require.ErrorIs(t, e.View(func(kv.Tx) error { return nil }), kv.ErrClosed)
}

func TestEngine_Stats(t *testing.T) {
	e := open(t, shared, etcdkv.Options{})
	st := e.Stats()
	require.Positive(t, st.FileBytes)
	require.Positive(t, st.UsedBytes)
}

func TestOpen_Errors(t *testing.T) {
	t.Parallel() // waits for a dial to time out
	_, err := etcdkv.Open(context.Background(), etcdkv.Options{})
	require.ErrorContains(t, err, "no etcd endpoints")

	start := time.Now()
	_, err = etcdkv.Open(context.Background(), etcdkv.Options{Endpoints: []string{"http://127.0.0.1:1"}, DialTimeout: 500 * time.Millisecond})
	require.ErrorIs(t, err, kv.ErrUnavailable)
	require.ErrorContains(t, err, "no etcd member answered")
	require.Less(t, time.Since(start), 3*time.Second)

	_, err = etcdkv.Open(context.Background(), etcdkv.Options{Endpoints: shared.Endpoints(), CertFile: "x.crt"})
	require.ErrorContains(t, err, "both its certificate and its key")
}

func TestOpen_TLS(t *testing.T) {
	t.Parallel() // its own cluster
	c := etcdtest.Start(t, etcdtest.Options{Members: 1, TLS: true})
	files := c.TLS()
	e := open(t, c, etcdkv.Options{CAFile: files.CAFile, CertFile: files.CertFile, KeyFile: files.KeyFile})
	kvtest.Put(t, e, "b", "k", "over TLS")
	require.Equal(t, "over TLS", string(kvtest.Get(t, e, "b", "k")))

	_, err := etcdkv.Open(context.Background(), etcdkv.Options{
		Endpoints: c.Endpoints(), CAFile: files.CAFile, DialTimeout: time.Second,
	})
	require.Error(t, err, "the cluster asks for a client certificate")
}

// Prefetched keys and prefixes read as they would without it, merge with
// the transaction's writes, and are checked at commit like any read: a
// change by another engine after the prefetch runs fn again.
func TestEngine_Update_PrefetchReadsAsWithout(t *testing.T) {
	prefix := freshPrefix(t)
	a := open(t, shared, etcdkv.Options{Prefix: prefix, OptimisticReads: true})
	b := open(t, shared, etcdkv.Options{Prefix: prefix, OptimisticReads: true})
	for _, k := range []string{"c1", "h/c1\x00a", "h/c1\x00b", "h/c2\x00a"} {
		kvtest.Put(t, b, "p", k, "v-"+k)
	}
	hints := []kv.Key{{Bucket: "p", Key: []byte("c1")}, {Bucket: "p", Key: []byte("absent")},
		{Bucket: "p", Key: []byte("h/c1\x00"), Prefix: true}}
	runs := 0
	var got []string
	require.NoError(t, a.Update(func(tx kv.RwTx) error {
		runs++
		tx.(kv.Prefetcher).Prefetch(hints)
		if runs == 1 {
			kvtest.Put(t, b, "p", "h/c1\x00c", "v-new") // after the prefetch: a's commit fails
		}
		tx.Put("p", []byte("h/c1\x00aa"), []byte("mine"))
		got = []string{string(tx.Get("p", []byte("c1"))), fmt.Sprint(tx.Get("p", []byte("absent")) == nil)}
		got = append(got, keys(t, tx, "p", kv.Prefix([]byte("h/c1\x00")))...)
		return nil
	}))
	require.Equal(t, 2, runs, "a key put in the prefetched prefix fails the commit")
	require.Equal(t, []string{"v-c1", "true", "h/c1\x00a", "h/c1\x00aa", "h/c1\x00b", "h/c1\x00c"}, got)
}

// Oldest lists keys in the order their last writes committed, the writes
// of one commit in key order, in a View and in an Update alike.
func TestEngine_Oldest_CommitOrder(t *testing.T) {
	e := open(t, shared, etcdkv.Options{Prefix: freshPrefix(t), OptimisticReads: true})
	put := func(keys ...string) {
		require.NoError(t, e.Update(func(tx kv.RwTx) error {
			for _, k := range keys {
				tx.Put("b", []byte(k), []byte("v"+k))
			}
			return nil
		}))
	}
	put("m")
	put("z", "a") // one commit: a before z
	put("c")
	put("m") // rewritten: now the newest
	require.NoError(t, e.Update(func(tx kv.RwTx) error {
		tx.Put("other", []byte("0"), nil) // another bucket is not listed
		return nil
	}))
	want := []string{"a", "z", "c", "m"}
	check := func(tx kv.Tx, n int) {
		keys, values := tx.(kv.CommitOrderer).Oldest("b", n)
		var got []string
		for i, k := range keys {
			require.Equal(t, "v"+string(k), string(values[i]))
			got = append(got, string(k))
		}
		require.Equal(t, want[:min(n, len(want))], got)
	}
	require.NoError(t, e.View(func(tx kv.Tx) error { check(tx, 10); check(tx, 2); return nil }))
	require.NoError(t, e.Update(func(tx kv.RwTx) error { check(tx, 10); return nil }))
	require.NoError(t, e.View(func(tx kv.Tx) error {
		keys, _ := tx.(kv.CommitOrderer).Oldest("empty", 10)
		require.Empty(t, keys)
		return nil
	}))
}
