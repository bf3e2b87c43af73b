// Package walkv puts a write-ahead log in front of another kv engine (the
// bbolt file), as etcd's backend does: an Update is acknowledged once its
// writes are one record of the log, on disk after one fdatasync, and the
// database file is brought up to date in the background.
//
// Acknowledged writes are held in memory, in an ordered tree, until a
// checkpoint applies them to the database file in one transaction (at
// least every second or 50,000 keys written), recording the log position
// they reach in that same transaction; the log's older segments are then
// released. Reads see the tree over the file, so every acknowledged write
// is visible at once. A checkpoint freezes the tree and starts a new one,
// so writers never wait for the file's commit, unless the writes held in
// memory reach Options.MaxPending: then they wait for the checkpoint, or
// are refused with kv.ErrUnavailable while checkpoints fail (a full disk).
//
// On open, the log's records after the recorded position are replayed into
// memory. A failed fdatasync is fatal (see Options.OnFatal): the engine
// takes no more writes and the process is expected to exit.
package walkv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"promo/store/kv"
	"promo/store/kv/wal"
)

// Meta is the bucket of the database file where the engine records the log
// position the file holds (key "applied"). Callers must not use it.
const Meta kv.Bucket = "_wal"

var appliedKey = []byte("applied")

// The checkpoints' defaults (see Options). Each checkpoint is one bbolt
// commit, which rewrites the branch pages above every random leaf it
// touches and fdatasyncs twice beside the log's fdatasyncs: fewer, larger
// ones cost less CPU per write (BENCHMARKS.md, "The checkpoint interval").
// Replaying defaultMaxOps keys at start-up takes about 150 ms
// (BenchmarkDB_OpenReplaysAFullCheckpoint).
const (
	defaultInterval = time.Second
	defaultMaxOps   = 50_000
)

// Options configure a DB. The zero value is ready to use.
type Options struct {
	// Log configures the log's segments.
	Log wal.Options
	// Interval is the longest time between checkpoints (default 1 s)
	// and MaxOps the most distinct keys written a checkpoint waits for
	// (default 50,000).
	Interval time.Duration
	MaxOps   int
	// MaxPending bounds the bytes of acknowledged writes held in memory
	// (default 64 MiB). Past it, writers wait for a checkpoint.
	MaxPending int64
	// OnFatal is called once, from the writing goroutine, when fdatasync
	// fails; the caller should stop the process. Default: log the error.
	OnFatal func(error)
	// ReadOnly replays the log into memory and takes no writes.
	ReadOnly bool
	// Logger receives checkpoint failures, and the log's own messages
	// unless Log.Logger is set; nil means slog.Default().
	Logger *slog.Logger
}

// DB is a kv.Engine: base behind a write-ahead log.
//
// Writes move through four places: an Update's batch; recent, batches
// written to the log (the newest may not be synced yet: only writers read
// those); acked, the synced batches merged into one tree; and frozen,
// the tree a checkpoint is applying to the file. Readers see the synced
// recent batches, the batches merged since their clone of acked, that
// clone, frozen and the file.
type DB struct {
	base kv.Engine
	log  *wal.Log
	opts Options

	// writeMu serialises Updates, and is held to merge or freeze acked.
	writeMu sync.Mutex
	closed  bool

	// mu guards what readers take, and the counts.
	mu         sync.Mutex
	recent     []*batchRec // oldest first
	acked      *tree       // written only under writeMu and mu
	ackedLSN   uint64
	ackedOps   int
	ackedBytes int64
	snap       *tree // a clone of acked for readers; nil when stale
	// sinceSnap are the batches merged into acked since snap was cloned,
	// oldest first: readers read them over snap, so that a clone (whose
	// first writes after it copy the tree's nodes) is taken once per
	// maxSinceSnap merges rather than after every fdatasync.
	sinceSnap  []*tree
	frozen     *tree
	frozenLSN  uint64
	frozenSize int64
	ckDone     chan struct{} // closed and replaced after each checkpoint
	ckErr      error         // the last checkpoint's failure
	failed     error         // a failed fdatasync: no more writes

	fatalOnce sync.Once
	ckMu      sync.Mutex // one checkpoint at a time
	wake      chan struct{}
	stop      chan struct{}
	stopped   chan struct{}

	applied     atomic.Uint64
	checkpoints atomic.Int64
	// applying counts the checkpoints that began applying a tree to the
	// file (changed under mu): a View whose file transaction began after
	// one that its layers did not hold runs again (View).
	applying    atomic.Int64
	pendingHigh atomic.Int64
}

// batchRec is one Update's writes, as written to the log at lsn.
type batchRec struct {
	t     *tree
	lsn   uint64
	bytes int64
}

var (
	_ kv.Engine    = (*DB)(nil)
	_ kv.Pipeliner = (*DB)(nil)
	_ kv.Bulk      = (*DB)(nil)
	_ kv.Checker   = (*DB)(nil)
	_ kv.Stater    = (*DB)(nil)
)

// Open opens the log in logDir in front of base, replaying what base does
// not hold yet. It returns a *wal.Error when the log is damaged or does not
// belong to base's state. Closing the DB closes base.
func Open(base kv.Engine, logDir string, opts Options) (*DB, error) {
	if opts.Interval <= 0 {
		opts.Interval = defaultInterval
	}
	if opts.MaxOps <= 0 {
		opts.MaxOps = defaultMaxOps
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = 64 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	opts.Log.ReadOnly = opts.ReadOnly
	if opts.Log.Logger == nil {
		opts.Log.Logger = opts.Logger
	}
	d := &DB{base: base, opts: opts, acked: newTree(), ckDone: make(chan struct{}),
		wake: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	var applied uint64
	if err := base.View(func(tx kv.Tx) error {
		if v := tx.Get(Meta, appliedKey); len(v) == 8 {
			applied = binary.BigEndian.Uint64(v)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read the log position of the database file: %w", err)
	}
	d.applied.Store(applied)
	d.ackedLSN = applied
	start := time.Now()
	log, err := wal.Open(logDir, applied, opts.Log, func(lsn uint64, payload []byte) error {
		if err := decode(payload, d.addAcked); err != nil {
			return err
		}
		d.ackedLSN = lsn
		return nil
	})
	if err != nil {
		return nil, err
	}
	d.log = log
	if d.ackedLSN > applied {
		opts.Logger.Info("replayed the log past the database file", "records", d.ackedLSN-applied,
			"keys", d.ackedOps, "took", time.Since(start).Round(time.Millisecond))
	}
	if opts.ReadOnly {
		close(d.stopped)
		return d, nil
	}
	go d.checkpointer()
	if d.ackedOps > 0 {
		d.poke()
	}
	return d, nil
}

// Log returns the write-ahead log.
func (d *DB) Log() *wal.Log { return d.log }

// layers returns what readers read over the file, newest first: the
// synced recent batches, acked, frozen.
func (d *DB) layers() ([]*tree, int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	gen := d.applying.Load()
	synced := d.log.Synced()
	var out []*tree
	for i := len(d.recent) - 1; i >= 0; i-- {
		if d.recent[i].lsn <= synced {
			out = append(out, d.recent[i].t)
		}
	}
	if d.acked.Len() > 0 {
		if d.snap == nil {
			d.snap, d.sinceSnap = d.acked.Clone(), d.sinceSnap[:0]
		}
		for i := len(d.sinceSnap) - 1; i >= 0; i-- {
			out = append(out, d.sinceSnap[i])
		}
		out = append(out, d.snap)
	}
	if d.frozen != nil {
		out = append(out, d.frozen)
	}
	return out, gen
}

// View runs fn over a snapshot: the acknowledged writes held in memory over
// a read transaction of the file. The layers are taken before the file's
// transaction begins, and a checkpoint drops its layer only after the file
// commits, so the file holds nothing older than the layers. It must not
// hold anything newer either: a checkpoint that froze writes made after
// the layers were taken, and committed them before the file's transaction
// began, would show a key the layers lack at its newer value beside the
// layers' older ones. Such a View starts again, with new layers.
func (d *DB) View(fn func(kv.Tx) error) error {
	for {
		layers, gen := d.layers()
		again := false
		err := d.base.View(func(btx kv.Tx) error {
			if d.applying.Load() != gen {
				again = true // a checkpoint began since the layers were taken
				return nil
			}
			v := &view{layers: layers, base: btx}
			err := fn(v)
			if e := v.Err(); e != nil {
				return e
			}
			return err
		})
		if !again {
			return err
		}
	}
}

// fatal stops the engine's writes for good after a failed fdatasync, and
// calls OnFatal once.
func (d *DB) fatal(err error) {
	d.mu.Lock()
	if d.failed == nil {
		d.failed = err
	}
	d.mu.Unlock()
	d.fatalOnce.Do(func() {
		if d.opts.OnFatal != nil {
			d.opts.OnFatal(err)
		} else {
			d.opts.Logger.Error("the write-ahead log cannot be synced; stop the process", "err", err)
		}
	})
}

// Check verifies the log's records and runs the file's own check.
func (d *DB) Check() ([]string, error) {
	findings := d.log.Verify()
	if last, applied := d.log.Last(), d.applied.Load(); applied > last {
		findings = append(findings, fmt.Sprintf("log: the database file holds LSN %d, beyond the log's last record %d", applied, last))
	}
	if c, ok := d.base.(kv.Checker); ok {
		more, err := c.Check()
		if err != nil {
			return findings, err
		}
		findings = append(findings, more...)
	}
	return findings, nil
}

// Stats returns the file's and the log's figures.
func (d *DB) Stats() kv.Stats {
	var out kv.Stats
	if s, ok := d.base.(kv.Stater); ok {
		out = s.Stats()
	}
	ls := d.log.Stats()
	d.mu.Lock()
	ops, bytes := int64(d.ackedOps), d.pendingLocked()
	if d.frozen != nil {
		ops += int64(d.frozen.Len())
	}
	for _, b := range d.recent {
		ops += int64(b.t.Len())
	}
	d.mu.Unlock()
	out.Log = &kv.LogStats{Segments: ls.Segments, SegmentBytes: ls.SegmentBytes, LastLSN: d.log.Last(),
		AppliedLSN: d.applied.Load(), Records: ls.Records, Syncs: ls.Syncs, RawSyncs: ls.RawSyncs, SyncSeconds: ls.SyncTime.Seconds(), Checkpoints: d.checkpoints.Load(),
		PendingOps: ops, PendingBytes: bytes, PendingHigh: d.pendingHigh.Load()}
	out.FileBytes += ls.SegmentBytes
	return out
}

// Close applies every pending write to the file (so the next open has
// nothing to replay), and closes the log and the file.
func (d *DB) Close() error {
	d.writeMu.Lock()
	if d.closed {
		d.writeMu.Unlock()
		return nil
	}
	d.mu.Lock()
	d.closed = true
	failed := d.failed
	d.mu.Unlock()
	d.writeMu.Unlock()
	var errs []error
	if !d.opts.ReadOnly {
		close(d.stop)
		<-d.stopped
		if failed == nil {
			d.writeMu.Lock()
			errs = append(errs, d.flush())
			d.writeMu.Unlock()
		}
	}
	errs = append(errs, d.log.Close(), d.base.Close())
	return errors.Join(errs...)
}

// abandon drops the engine as a crash would: no checkpoint, no flush.
func (d *DB) abandon() {
	d.writeMu.Lock()
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.writeMu.Unlock()
	if !d.opts.ReadOnly {
		close(d.stop)
		<-d.stopped
	}
	d.log.Close()
	d.base.Close()
}
