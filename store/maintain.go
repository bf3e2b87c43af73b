package store

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
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
		run := func(fn func(*bolt.Tx) error) error { return s.update(ctx, fn) }
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
			if err := s.SaveFilter(); err != nil {
				s.log.Warn("maintenance: saving the filter", "err", err)
			}
		}
	}
}

// Backup writes a consistent copy of the database to w while it keeps
// serving, and returns the bytes written.
func (s *Store) Backup(w io.Writer) (int64, error) {
	var n int64
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
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
