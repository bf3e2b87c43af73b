package walkv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"promo/store/kv"
	"promo/store/kv/boltkv"
	"promo/store/kv/kvtest"
	"promo/store/kv/wal"
)

func openAt(t testing.TB, dir string, opts Options) *DB {
	t.Helper()
	base, err := boltkv.Open(filepath.Join(dir, "test.db"), boltkv.Options{})
	require.NoError(t, err)
	d, err := Open(base, filepath.Join(dir, "test.db.wal"), opts)
	require.NoError(t, err)
	return d
}

func TestDB_Contract(t *testing.T) {
	t.Run("CheckpointsOften", func(t *testing.T) {
		kvtest.Run(t, func(t *testing.T, dir string) kv.Engine {
			return openAt(t, dir, Options{Interval: time.Millisecond, MaxOps: 50})
		})
	})
	t.Run("AllInMemory", func(t *testing.T) {
		kvtest.Run(t, func(t *testing.T, dir string) kv.Engine {
			return openAt(t, dir, Options{Interval: time.Hour, MaxOps: 1 << 30})
		})
	})
}

func put(t *testing.T, d kv.Engine, kvs ...string) {
	t.Helper()
	require.NoError(t, d.Update(func(tx kv.RwTx) error {
		for i := 0; i+1 < len(kvs); i += 2 {
			tx.Put("b", []byte(kvs[i]), []byte(kvs[i+1]))
		}
		return nil
	}))
}

func get(t *testing.T, d kv.Engine, k string) string {
	t.Helper()
	var v string
	require.NoError(t, d.View(func(tx kv.Tx) error {
		v = string(tx.Get("b", []byte(k)))
		return nil
	}))
	return v
}

func TestDB_CrashReplaysAcknowledgedWrites(t *testing.T) {
	dir := t.TempDir()
	d := openAt(t, dir, Options{Interval: time.Hour, MaxOps: 1 << 30})
	for i := 0; i < 100; i++ {
		put(t, d, fmt.Sprintf("k%03d", i), fmt.Sprint(i))
	}
	require.NoError(t, d.checkpoint(false))
	put(t, d, "after", "checkpoint", "k000", "changed")
	require.NoError(t, d.Update(func(tx kv.RwTx) error {
		tx.Delete("b", []byte("k001"))
		return nil
	}))
	st := d.Stats().Log
	require.Equal(t, uint64(102), st.LastLSN)
	require.Equal(t, uint64(100), st.AppliedLSN)
	d.abandon()

	var logged bytes.Buffer
	d = openAt(t, dir, Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	defer d.Close()
	require.Contains(t, logged.String(), `msg="replayed the log past the database file" records=2 keys=3`)
	require.Equal(t, "checkpoint", get(t, d, "after"))
	require.Equal(t, "changed", get(t, d, "k000"))
	require.Equal(t, "", get(t, d, "k001"))
	require.Equal(t, "99", get(t, d, "k099"))
	findings, err := d.Check()
	require.NoError(t, err)
	require.Empty(t, findings)
}

func TestDB_CheckpointAppliesAndReleases(t *testing.T) {
	dir := t.TempDir()
	d := openAt(t, dir, Options{Interval: 5 * time.Millisecond, Log: wal.Options{MaxSegment: 16 << 10}})
	for i := 0; i < 500; i++ {
		put(t, d, fmt.Sprintf("k%03d", i%50), fmt.Sprint(i))
	}
	require.Eventually(t, func() bool {
		st := d.Stats().Log
		return st.AppliedLSN == st.LastLSN && st.PendingOps == 0
	}, 10*time.Second, 5*time.Millisecond)
	st := d.Stats().Log
	require.Positive(t, st.Checkpoints)
	require.LessOrEqual(t, st.Segments, 2, "applied segments are released")
	require.NoError(t, d.base.View(func(tx kv.Tx) error {
		require.Equal(t, "499", string(tx.Get("b", []byte("k049"))), "the file holds the writes")
		return nil
	}))
	require.NoError(t, d.Close())
}

func TestDB_FailedSyncIsFatalAndNothingIsLost(t *testing.T) {
	dir := t.TempDir()
	var fail atomic.Bool
	var fatal []error
	opts := Options{Interval: time.Hour, OnFatal: func(err error) { fatal = append(fatal, err) },
		Log: wal.Options{Sync: func(f *os.File) error {
			if fail.Load() {
				return errors.New("input/output error")
			}
			return f.Sync()
		}}}
	d := openAt(t, dir, opts)
	put(t, d, "a", "1", "b", "2")
	fail.Store(true)
	err := d.Update(func(tx kv.RwTx) error {
		tx.Put("b", []byte("c"), []byte("3"))
		return nil
	})
	require.ErrorIs(t, err, kv.ErrUnavailable)
	require.ErrorIs(t, err, wal.ErrSync)
	require.Len(t, fatal, 1)
	require.Equal(t, "", get(t, d, "c"), "a write whose sync failed is not visible")
	fail.Store(false)
	err = d.Update(func(tx kv.RwTx) error {
		tx.Put("b", []byte("d"), []byte("4"))
		return nil
	})
	require.ErrorIs(t, err, kv.ErrUnavailable, "never retried")
	require.Len(t, fatal, 1, "OnFatal is called once")
	d.abandon()

	d = openAt(t, dir, Options{})
	defer d.Close()
	require.Equal(t, "1", get(t, d, "a"))
	require.Equal(t, "2", get(t, d, "b"))
	require.Equal(t, "", get(t, d, "d"))
}

// slowBase makes the file's commits slow or failing, to test the bound
// on what the log holds in memory.
type slowBase struct {
	kv.Engine
	delay time.Duration
	fail  atomic.Bool
}

var errDiskFull = errors.New("no space left on device")

func (s *slowBase) Update(fn func(kv.RwTx) error) error {
	time.Sleep(s.delay)
	if s.fail.Load() {
		return errDiskFull
	}
	return s.Engine.Update(fn)
}

func openSlow(t *testing.T, dir string, delay time.Duration, opts Options) (*DB, *slowBase) {
	t.Helper()
	b, err := boltkv.Open(filepath.Join(dir, "test.db"), boltkv.Options{NoSync: true})
	require.NoError(t, err)
	base := &slowBase{Engine: b, delay: delay}
	d, err := Open(base, filepath.Join(dir, "test.db.wal"), opts)
	require.NoError(t, err)
	return d, base
}

func TestDB_PendingMemoryIsBounded(t *testing.T) {
	const bound = 256 << 10
	d, _ := openSlow(t, t.TempDir(), 50*time.Millisecond, Options{Interval: time.Millisecond, MaxPending: bound})
	defer d.Close()
	value := bytes.Repeat([]byte("v"), 1000)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				require.NoError(t, d.Update(func(tx kv.RwTx) error {
					tx.Put("b", []byte(fmt.Sprintf("w%d-%d", w, i)), value)
					return nil
				}))
			}
		}()
	}
	wg.Wait()
	st := d.Stats().Log
	t.Logf("wrote %d KiB; pending at most %d KiB of %d KiB", 4*300*len(value)>>10, st.PendingHigh>>10, bound>>10)
	require.Greater(t, int64(4*300*len(value)), int64(4*bound), "the load is well past the bound")
	require.LessOrEqual(t, st.PendingHigh, int64(bound+2*len(value)+256), "one write past the bound at most")
	require.Equal(t, value, []byte(get(t, d, "w3-299")))
}

func TestDB_FailingCheckpointsRefuseWritesThenResume(t *testing.T) {
	d, base := openSlow(t, t.TempDir(), 0, Options{Interval: time.Millisecond, MaxPending: 64 << 10})
	defer d.Close()
	base.fail.Store(true)
	value := bytes.Repeat([]byte("v"), 1000)
	var err error
	n := 0
	for ; n < 1000 && err == nil; n++ {
		err = d.Update(func(tx kv.RwTx) error {
			tx.Put("b", []byte(fmt.Sprint(n)), value)
			return nil
		})
	}
	require.ErrorIs(t, err, kv.ErrUnavailable)
	require.ErrorContains(t, err, "no space left")
	require.Less(t, n, 1000)
	require.Equal(t, value, []byte(get(t, d, "0")), "acknowledged writes stay readable")
	base.fail.Store(false)
	require.Eventually(t, func() bool {
		return d.Update(func(tx kv.RwTx) error {
			tx.Put("b", []byte("later"), value)
			return nil
		}) == nil
	}, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, d.flushNow())
	require.Equal(t, d.Stats().Log.LastLSN, d.Stats().Log.AppliedLSN)
}

func TestDB_BulkUpdateGoesToTheFile(t *testing.T) {
	dir := t.TempDir()
	d := openAt(t, dir, Options{Interval: time.Hour, MaxOps: 1 << 30})
	put(t, d, "small", "1")
	require.NoError(t, d.BulkUpdate(func(tx kv.RwTx) error {
		require.Equal(t, []byte("1"), tx.Get("b", []byte("small")), "the pending write was applied first")
		for i := 0; i < 10_000; i++ {
			tx.Put("bulk", []byte(fmt.Sprintf("%05d", i)), []byte("x"))
		}
		return nil
	}))
	st := d.Stats().Log
	require.Equal(t, uint64(2), st.LastLSN, "the bulk write's writes are not in the log, only an empty record marking its place")
	require.Equal(t, uint64(2), st.AppliedLSN)
	d.abandon()
	d = openAt(t, dir, Options{})
	defer d.Close()
	require.NoError(t, d.View(func(tx kv.Tx) error {
		require.NotNil(t, tx.Get("bulk", []byte("09999")))
		require.Equal(t, []byte("1"), tx.Get("b", []byte("small")))
		return nil
	}))
}

// A random sequence of puts, deletes, scans, checkpoints and crashes gives
// the same answers as a map.
func TestDB_RandomOperationsMatchAModel(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	opts := Options{Interval: time.Hour, MaxOps: 1 << 30, Log: wal.Options{MaxSegment: 32 << 10}}
	d := openAt(t, dir, opts)
	defer func() { d.Close() }()
	model := map[string]string{}
	key := func() string { return fmt.Sprintf("k%02d", rng.IntN(60)) }
	for step := 0; step < 3000; step++ {
		switch n := rng.IntN(100); {
		case n < 60:
			require.NoError(t, d.Update(func(tx kv.RwTx) error {
				for i := rng.IntN(4); i >= 0; i-- {
					k := key()
					if rng.IntN(3) == 0 {
						tx.Delete("b", []byte(k))
						delete(model, k)
					} else {
						v := fmt.Sprint(step)
						tx.Put("b", []byte(k), []byte(v))
						model[k] = v
					}
				}
				return nil
			}))
		case n < 85:
			start, end := key(), key()
			if start > end {
				start, end = end, start
			}
			r := kv.Range{Start: []byte(start), End: []byte(end), Reverse: rng.IntN(2) == 0}
			var want []string
			for k, v := range model {
				if k >= start && k < end {
					want = append(want, k+"="+v)
				}
			}
			sort.Strings(want)
			if r.Reverse {
				for i, j := 0, len(want)-1; i < j; i, j = i+1, j-1 {
					want[i], want[j] = want[j], want[i]
				}
			}
			var got []string
			k := key()
			var v []byte
			require.NoError(t, d.View(func(tx kv.Tx) error {
				tx.Scan("b", r, func(k, v []byte) bool {
					got = append(got, string(k)+"="+string(v))
					return true
				})
				v = tx.Get("b", []byte(k))
				return nil
			}))
			require.Equal(t, want, got, "step %d range %q..%q reverse %v", step, start, end, r.Reverse)
			if w, ok := model[k]; ok {
				require.Equal(t, w, string(v), "step %d get %q", step, k)
			} else {
				require.Nil(t, v, "step %d get %q (deleted or never written)", step, k)
			}
		case n < 95:
			require.NoError(t, d.checkpoint(false))
		default:
			d.abandon()
			d = openAt(t, dir, opts)
		}
	}
}

// An update can start before the previous one is durable: it sees the
// previous writes, while readers see them only once synced.
func TestDB_UpdateAsync_Pipelines(t *testing.T) {
	d := openAt(t, t.TempDir(), Options{Interval: time.Hour})
	defer d.Close()
	wait1, err := d.UpdateAsync(func(tx kv.RwTx) error {
		tx.Put("b", []byte("a"), []byte("1"))
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, "", get(t, d, "a"), "not visible before it is synced")
	wait2, err := d.UpdateAsync(func(tx kv.RwTx) error {
		require.Equal(t, []byte("1"), tx.Get("b", []byte("a")), "the next update sees it")
		tx.Put("b", []byte("b"), []byte("2"))
		return nil
	})
	require.NoError(t, err)
	syncs := d.Stats().Log.Syncs
	require.NoError(t, wait2())
	require.NoError(t, wait1())
	require.Equal(t, syncs+1, d.Stats().Log.Syncs, "one fdatasync made both durable")
	require.Equal(t, "1", get(t, d, "a"))
	require.Equal(t, "2", get(t, d, "b"))
	// A read-only update waits for what it read.
	wait3, err := d.UpdateAsync(func(tx kv.RwTx) error {
		tx.Put("b", []byte("c"), []byte("3"))
		return nil
	})
	require.NoError(t, err)
	wait4, err := d.UpdateAsync(func(tx kv.RwTx) error {
		require.Equal(t, []byte("3"), tx.Get("b", []byte("c")))
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, wait4())
	require.Equal(t, "3", get(t, d, "c"), "waiting on a read-only update synced the write it read")
	require.NoError(t, wait3())
}

// A View is one state: never an old value from memory beside a newer one
// that a checkpoint put in the file after the View took its layers. Each
// update i writes seq=i and k(i%2)=i, so a View that reads seq=s must read
// k(s%2)=s and k((s+1)%2)=s-1.
func TestDB_View_NeverAheadOfItsLayers(t *testing.T) {
	d := openAt(t, t.TempDir(), Options{Interval: time.Millisecond, MaxOps: 1})
	defer d.Close()
	key := func(i uint64) []byte { return []byte{'k', byte(i % 2)} }
	num := func(v []byte) uint64 {
		if len(v) != 8 {
			return 0
		}
		return binary.BigEndian.Uint64(v)
	}
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for i := uint64(1); ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			v := binary.BigEndian.AppendUint64(nil, i)
			if err := d.Update(func(tx kv.RwTx) error {
				tx.Put("b", []byte("seq"), v)
				tx.Put("b", key(i), v)
				return nil
			}); err != nil {
				done <- err
				return
			}
		}
	}()
	deadline := time.Now().Add(2 * time.Second)
	views := 0
	for time.Now().Before(deadline) {
		require.NoError(t, d.View(func(tx kv.Tx) error {
			s := num(tx.Get("b", []byte("seq")))
			if s < 2 {
				return nil
			}
			views++
			require.Equal(t, s, num(tx.Get("b", key(s))), "k(seq%%2) at seq %d", s)
			require.Equal(t, s-1, num(tx.Get("b", key(s+1))), "k((seq+1)%%2) at seq %d", s)
			return nil
		}))
	}
	close(stop)
	require.NoError(t, <-done)
	require.Greater(t, views, 100)
}
