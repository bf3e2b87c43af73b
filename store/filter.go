package store

import (
	"context"
	"crypto/rand"
	"errors"
	"io/fs"
	"time"

	"promo/bloom"
	"promo/gen"
	"promo/store/kv"
)

// The Bloom filter covers every code ever stored; it may say yes wrongly,
// never no wrongly. It is kept in FILE.bloom, tied to the database by a
// random mark: saving writes a fresh mark into the database in the same
// transaction that snapshots the filter, and every transaction that adds
// codes deletes the mark. A filter file whose mark is not the database's is
// stale and is rebuilt from the codes, never trusted.

// FilterPath returns where the filter of the database at dbPath is kept.
func FilterPath(dbPath string) string { return dbPath + ".bloom" }

func (s *Store) loadFilter() error {
	if s.cl != nil {
		// No file on a cluster: built from the codes, then following them.
		f, _, err := s.buildFilter()
		if err == nil {
			s.filter.Store(f)
		}
		return err
	}
	var mark bloom.Mark
	hasMark := false
	err := s.db.View(func(tx kv.Tx) error {
		if v := tx.Get(bucketMeta, metaFilterMark); len(v) == len(mark) {
			copy(mark[:], v)
			hasMark = true
		}
		return nil
	})
	if err != nil {
		return classify(err, "read the filter mark")
	}
	if hasMark {
		f, err := bloom.Load(FilterPath(s.path), mark)
		if err == nil {
			s.filter.Store(f)
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("rebuilding the filter", "file", FilterPath(s.path), "reason", err)
		}
	}
	start := time.Now()
	f, n, err := s.buildFilter()
	if err != nil {
		return err
	}
	s.filter.Store(f)
	s.codesAdded.Store(true)
	if n > 0 {
		s.log.Info("rebuilt the filter from the codes", "codes", n, "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// buildFilter makes a filter from every stored code, sized for twice as
// many codes as there are.
func (s *Store) buildFilter() (*bloom.Filter, uint64, error) {
	var n uint64
	err := s.db.View(func(tx kv.Tx) error {
		_, n = s.codeCounts(tx, gen.Format{})
		return nil
	})
	if err != nil {
		return nil, 0, classify(err, "count codes")
	}
	f, err := bloom.Build(max(s.opts.FilterCapacity, 2*n), bloom.DefaultFPRate, func(add func([]byte)) error {
		return s.db.View(func(tx kv.Tx) error {
			tx.Scan(bucketCodes, kv.All, func(k, _ []byte) bool {
				add(k)
				return true
			})
			return nil
		})
	})
	if err != nil {
		return nil, 0, classify(err, "rebuild the filter")
	}
	return f, n, nil
}

// filterGrew marks the saved filter stale in tx, whose codes were added to
// the filter before it commits.
func (s *Store) filterGrew(tx *wtx) error {
	if s.cl != nil {
		s.noteCodesAdded(tx)
		return nil
	}
	s.codesAdded.Store(true)
	if tx.Get(bucketMeta, metaFilterMark) != nil {
		tx.Delete(bucketMeta, metaFilterMark)
	}
	return nil
}

// SaveFilter persists the filter when codes were added since it was last
// loaded or saved, so that the next Open need not rebuild it.
func (s *Store) SaveFilter() error {
	return s.saveFilter(func(fn func(*wtx) error) error { return s.update(context.Background(), fn) })
}

func (s *Store) saveFilter(run func(func(*wtx) error) error) error {
	if s.opts.ReadOnly || s.cl != nil || !s.codesAdded.Load() {
		return nil
	}
	var mark bloom.Mark
	if _, err := rand.Read(mark[:]); err != nil {
		return err
	}
	var snap *bloom.Filter
	err := run(func(tx *wtx) error {
		snap = s.filter.Load().Clone()
		s.codesAdded.Store(false)
		tx.Put(bucketMeta, metaFilterMark, mark[:])
		return nil
	})
	if err != nil {
		s.codesAdded.Store(true)
		return err
	}
	if err := snap.Save(FilterPath(s.path), mark); err != nil {
		s.codesAdded.Store(true)
		return classify(err, "save the filter")
	}
	return nil
}

// FilterInfo describes the filter for stats and metrics.
type FilterInfo struct {
	Count     uint64  `json:"count"`
	Capacity  uint64  `json:"capacity"`
	Layers    int     `json:"layers"`
	SizeBytes uint64  `json:"size_bytes"`
	FPRate    float64 `json:"fp_rate"`
}

// Filter returns the filter's size and fill.
func (s *Store) Filter() FilterInfo {
	f := s.filter.Load()
	return FilterInfo{Count: f.Count(), Capacity: f.Capacity(), Layers: f.Layers(), SizeBytes: f.SizeBytes(), FPRate: f.FPRate()}
}
