// Package store owns promo's domain: campaigns, codes, assignments,
// redemptions, counters, the event log and API keys, and every rule that must
// hold inside one transaction. It is the only package that imports bbolt.
//
// All writes go through one writer goroutine that commits the operations
// waiting at that moment in one bbolt transaction (group commit): every
// operation checks its rules before it writes, so one operation's refusal
// never disturbs the others, and each caller is answered only after the
// shared commit is on disk.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"promo/bloom"
)

// Bucket names.
var (
	bucketMeta        = []byte("meta")
	bucketCampaigns   = []byte("campaigns")      // id → Campaign JSON
	bucketCampNums    = []byte("campaign_nums")  // num(4) → id
	bucketCodes       = []byte("codes")          // canonical key → codeRec
	bucketCampCodes   = []byte("campaign_codes") // num(4) seq(8) → page of keys, in creation order (index.go)
	bucketCustomers   = []byte("customers")      // see customer.go
	bucketRedemptions = []byte("redemptions")    // id(8) → Redemption JSON
	bucketCounters    = []byte("counters")       // num(4) dim… → counter vector
	bucketBatches     = []byte("batches")        // num(8) → Batch JSON
	bucketEvents      = []byte("events")         // seq(8) → Event JSON
	bucketKeys        = []byte("keys")           // name → Key JSON
	bucketIdem        = []byte("idempotency")    // scope 0 key → idemRecord JSON
	allBuckets        = [][]byte{bucketMeta, bucketCampaigns, bucketCampNums, bucketCodes, bucketCampCodes,
		bucketCustomers, bucketRedemptions, bucketCounters, bucketBatches, bucketEvents, bucketKeys, bucketIdem}

	metaSchema     = []byte("schema")
	metaFilterMark = []byte("filter_mark")
	metaRejected   = []byte("rejected")
)

const schemaVersion = "1"

// ErrLocked is returned by Open when another process holds the database file.
var ErrLocked = errors.New("the database file is in use by another promo process")

// Options configure a Store. The zero value is ready to use.
type Options struct {
	// Now is the clock; nil means time.Now. Tests set it to be exact.
	Now func() time.Time
	// Random is the source of code randomness; nil means crypto/rand.
	Random io.Reader
	// ChunkSize is how many codes Generate writes per transaction
	// (default 100,000).
	ChunkSize int
	// FilterCapacity is the initial capacity of a new filter (default 1M).
	FilterCapacity uint64
	// LockTimeout is how long Open waits for the file lock (default 1 s).
	LockTimeout time.Duration
	// MaxBatch caps how many operations share one commit (default 256).
	MaxBatch int
	// ReadOnly opens the file for reading only; every write is refused.
	ReadOnly bool
	// NoSync skips fsync on commit: for benchmarks of CPU cost only.
	NoSync bool
	// Logger receives diagnostics; nil means slog.Default().
	Logger *slog.Logger
	// PageSize is bbolt's page size for a new file (default: the OS page
	// size). An existing file keeps its own.
	PageSize int
}

// Store is a promo database: one bbolt file plus its Bloom filter beside it
// (FILE.bloom). A Store is safe for concurrent use.
type Store struct {
	db     *bolt.DB
	path   string
	opts   Options
	now    func() time.Time
	log    *slog.Logger
	filter atomic.Pointer[bloom.Filter]

	// cat is the campaign catalog: an immutable snapshot replaced after
	// every commit that changes a campaign.
	cat atomic.Pointer[catalog]

	ops      chan *op
	closing  chan struct{}
	loopDone chan struct{}
	closeMu  sync.RWMutex // held for reading while submitting ops
	closed   bool

	genMu       sync.Mutex  // serialises operations that add codes
	codesAdded  atomic.Bool // the filter changed since it was loaded or saved
	rejected    rejectCounters
	eventsMu    sync.Mutex
	eventsReady chan struct{} // closed and replaced when events commit
	keys        keyCache
	idemLocks   idemLocks
	campRejects campaignRejects
	commits     atomic.Int64 // write transactions committed
	committed   atomic.Int64 // operations they carried
}

// WriterStats counts the writer's transactions and the operations they
// carried: their ratio is the group commit's batch size.
type WriterStats struct {
	Commits    int64 `json:"commits"`
	Operations int64 `json:"operations"`
}

// Writer returns the writer's counts since the store opened.
func (s *Store) Writer() WriterStats {
	return WriterStats{Commits: s.commits.Load(), Operations: s.committed.Load()}
}

// Open opens or creates the database at path. It waits at most
// Options.LockTimeout for the file lock and then returns an error wrapping
// ErrLocked. It loads the persisted filter, or rebuilds it from the codes
// when the file is missing, corrupt or stale.
func Open(path string, opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = 100_000
	}
	if opts.FilterCapacity == 0 {
		opts.FilterCapacity = 1 << 20
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = time.Second
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:         opts.LockTimeout,
		ReadOnly:        opts.ReadOnly,
		NoSync:          opts.NoSync,
		NoFreelistSync:  true,
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: 1 << 30,
		PageSize:        opts.PageSize,
	})
	if err != nil {
		switch {
		case errors.Is(err, berrors.ErrTimeout):
			return nil, fmt.Errorf("open %s: %w (waited %s); stop it or talk to it through its socket", path, ErrLocked, opts.LockTimeout)
		case errors.Is(err, os.ErrNotExist) && opts.ReadOnly:
			return nil, &Error{Code: ENotFound, Message: fmt.Sprintf("open %s: no such database file", path), Err: err}
		}
		return nil, &Error{Code: EUnavailable, Message: fmt.Sprintf("open %s: %v", path, err), Err: err}
	}
	s := &Store{
		db: db, path: path, opts: opts, now: opts.Now, log: opts.Logger,
		ops: make(chan *op, 4096), closing: make(chan struct{}), loopDone: make(chan struct{}),
		eventsReady: make(chan struct{}),
	}
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	go s.writeLoop()
	if !opts.ReadOnly {
		go s.maintain()
	}
	return s, nil
}

func (s *Store) init() error {
	if !s.opts.ReadOnly {
		err := s.db.Update(func(tx *bolt.Tx) error {
			for _, name := range allBuckets {
				if _, err := tx.CreateBucketIfNotExists(name); err != nil {
					return err
				}
			}
			meta := tx.Bucket(bucketMeta)
			if v := meta.Get(metaSchema); v != nil && string(v) != schemaVersion {
				return fmt.Errorf("database schema %q is not %q: this promo cannot read it", v, schemaVersion)
			}
			return meta.Put(metaSchema, []byte(schemaVersion))
		})
		if err != nil {
			return classify(err, "initialise the database")
		}
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta) == nil {
			return fmt.Errorf("%s is not a promo database (no meta bucket)", s.path)
		}
		cat, err := loadCatalog(tx)
		if err != nil {
			return err
		}
		s.cat.Store(cat)
		s.rejected.load(tx.Bucket(bucketMeta).Get(metaRejected))
		return s.keys.load(tx)
	})
	if err != nil {
		return classify(err, "read the database")
	}
	return s.loadFilter()
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Close saves the filter, waits for operations in flight and closes the file.
// It is safe to call more than once.
func (s *Store) Close() error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closing)
	s.closeMu.Unlock()
	<-s.loopDone
	var errs []error
	if !s.opts.ReadOnly {
		direct := func(fn func(*bolt.Tx) error) error { return s.db.Update(fn) }
		errs = append(errs, s.flushRejectedWith(direct), s.flushCampaignRejects(direct),
			s.flushKeyUse(direct), s.saveFilter(direct))
	}
	errs = append(errs, s.db.Close())
	return errors.Join(errs...)
}

// op is one write operation waiting for the writer goroutine.
type op struct {
	fn   func(tx *bolt.Tx) error
	err  error
	done chan struct{}
}

// update runs fn in a write transaction, possibly shared with other
// operations, and returns once that transaction has committed (or failed).
// fn must return a rule error (see isRuleError) only before it writes.
func (s *Store) update(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if s.opts.ReadOnly {
		return Errorf(EUnavailable, "the database is open read-only")
	}
	o := &op{fn: fn, done: make(chan struct{})}
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return Errorf(EUnavailable, "the store is closing")
	}
	select {
	case s.ops <- o:
	case <-ctx.Done():
		s.closeMu.RUnlock()
		return ctx.Err()
	}
	s.closeMu.RUnlock()
	<-o.done // once queued, the op runs: its caller must learn the outcome
	return o.err
}

// writeLoop commits the operations queued at each moment together.
func (s *Store) writeLoop() {
	defer close(s.loopDone)
	batch := make([]*op, 0, s.opts.MaxBatch)
	for {
		var first *op
		select {
		case first = <-s.ops:
		case <-s.closing:
			// Drain what was queued before Close.
			select {
			case first = <-s.ops:
			default:
				return
			}
		}
		batch = append(batch[:0], first)
	fill:
		for len(batch) < s.opts.MaxBatch {
			select {
			case o := <-s.ops:
				batch = append(batch, o)
			default:
				break fill
			}
		}
		s.commit(batch)
	}
}

// errAbort marks a transaction abandoned because one operation failed
// unexpectedly; the others are then run one by one.
var errAbort = errors.New("batch aborted")

func (s *Store) commit(batch []*op) {
	var failed int = -1
	events := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		before := tx.Bucket(bucketEvents).Sequence()
		for i, o := range batch {
			o.err = safeCall(o.fn, tx)
			if o.err != nil && !isRuleError(o.err) {
				failed = i
				return errAbort
			}
		}
		events = tx.Bucket(bucketEvents).Sequence() != before
		return nil
	})
	switch {
	case err == nil:
		s.commits.Add(1)
		s.committed.Add(int64(len(batch)))
		if events {
			s.notifyEvents()
		}
		for _, o := range batch {
			close(o.done)
		}
	case failed >= 0 && len(batch) > 1:
		// Rerun each operation alone so only the faulty one fails.
		for _, o := range batch {
			s.commit([]*op{o})
		}
	default:
		for _, o := range batch {
			if failed < 0 || o.err == nil || isRuleError(o.err) {
				o.err = classify(err, "commit")
			}
			close(o.done)
		}
	}
}

// safeCall runs fn, turning a panic into an internal error.
func safeCall(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = internal(fmt.Errorf("panic: %v", r), "internal error")
		}
	}()
	return fn(tx)
}

// view runs fn in a read transaction.
func (s *Store) view(fn func(tx *bolt.Tx) error) error {
	if err := s.db.View(fn); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return err
		}
		return classify(err, "read")
	}
	return nil
}

// isErrno reports whether err is errno, also when a library flattened it
// into its message (bbolt's "file resize error: %s").
func isErrno(err error, errno syscall.Errno) bool {
	return errors.Is(err, errno) || strings.Contains(err.Error(), errno.Error())
}

// classify turns a storage error into an *Error: disk full and read-only
// files become EUnavailable with a sentence saying so; the rest internal.
func classify(err error, what string) error {
	var e *Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e):
		return err
	case isErrno(err, syscall.ENOSPC), isErrno(err, syscall.EDQUOT):
		return &Error{Code: EUnavailable, Message: "the disk is full: nothing was written; free space and retry", Err: err}
	case isErrno(err, syscall.EFBIG):
		return &Error{Code: EUnavailable, Message: "the database file reached its size limit: nothing was written", Err: err}
	case isErrno(err, syscall.EROFS), isErrno(err, syscall.EACCES), isErrno(err, syscall.EPERM), errors.Is(err, berrors.ErrDatabaseReadOnly):
		return &Error{Code: EUnavailable, Message: "the database file is read-only: nothing was written", Err: err}
	case errors.Is(err, berrors.ErrDatabaseNotOpen):
		return &Error{Code: EUnavailable, Message: "the database is closed", Err: err}
	}
	return internal(err, what)
}
