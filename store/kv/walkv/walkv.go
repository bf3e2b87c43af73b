// Package walkv puts a write-ahead log in front of another kv engine (the
// bbolt file), as etcd's backend does: an Update is acknowledged once its
// writes are one record of the log, on disk after one fdatasync, and the
// database file is brought up to date in the background.
//
// Acknowledged writes are held in memory, in an ordered tree, until a
// checkpoint applies them to the database file in one transaction (at least
// every 100 ms or 10,000 writes), recording the log position they reach in
// that same transaction; the log's older segments are then released. Reads
// see the tree over the file, so every acknowledged write is visible at
// once. A checkpoint freezes the tree and starts a new one, so writers
// never wait for the file's commit, unless the writes held in memory reach
// Options.MaxPending: then they wait for the checkpoint, or are refused
// with kv.ErrUnavailable while checkpoints fail (a full disk).
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

// Options configure a DB. The zero value is ready to use.
type Options struct {
	// Log configures the log's segments.
	Log wal.Options
	// Interval is the longest time between checkpoints (default 100 ms)
	// and MaxOps the most writes a checkpoint waits for (default 10,000).
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
	// Logger receives checkpoint failures; nil means slog.Default().
	Logger *slog.Logger
}

// DB is a kv.Engine: base behind a write-ahead log.
//
// Writes move through four places: an Update's batch; recent, batches
// written to the log (the newest may not be synced yet: only writers read
// those); acked, the synced batches merged into one tree; and frozen,
// the tree a checkpoint is applying to the file. Readers see the synced
// recent batches, a clone of acked, frozen and the file.
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
		opts.Interval = 100 * time.Millisecond
	}
	if opts.MaxOps <= 0 {
		opts.MaxOps = 10_000
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = 64 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	opts.Log.ReadOnly = opts.ReadOnly
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

// addAcked puts one write in acked; the caller holds mu (or owns d).
func (d *DB) addAcked(it item) {
	if old, ok := d.acked.ReplaceOrInsert(it); ok {
		d.ackedBytes -= old.size()
	} else {
		d.ackedOps++
	}
	d.ackedBytes += it.size()
}

// Log returns the write-ahead log.
func (d *DB) Log() *wal.Log { return d.log }

// layers returns what readers read over the file, newest first: the
// synced recent batches, acked, frozen.
func (d *DB) layers() []*tree {
	d.mu.Lock()
	defer d.mu.Unlock()
	synced := d.log.Synced()
	var out []*tree
	for i := len(d.recent) - 1; i >= 0; i-- {
		if d.recent[i].lsn <= synced {
			out = append(out, d.recent[i].t)
		}
	}
	if d.acked.Len() > 0 {
		if d.snap == nil {
			d.snap = d.acked.Clone()
		}
		out = append(out, d.snap)
	}
	if d.frozen != nil {
		out = append(out, d.frozen)
	}
	return out
}

// View runs fn over a snapshot: the acknowledged writes held in memory over
// a read transaction of the file. The layers are taken before the file's
// transaction begins, and a checkpoint drops its layer only after the file
// commits, so the two always agree.
func (d *DB) View(fn func(kv.Tx) error) error {
	layers := d.layers()
	return d.base.View(func(btx kv.Tx) error {
		v := &view{layers: layers, base: btx}
		err := fn(v)
		if e := v.Err(); e != nil {
			return e
		}
		return err
	})
}

// Update runs fn over the acknowledged state and, when it succeeds, logs
// its writes as one record, and returns once they are synced and visible.
func (d *DB) Update(fn func(kv.RwTx) error) error {
	wait, err := d.UpdateAsync(fn)
	if err != nil {
		return err
	}
	return wait()
}

// UpdateAsync runs fn over the state every earlier Update left (synced or
// not) and writes its writes to the log as one record, without waiting for
// the disk. The returned wait syncs the log (one fdatasync for every
// record written meanwhile, by whichever caller gets there first) and
// returns once fn's writes are durable and visible to View. A caller may
// start the next UpdateAsync before waiting: its fn sees these writes,
// which is safe because a failed fdatasync stops every write for good.
func (d *DB) UpdateAsync(fn func(kv.RwTx) error) (wait func() error, err error) {
	if d.opts.ReadOnly {
		return nil, kv.ErrReadOnly
	}
	if err := d.lockForWrite(); err != nil {
		return nil, err
	}
	defer d.writeMu.Unlock()
	d.mergeSynced()
	d.mu.Lock()
	layers := []*tree{newTree()}
	for i := len(d.recent) - 1; i >= 0; i-- {
		layers = append(layers, d.recent[i].t)
	}
	layers = append(layers, d.acked)
	if d.frozen != nil {
		layers = append(layers, d.frozen)
	}
	d.mu.Unlock()
	t := &wtx{view: view{layers: layers}, batch: layers[0]}
	err = d.base.View(func(btx kv.Tx) error {
		t.base = btx
		err := fn(t)
		if e := t.Err(); e != nil {
			return e
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if t.ops == 0 {
		// Nothing to log, but what fn read may be unsynced: wait for it.
		lsn := d.log.Last()
		return func() error { return d.syncTo(lsn) }, nil
	}
	lsn, err := d.log.Write(encode(t.batch, t.bytes))
	if err != nil {
		if errors.Is(err, wal.ErrSync) {
			return nil, fmt.Errorf("%w: %w", kv.ErrUnavailable, err)
		}
		return nil, fmt.Errorf("%w: nothing was written: %w", kv.ErrUnavailable, err)
	}
	d.mu.Lock()
	d.recent = append(d.recent, &batchRec{t: t.batch, lsn: lsn, bytes: t.bytes})
	pending := d.pendingLocked()
	d.mu.Unlock()
	if pending > d.pendingHigh.Load() {
		d.pendingHigh.Store(pending)
	}
	return func() error { return d.syncTo(lsn) }, nil
}

// syncTo returns once the log is synced up to lsn.
func (d *DB) syncTo(lsn uint64) error {
	if d.log.Synced() >= lsn {
		return nil
	}
	if _, err := d.log.Sync(); err != nil {
		d.fatal(err)
		return fmt.Errorf("%w: %w", kv.ErrUnavailable, err)
	}
	return nil
}

// mergeSynced moves the synced recent batches into acked; the caller holds
// writeMu.
func (d *DB) mergeSynced() {
	d.mu.Lock()
	defer d.mu.Unlock()
	synced := d.log.Synced()
	n := 0
	for _, b := range d.recent {
		if b.lsn > synced {
			break
		}
		b.t.Ascend(func(it item) bool {
			d.addAcked(it)
			return true
		})
		d.ackedLSN = b.lsn
		n++
	}
	if n > 0 {
		d.recent = append(d.recent[:0], d.recent[n:]...)
		d.snap = nil
		if d.ackedOps >= d.opts.MaxOps {
			d.poke()
		}
	}
}

// pendingLocked is the bytes of writes held in memory; the caller holds mu.
func (d *DB) pendingLocked() int64 {
	n := d.ackedBytes + d.frozenSize
	for _, b := range d.recent {
		n += b.bytes
	}
	return n
}

// lockForWrite takes writeMu once the writes held in memory are below the
// bound, waiting for checkpoints; it refuses while checkpoints fail.
func (d *DB) lockForWrite() error {
	for {
		d.writeMu.Lock()
		d.mu.Lock()
		closed, failed := d.closed, d.failed
		full := d.pendingLocked() >= d.opts.MaxPending
		done, ckErr := d.ckDone, d.ckErr
		d.mu.Unlock()
		switch {
		case closed:
			d.writeMu.Unlock()
			return kv.ErrClosed
		case failed != nil:
			d.writeMu.Unlock()
			return fmt.Errorf("%w: %w", kv.ErrUnavailable, failed)
		case !full:
			return nil
		}
		d.writeMu.Unlock()
		if ckErr != nil {
			return fmt.Errorf("%w: the database file cannot take the log's writes: %w", kv.ErrUnavailable, ckErr)
		}
		d.poke()
		<-done
	}
}

func (d *DB) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// checkpointer applies the pending writes to the file every Interval, or
// sooner when poked.
func (d *DB) checkpointer() {
	defer close(d.stopped)
	t := time.NewTicker(d.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
		case <-d.wake:
		}
		if err := d.checkpoint(false); err != nil {
			d.opts.Logger.Warn("checkpoint: the database file did not take the log's writes; retrying", "err", err)
		}
	}
}

// checkpoint freezes acked (unless a frozen set is left from a failed
// checkpoint) and applies it to the file with its log position, then
// releases the log's segments below it. haveWriteMu says the caller holds
// writeMu.
func (d *DB) checkpoint(haveWriteMu bool) error {
	if !haveWriteMu {
		d.writeMu.Lock()
	}
	d.ckMu.Lock()
	defer d.ckMu.Unlock()
	d.mergeSynced()
	d.mu.Lock()
	if d.frozen == nil && d.acked.Len() > 0 {
		d.frozen, d.frozenLSN, d.frozenSize = d.acked, d.ackedLSN, d.ackedBytes
		d.acked, d.ackedOps, d.ackedBytes, d.snap = newTree(), 0, 0, nil
	}
	frozen, lsn := d.frozen, d.frozenLSN
	d.mu.Unlock()
	if !haveWriteMu {
		d.writeMu.Unlock()
	}
	if frozen == nil {
		return nil
	}
	err := d.base.Update(func(tx kv.RwTx) error {
		frozen.Ascend(func(it item) bool {
			if it.del {
				tx.Delete(it.b, []byte(it.k))
			} else {
				tx.Put(it.b, []byte(it.k), it.v)
			}
			return true
		})
		tx.Put(Meta, appliedKey, binary.BigEndian.AppendUint64(nil, lsn))
		return nil
	})
	d.mu.Lock()
	d.ckErr = err
	if err == nil {
		d.frozen, d.frozenSize = nil, 0
		d.applied.Store(lsn)
		d.checkpoints.Add(1)
	}
	close(d.ckDone)
	d.ckDone = make(chan struct{})
	d.mu.Unlock()
	if err != nil {
		return err
	}
	return d.log.Release(lsn)
}

// flush makes every written record durable and applies it to the file;
// the caller holds writeMu, so no new one comes meanwhile.
func (d *DB) flush() error {
	if err := d.syncTo(d.log.Last()); err != nil {
		return err
	}
	for {
		if err := d.checkpoint(true); err != nil {
			return err
		}
		d.mu.Lock()
		left := d.frozen != nil || d.acked.Len() > 0 || len(d.recent) > 0
		d.mu.Unlock()
		if !left {
			return nil
		}
	}
}

// Checkpoint applies every acknowledged write to the file now, so that
// the file's figures (its size, its pages in use) describe the whole state.
func (d *DB) Checkpoint() error { return d.flushNow() }

// flushNow applies every acknowledged write to the file.
func (d *DB) flushNow() error {
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	return d.flush()
}

// BulkUpdate runs a large transaction on the file directly, bypassing the
// log: it applies every pending write first, so the file is up to date,
// and then commits fn's writes with the file's own fsync. Updates wait
// meanwhile. It is faster for bulk generation, whose writes would
// otherwise be written twice, and as safe: nothing in the log is newer.
func (d *DB) BulkUpdate(fn func(kv.RwTx) error) error {
	if d.opts.ReadOnly {
		return kv.ErrReadOnly
	}
	if err := d.lockForWrite(); err != nil {
		return err
	}
	defer d.writeMu.Unlock()
	if err := d.flush(); err != nil {
		return fmt.Errorf("%w: the database file cannot take the log's writes: %w", kv.ErrUnavailable, err)
	}
	// An empty record marks the bulk write's place in the log, and the file
	// records it as applied, so a backup taken before it never passes for
	// the file's current state (see wal's check of the applied position).
	lsn, err := d.log.Append(nil)
	if err != nil {
		if errors.Is(err, wal.ErrSync) {
			d.fatal(err)
		}
		return fmt.Errorf("%w: nothing was written: %w", kv.ErrUnavailable, err)
	}
	err = d.base.Update(func(tx kv.RwTx) error {
		if err := fn(tx); err != nil {
			return err
		}
		tx.Put(Meta, appliedKey, binary.BigEndian.AppendUint64(nil, lsn))
		return nil
	})
	if err != nil {
		return err // the empty record is applied by the next checkpoint
	}
	d.mu.Lock()
	d.ackedLSN = lsn
	d.mu.Unlock()
	d.applied.Store(lsn)
	return d.log.Release(lsn)
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
		AppliedLSN: d.applied.Load(), Records: ls.Records, Syncs: ls.Syncs, SyncSeconds: ls.SyncTime.Seconds(), Checkpoints: d.checkpoints.Load(),
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

// A log record is the writes of one Update, in key order:
//
//	op byte (1 put, 2 delete) | bucket | key | value (puts only)
//
// each of bucket, key and value a uvarint length and the bytes.
const (
	opPut = 1
	opDel = 2
)

func encode(t *tree, size int64) []byte {
	b := make([]byte, 0, size)
	t.Ascend(func(it item) bool {
		op := byte(opPut)
		if it.del {
			op = opDel
		}
		b = append(b, op)
		b = binary.AppendUvarint(b, uint64(len(it.b)))
		b = append(b, it.b...)
		b = binary.AppendUvarint(b, uint64(len(it.k)))
		b = append(b, it.k...)
		if !it.del {
			b = binary.AppendUvarint(b, uint64(len(it.v)))
			b = append(b, it.v...)
		}
		return true
	})
	return b
}

var errBadRecord = errors.New("a log record does not decode")

func decode(b []byte, fn func(item)) error {
	field := func() ([]byte, bool) {
		n, w := binary.Uvarint(b)
		if w <= 0 || n > uint64(len(b)-w) {
			return nil, false
		}
		f := b[w : w+int(n)]
		b = b[w+int(n):]
		return f, true
	}
	for len(b) > 0 {
		op := b[0]
		b = b[1:]
		bucket, ok1 := field()
		key, ok2 := field()
		if !ok1 || !ok2 || (op != opPut && op != opDel) {
			return errBadRecord
		}
		it := item{b: kv.Bucket(bucket), k: string(key), del: op == opDel}
		if !it.del {
			v, ok := field()
			if !ok {
				return errBadRecord
			}
			it.v = append(make([]byte, 0, len(v)), v...)
		}
		fn(it)
	}
	return nil
}
