// Package kvtest is the contract every kv engine passes: one suite, run by
// each engine's tests against a real instance (as litestream runs one
// replica-client suite against every backend).
package kvtest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"promo/store/kv"
)

// Opener opens the engine kept in dir, creating it when dir is empty. The
// suite calls it again on the same dir to check what survives a reopen.
type Opener func(t *testing.T, dir string) kv.Engine

// Run runs the contract suite against the engine open makes.
func Run(t *testing.T, open Opener) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"GetPutDelete", testGetPutDelete},
		{"EmptyValueIsNotMissing", testEmptyValue},
		{"BucketsAreApart", testBucketsApart},
		{"UpdateSeesItsOwnWrites", testOwnWrites},
		{"FailedUpdateWritesNothing", testFailedUpdate},
		{"Scan", testScan},
		{"ScanMergesUncommittedWrites", testScanOwnWrites},
		{"ViewIsASnapshot", testSnapshot},
		{"ReopenKeepsCommittedWrites", testReopen},
		{"ConcurrentUpdatesAreSerialisable", testSerialisable},
		{"LargeTransaction", testLarge},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

func engine(t *testing.T, open Opener) (kv.Engine, string) {
	dir := t.TempDir()
	e := open(t, dir)
	t.Cleanup(func() { e.Close() })
	return e, dir
}

// Put writes the key-value pairs kvs into bucket b in one Update.
func Put(t *testing.T, e kv.Engine, b kv.Bucket, kvs ...string) {
	t.Helper()
	require.NoError(t, e.Update(func(tx kv.RwTx) error {
		for i := 0; i+1 < len(kvs); i += 2 {
			tx.Put(b, []byte(kvs[i]), []byte(kvs[i+1]))
		}
		return nil
	}))
}

// Get reads key of bucket b in a View (nil when it is missing).
func Get(t *testing.T, e kv.Engine, b kv.Bucket, key string) []byte {
	t.Helper()
	var v []byte
	require.NoError(t, e.View(func(tx kv.Tx) error {
		v = bytes.Clone(tx.Get(b, []byte(key)))
		return nil
	}))
	return v
}

// scan returns "k=v" for each key of r, in the order Scan gives them.
func scan(t *testing.T, tx kv.Tx, b kv.Bucket, r kv.Range) []string {
	t.Helper()
	out := []string{}
	tx.Scan(b, r, func(k, v []byte) bool {
		out = append(out, string(k)+"="+string(v))
		return true
	})
	return out
}

func testGetPutDelete(t *testing.T, open Opener) {
	e, _ := engine(t, open)
	require.Nil(t, Get(t, e, "never", "k"), "a bucket never written is empty")
	Put(t, e, "b", "k1", "v1", "k2", "v2")
	require.Equal(t, []byte("v1"), Get(t, e, "b", "k1"))
	Put(t, e, "b", "k1", "v1b")
	require.Equal(t, []byte("v1b"), Get(t, e, "b", "k1"))
	require.NoError(t, e.Update(func(tx kv.RwTx) error {
		tx.Delete("b", []byte("k1"))
		tx.Delete("b", []byte("missing"))
		tx.Delete("never", []byte("k"))
		return nil
	}))
	require.Nil(t, Get(t, e, "b", "k1"))
	require.Equal(t, []byte("v2"), Get(t, e, "b", "k2"))
}

func testEmptyValue(t *testing.T, open Opener) {
	e, _ := engine(t, open)
	require.NoError(t, e.Update(func(tx kv.RwTx) error {
		tx.Put("b", []byte("empty"), nil)
		tx.Put("b", []byte("also"), []byte{})
		require.NotNil(t, tx.Get("b", []byte("empty")), "inside the transaction")
		return nil
	}))
	require.NoError(t, e.View(func(tx kv.Tx) error {
		require.NotNil(t, tx.Get("b", []byte("empty")))
		require.Len(t, tx.Get("b", []byte("also")), 0)
		require.NotNil(t, tx.Get("b", []byte("also")))
		require.Equal(t, []string{"also=", "empty="}, scan(t, tx, "b", kv.All))
		return nil
	}))
}

func testBucketsApart(t *testing.T, open Opener) {
	e, _ := engine(t, open)
	Put(t, e, "a", "k", "in a", "z", "za")
	Put(t, e, "ab", "k", "in ab")
	Put(t, e, "b", "a", "in b")
	require.NoError(t, e.View(func(tx kv.Tx) error {
		require.Equal(t, []string{"k=in a", "z=za"}, scan(t, tx, "a", kv.All))
		require.Equal(t, []string{"k=in ab"}, scan(t, tx, "ab", kv.All))
		require.Equal(t, []string{"a=in b"}, scan(t, tx, "b", kv.All))
		require.Equal(t, []string{"z=za", "k=in a"}, scan(t, tx, "a", kv.Range{Reverse: true}))
		return nil
	}))
}

func testOwnWrites(t *testing.T, open Opener) {
	e, _ := engine(t, open)
	Put(t, e, "b", "old", "1", "gone", "2")
	require.NoError(t, e.Update(func(tx kv.RwTx) error {
		tx.Put("b", []byte("new"), []byte("3"))
		tx.Put("b", []byte("old"), []byte("1b"))
		tx.Delete("b", []byte("gone"))
		require.Equal(t, []byte("3"), tx.Get("b", []byte("new")))
		require.Equal(t, []byte("1b"), tx.Get("b", []byte("old")))
		require.Nil(t, tx.Get("b", []byte("gone")))
		tx.Put("b", []byte("gone"), []byte("back"))
		require.Equal(t, []byte("back"), tx.Get("b", []byte("gone")))
		tx.Delete("b", []byte("new"))
		require.Nil(t, tx.Get("b", []byte("new")))
		return nil
	}))
	require.Nil(t, Get(t, e, "b", "new"))
	require.Equal(t, []byte("back"), Get(t, e, "b", "gone"))
}

var errBoom = errors.New("boom")

func testFailedUpdate(t *testing.T, open Opener) {
	e, _ := engine(t, open)
	Put(t, e, "b", "k", "v")
	err := e.Update(func(tx kv.RwTx) error {
		tx.Put("b", []byte("k"), []byte("changed"))
		tx.Put("b", []byte("k2"), []byte("new"))
		tx.Delete("b", []byte("k"))
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	require.Equal(t, []byte("v"), Get(t, e, "b", "k"))
	require.Nil(t, Get(t, e, "b", "k2"))
	// The engine keeps working after a failed update.
	Put(t, e, "b", "k3", "v3")
	require.Equal(t, []byte("v3"), Get(t, e, "b", "k3"))
}

func testScan(t *testing.T, open Opener) {
	e, _ := engine(t, open)
	keys := []string{"", "a", "a\x00", "ab", "abc", "a\xff", "b", "b\xff\xff", "c"}
	require.NoError(t, e.Update(func(tx kv.RwTx) error {
		for _, k := range keys {
			if k != "" {
				tx.Put("s", []byte(k), []byte("v"+k))
			}
		}
		return nil
	}))
	keys = keys[1:]
	names := func(out []string) []string {
		for i, s := range out {
			out[i] = s[:bytes.IndexByte([]byte(s), '=')]
		}
		return out
	}
	rev := func(s []string) []string {
		out := make([]string, len(s))
		for i := range s {
			out[i] = s[len(s)-1-i]
		}
		return out
	}
	require.NoError(t, e.View(func(tx kv.Tx) error {
		for _, tc := range []struct {
			r    kv.Range
			want []string
		}{
			{kv.All, keys},
			{kv.Prefix([]byte("a")), []string{"a", "a\x00", "ab", "abc", "a\xff"}},
			{kv.Prefix([]byte("ab")), []string{"ab", "abc"}},
			{kv.Prefix([]byte("b\xff")), []string{"b\xff\xff"}},
			{kv.From([]byte("abc")), []string{"abc", "a\xff", "b", "b\xff\xff", "c"}},
			{kv.Range{Start: []byte("a\x01"), End: []byte("b")}, []string{"ab", "abc", "a\xff"}},
			{kv.Range{End: []byte("a\x00")}, []string{"a"}},
			{kv.Range{Start: []byte("x")}, []string{}},
			{kv.Range{Start: []byte("b"), End: []byte("b")}, []string{}},
		} {
			require.Equal(t, tc.want, names(scan(t, tx, "s", tc.r)), "range %q", tc.r)
			r := tc.r
			r.Reverse = true
			require.Equal(t, rev(tc.want), names(scan(t, tx, "s", r)), "reverse range %q", tc.r)
		}
		var first []string
		tx.Scan("s", kv.All, func(k, _ []byte) bool {
			first = append(first, string(k))
			return len(first) < 2
		})
		require.Equal(t, []string{"a", "a\x00"}, first, "fn returning false stops the scan")
		var last string
		tx.Scan("s", kv.Range{End: []byte("abc"), Reverse: true}, func(k, _ []byte) bool {
			last = string(k)
			return false
		})
		require.Equal(t, "ab", last, "the key before abc")
		return nil
	}))
}

func testScanOwnWrites(t *testing.T, open Opener) {
	e, _ := engine(t, open)
	Put(t, e, "s", "a", "1", "c", "3", "e", "5", "g", "7")
	var all, reverse, span []string
	require.NoError(t, e.Update(func(tx kv.RwTx) error {
		tx.Put("s", []byte("b"), []byte("2"))
		tx.Delete("s", []byte("c"))
		tx.Put("s", []byte("e"), []byte("5b"))
		tx.Put("s", []byte("h"), []byte("8"))
		tx.Delete("s", []byte("zz"))
		all = scan(t, tx, "s", kv.All)
		reverse = scan(t, tx, "s", kv.Range{Reverse: true})
		span = scan(t, tx, "s", kv.Range{Start: []byte("b"), End: []byte("f")})
		return nil
	}))
	// fn may run more than once, on a snapshot an engine then finds stale
	// (etcdkv's optimistic reads); what the run that committed saw counts.
	require.Equal(t, []string{"a=1", "b=2", "e=5b", "g=7", "h=8"}, all)
	require.Equal(t, []string{"h=8", "g=7", "e=5b", "b=2", "a=1"}, reverse)
	require.Equal(t, []string{"b=2", "e=5b"}, span)
	// Once committed, a later transaction scans the same.
	require.NoError(t, e.View(func(tx kv.Tx) error {
		require.Equal(t, []string{"a=1", "b=2", "e=5b", "g=7", "h=8"}, scan(t, tx, "s", kv.All))
		return nil
	}))
}

func testSnapshot(t *testing.T, open Opener) {
	e, _ := engine(t, open)
	Put(t, e, "b", "x", "1", "y", "1")
	started, changed := make(chan struct{}), make(chan struct{})
	go func() {
		<-started
		Put(t, e, "b", "x", "2", "y", "2", "z", "2")
		close(changed)
	}()
	require.NoError(t, e.View(func(tx kv.Tx) error {
		require.Equal(t, []byte("1"), tx.Get("b", []byte("x")))
		close(started)
		<-changed
		require.Equal(t, []byte("1"), tx.Get("b", []byte("y")), "a view sees the state it started with")
		require.Equal(t, []string{"x=1", "y=1"}, scan(t, tx, "b", kv.All))
		return nil
	}))
	require.Equal(t, []byte("2"), Get(t, e, "b", "y"), "a later view sees the update")
}

func testReopen(t *testing.T, open Opener) {
	dir := t.TempDir()
	e := open(t, dir)
	Put(t, e, "b", "k", "v", "gone", "x")
	require.NoError(t, e.Update(func(tx kv.RwTx) error {
		tx.Delete("b", []byte("gone"))
		return nil
	}))
	require.Error(t, e.Update(func(tx kv.RwTx) error {
		tx.Put("b", []byte("never"), []byte("x"))
		return errBoom
	}))
	require.NoError(t, e.Close())
	e = open(t, dir)
	defer e.Close()
	require.Equal(t, []byte("v"), Get(t, e, "b", "k"))
	require.Nil(t, Get(t, e, "b", "gone"))
	require.Nil(t, Get(t, e, "b", "never"))
}

func testSerialisable(t *testing.T, open Opener) {
	e, _ := engine(t, open)
	const workers, each = 8, 50
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				require.NoError(t, e.Update(func(tx kv.RwTx) error {
					n := 0
					if v := tx.Get("c", []byte("n")); v != nil {
						fmt.Sscan(string(v), &n)
					}
					tx.Put("c", []byte("n"), []byte(fmt.Sprint(n+1)))
					tx.Put("c", []byte(fmt.Sprintf("w%d-%03d", w, i)), nil)
					return nil
				}))
			}
		}()
	}
	wg.Wait()
	require.Equal(t, []byte(fmt.Sprint(workers*each)), Get(t, e, "c", "n"), "no increment was lost")
	require.NoError(t, e.View(func(tx kv.Tx) error {
		require.Len(t, scan(t, tx, "c", kv.Prefix([]byte("w"))), workers*each)
		return nil
	}))
}

func testLarge(t *testing.T, open Opener) {
	e, dir := engine(t, open)
	big := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	const n = 20_000
	require.NoError(t, e.Update(func(tx kv.RwTx) error {
		tx.Put("big", []byte("value"), big)
		for i := 0; i < n; i++ {
			tx.Put("many", []byte(fmt.Sprintf("%08d", i)), []byte("v"))
		}
		return nil
	}))
	require.NoError(t, e.Close())
	e = open(t, dir)
	t.Cleanup(func() { e.Close() })
	require.Equal(t, big, Get(t, e, "big", "value"))
	count := 0
	require.NoError(t, e.View(func(tx kv.Tx) error {
		tx.Scan("many", kv.All, func(k, _ []byte) bool {
			require.Equal(t, fmt.Sprintf("%08d", count), string(k))
			count++
			return true
		})
		return nil
	}))
	require.Equal(t, n, count)
}
