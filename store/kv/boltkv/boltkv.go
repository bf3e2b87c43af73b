// Package boltkv is the bbolt engine: every kv bucket is a bbolt bucket of
// one file, and every Update is one bbolt transaction, durable when it
// returns (bbolt writes the pages, fsyncs, writes the meta page, fsyncs).
// It is the only package of promo that imports bbolt.
package boltkv

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"promo/store/kv"
)

// Options configure a DB. The zero value is ready to use.
type Options struct {
	// Timeout is how long Open waits for the file lock (default 1 s); then
	// it fails with an error wrapping kv.ErrLocked.
	Timeout time.Duration
	// ReadOnly opens the file for reading only.
	ReadOnly bool
	// NoSync skips fsync on commit: for tests and benchmarks of CPU cost.
	NoSync bool
	// PageSize is bbolt's page size for a new file (default: the OS page
	// size). An existing file keeps its own.
	PageSize int
	// FillPercent sets how full bbolt packs the pages of a bucket when it
	// splits them (default 0.5). Buckets written in key order (logs, ids)
	// pack best at 1.
	FillPercent map[kv.Bucket]float64
}

// DB is a bbolt file as a kv.Engine. It is safe for concurrent use.
type DB struct {
	db   *bolt.DB
	path string
	opts Options
}

var (
	_ kv.Engine  = (*DB)(nil)
	_ kv.Checker = (*DB)(nil)
	_ kv.Stater  = (*DB)(nil)
)

// Open opens or creates the bbolt file at path.
func Open(path string, opts Options) (*DB, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	// The free list is written with every commit (NoFreelistSync off): a
	// file without it makes bbolt walk and check every page at open to
	// find the free ones, 0.8 s and a resident set of 1.4 GB at 12M
	// codes, after every restart. Behind the log a commit is a
	// checkpoint, about one a second, and writing the list cost W1 and W3
	// nothing measurable (BENCHMARKS.md, "Memory and start-up").
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:         opts.Timeout,
		ReadOnly:        opts.ReadOnly,
		NoSync:          opts.NoSync,
		NoFreelistSync:  false,
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: 1 << 30,
		PageSize:        opts.PageSize,
	})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("open %s: %w (waited %s)", path, kv.ErrLocked, opts.Timeout)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &DB{db: db, path: path, opts: opts}, nil
}

// Path returns the file's path.
func (d *DB) Path() string { return d.path }

// View runs fn in a bbolt read transaction.
func (d *DB) View(fn func(kv.Tx) error) error {
	err := d.db.View(func(btx *bolt.Tx) error {
		t := &tx{btx: btx, fill: d.opts.FillPercent}
		err := fn(t)
		if t.err != nil {
			return t.err
		}
		return err
	})
	return mapErr(err)
}

// Update runs fn in a bbolt write transaction and commits it.
func (d *DB) Update(fn func(kv.RwTx) error) error {
	if d.opts.ReadOnly {
		return kv.ErrReadOnly
	}
	err := d.db.Update(func(btx *bolt.Tx) error {
		t := &tx{btx: btx, fill: d.opts.FillPercent}
		err := fn(t)
		if t.err != nil {
			return t.err
		}
		return err
	})
	return mapErr(err)
}

// Close closes the file.
func (d *DB) Close() error { return d.db.Close() }

// WriteTo writes the file as one read transaction sees it to w: its pages
// in use, free pages among them. promo's backups copy key by key into a
// new file and write that one (see store.Backup).
func (d *DB) WriteTo(w io.Writer) (int64, error) {
	var n int64
	err := d.db.View(func(btx *bolt.Tx) error {
		var err error
		n, err = btx.WriteTo(w)
		return err
	})
	return n, mapErr(err)
}

// Check runs bbolt's own consistency check of every page. It holds the
// writer's lock meanwhile: bbolt's check reads the free list, which a
// concurrent commit changes.
func (d *DB) Check() ([]string, error) {
	var findings []string
	run := d.db.View
	if !d.opts.ReadOnly {
		run = func(fn func(*bolt.Tx) error) error {
			err := d.db.Update(func(btx *bolt.Tx) error {
				fn(btx)
				return errRollback
			})
			if errors.Is(err, errRollback) {
				return nil
			}
			return err
		}
	}
	err := run(func(btx *bolt.Tx) error {
		for err := range btx.Check() {
			findings = append(findings, "bbolt: "+err.Error())
		}
		return nil
	})
	return findings, mapErr(err)
}

var errRollback = errors.New("rolled back on purpose")

// Stats returns the file's size and the bytes of its pages in use.
func (d *DB) Stats() kv.Stats {
	var out kv.Stats
	_ = d.db.View(func(btx *bolt.Tx) error {
		st := d.db.Stats()
		out.UsedBytes = btx.Size() - int64(st.FreePageN+st.PendingPageN)*int64(d.db.Info().PageSize)
		return nil
	})
	if fi, err := os.Stat(d.path); err == nil {
		out.FileBytes = fi.Size()
	}
	return out
}

func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, berrors.ErrDatabaseNotOpen):
		return fmt.Errorf("%w: %w", kv.ErrClosed, err)
	case errors.Is(err, berrors.ErrDatabaseReadOnly), errors.Is(err, berrors.ErrTxNotWritable):
		return fmt.Errorf("%w: %w", kv.ErrReadOnly, err)
	}
	return err
}

// tx adapts a bbolt transaction; it keeps the first failure.
type tx struct {
	btx  *bolt.Tx
	fill map[kv.Bucket]float64
	err  error
	// A few open buckets, so that a Get needs no lookup of its bucket.
	names   [8]kv.Bucket
	buckets [8]*bolt.Bucket
	n       int
}

func (t *tx) bucket(name kv.Bucket, create bool) *bolt.Bucket {
	for i := 0; i < t.n; i++ {
		if t.names[i] == name {
			return t.buckets[i]
		}
	}
	b := t.btx.Bucket([]byte(name))
	if b == nil && create {
		var err error
		if b, err = t.btx.CreateBucketIfNotExists([]byte(name)); err != nil {
			t.fail(fmt.Errorf("create bucket %s: %w", name, err))
			return nil
		}
	}
	if b == nil {
		return nil
	}
	if f, ok := t.fill[name]; ok {
		b.FillPercent = f
	}
	i := t.n % len(t.names)
	t.names[i], t.buckets[i] = name, b
	if t.n < len(t.names) {
		t.n++
	}
	return b
}

func (t *tx) fail(err error) {
	if t.err == nil {
		t.err = mapErr(err)
	}
}

func (t *tx) Err() error { return t.err }

func (t *tx) Get(name kv.Bucket, key []byte) []byte {
	b := t.bucket(name, false)
	if b == nil {
		return nil
	}
	// A cursor rather than b.Get: Get answers nil for an empty value too.
	k, v := b.Cursor().Seek(key)
	if k == nil || string(k) != string(key) {
		return nil
	}
	if v == nil {
		return empty
	}
	return v
}

var empty = []byte{}

func (t *tx) Scan(name kv.Bucket, r kv.Range, fn func(k, v []byte) bool) {
	b := t.bucket(name, false)
	if b == nil {
		return
	}
	c := b.Cursor()
	if !r.Reverse {
		var k, v []byte
		if r.Start == nil {
			k, v = c.First()
		} else {
			k, v = c.Seek(r.Start)
		}
		for ; k != nil && (r.End == nil || string(k) < string(r.End)); k, v = c.Next() {
			if !fn(k, v) {
				return
			}
		}
		return
	}
	var k, v []byte
	if r.End == nil {
		k, v = c.Last()
	} else if k, _ = c.Seek(r.End); k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	for ; k != nil && (r.Start == nil || string(k) >= string(r.Start)); k, v = c.Prev() {
		if !fn(k, v) {
			return
		}
	}
}

func (t *tx) Put(name kv.Bucket, key, value []byte) {
	if t.err != nil {
		return
	}
	b := t.bucket(name, true)
	if b == nil {
		return
	}
	if err := b.Put(key, value); err != nil {
		t.fail(fmt.Errorf("put %s/%x: %w", name, key, err))
	}
}

func (t *tx) Delete(name kv.Bucket, key []byte) {
	if t.err != nil {
		return
	}
	b := t.bucket(name, false)
	if b == nil {
		return
	}
	if err := b.Delete(key); err != nil {
		t.fail(fmt.Errorf("delete %s/%x: %w", name, key, err))
	}
}
