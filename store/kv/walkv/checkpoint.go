// Checkpoints: moving what the log holds into the database file, in the
// background or at once, and bulk writes that go straight to it.

package walkv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"promo/store/kv"
	"promo/store/kv/wal"
)

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
		d.acked, d.ackedOps, d.ackedBytes = newTree(), 0, 0
		d.snap, d.sinceSnap = nil, nil
	}
	frozen, lsn := d.frozen, d.frozenLSN
	if frozen != nil {
		d.applying.Add(1) // before the file can show frozen: see View
	}
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
