// Writes: each Update becomes one log record, visible to readers once the
// log has synced it; writers wait for room when checkpoints fall behind.

package walkv

import (
	"errors"
	"fmt"
	"slices"

	"promo/store/kv"
	"promo/store/kv/wal"
)

// addAcked puts one write in acked; the caller holds mu (or owns d).
func (d *DB) addAcked(it item) {
	if old, ok := d.acked.ReplaceOrInsert(it); ok {
		d.ackedBytes -= old.size()
	} else {
		d.ackedOps++
	}
	d.ackedBytes += it.size()
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

// maxSinceSnap is the most merged batches readers read over their clone of
// acked before it is taken again. Each costs a reader one lookup in a
// small tree per Get; a clone costs the next merges a copy of every node
// they touch, which, taken after every fdatasync, was a sixth of the
// bytes allocated under durable redemptions.
const maxSinceSnap = 16

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
		if d.snap != nil {
			d.sinceSnap = append(d.sinceSnap, b.t)
		}
		n++
	}
	if n > 0 {
		d.recent = slices.Delete(d.recent, 0, n)
		if len(d.sinceSnap) > maxSinceSnap {
			d.snap, d.sinceSnap = nil, nil
		}
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
