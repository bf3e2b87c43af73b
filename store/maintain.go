package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"promo/store/kv"
	"promo/store/kv/boltkv"
)

// maintainEvery is how often the store writes what it keeps in memory:
// failed-lookup counts, keys' last use, expired idempotency records, and
// the filter when codes were added.
const maintainEvery = 30 * time.Second

func (s *Store) maintain() {
	t := time.NewTicker(maintainEvery)
	defer t.Stop()
	for i := 1; ; i++ {
		select {
		case <-s.closing:
			return
		case <-t.C:
		}
		ctx := context.Background()
		run := func(fn func(*wtx) error) error { return s.update(ctx, fn) }
		if err := s.flushRejectedWith(run); err != nil {
			s.log.Warn("maintenance: writing failed-lookup counts", "err", err)
		}
		if err := s.flushCampaignRejects(run); err != nil {
			s.log.Warn("maintenance: writing refusal counts", "err", err)
		}
		if err := s.flushKeyUse(run); err != nil {
			s.log.Warn("maintenance: writing key use", "err", err)
		}
		if i%10 == 0 { // every 5 minutes
			if err := s.purgeIdempotency(ctx); err != nil {
				s.log.Warn("maintenance: purging idempotency records", "err", err)
			}
			if err := s.purgeHolds(ctx); err != nil {
				s.log.Warn("maintenance: purging expired holds", "err", err)
			}
			if err := s.SaveFilter(); err != nil {
				s.log.Warn("maintenance: saving the filter", "err", err)
			}
		}
	}
}

// Backup writes a consistent copy of the database to w while it keeps
// serving, and returns the bytes written: one standalone bbolt file that
// opens without the log, holding every write acknowledged before the call.
//
// The copy is made key by key from one read transaction (whatever the
// engine), not page by page: a page-by-page copy would carry the file's
// free pages, which still hold values since overwritten, such as an erased
// customer's id. The copy is compact too.
func (s *Store) Backup(w io.Writer) (int64, error) {
	dir, err := os.MkdirTemp("", "promo-backup-")
	if err != nil {
		return 0, classify(err, "make a temporary directory for the backup")
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "backup.db")
	out, err := boltkv.Open(path, boltkv.Options{NoSync: true, FillPercent: fillPercent})
	if err != nil {
		return 0, classify(err, "create the backup")
	}
	s.settleEvents()
	err = s.view(func(tx kv.Tx) error {
		if err := copyBuckets(tx, out); err != nil {
			return err
		}
		// A cluster's pending events, numbered, and its redemption ids,
		// under the file's sequence: the copy is a file's whole state.
		if err := numberPendingInto(tx, out); err != nil {
			return err
		}
		return out.Update(func(o kv.RwTx) error {
			last := max(readSeq(o, seqRedemptions), lastID(o, bucketRedemptions))
			o.Put(bucketMeta, seqKeyName(seqRedemptions), binary.BigEndian.AppendUint64(nil, last))
			return nil
		})
	})
	if err != nil {
		out.Close()
		return 0, classify(err, "copy the database")
	}
	// bbolt grows a file ahead of its pages; its own copy of the pages in
	// use is exact.
	n, err := out.WriteTo(w)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return n, classify(err, "write the backup")
}

// copyBuckets copies every bucket of tx into dst, in transactions of a
// bounded size.
func copyBuckets(tx kv.Tx, dst kv.Engine) error {
	type pair struct{ k, v []byte }
	for _, b := range allBuckets {
		if b == bucketEventsPending {
			continue // numberPendingInto numbers them
		}
		var chunk []pair
		size := 0
		flush := func() error {
			err := dst.Update(func(out kv.RwTx) error {
				for _, p := range chunk {
					out.Put(b, p.k, p.v)
				}
				return nil
			})
			chunk, size = chunk[:0], 0
			return err
		}
		var err error
		tx.Scan(b, kv.All, func(k, v []byte) bool {
			chunk = append(chunk, pair{bytes.Clone(k), bytes.Clone(v)})
			if size += len(k) + len(v); size > 16<<20 {
				err = flush()
			}
			return err == nil
		})
		if err == nil && len(chunk) > 0 {
			err = flush()
		}
		if err != nil {
			return err
		}
	}
	return tx.Err()
}

// BackupFile writes a consistent copy of the database to path atomically
// (a temporary file beside it, fsynced, then renamed).
func (s *Store) BackupFile(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return classify(err, "create the backup file")
	}
	defer os.Remove(tmp.Name())
	if _, err := s.Backup(tmp); err != nil {
		tmp.Close()
		return classify(err, "write the backup")
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return classify(err, "sync the backup")
	}
	if err := tmp.Close(); err != nil {
		return classify(err, "close the backup")
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return classify(err, "chmod the backup")
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return classify(fmt.Errorf("rename to %s: %w", path, err), "place the backup")
	}
	return nil
}
