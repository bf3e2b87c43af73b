// Package store owns promo's domain: campaigns, codes, assignments,
// redemptions, counters, the event log and API keys, and every rule that must
// hold inside one transaction. The rules run over the small transactional
// key-value interface of package kv, so the same rules run on every engine:
// by default bbolt behind a write-ahead log (kv/walkv over kv/boltkv).
//
// All writes go through one writer goroutine that runs the operations
// waiting at that moment in one transaction (group commit): every
// operation checks its rules before it writes, so one operation's refusal
// never disturbs the others, and each caller is answered only after the
// shared transaction is durable (with the log: one fdatasync).
package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"promo/bloom"
	"promo/store/kv"
	"promo/store/kv/boltkv"
	"promo/store/kv/wal"
	"promo/store/kv/walkv"
)

// Buckets.
const (
	bucketMeta        kv.Bucket = "meta"
	bucketCampaigns   kv.Bucket = "campaigns"      // id → Campaign JSON
	bucketCampNums    kv.Bucket = "campaign_nums"  // num(4) → id
	bucketCodes       kv.Bucket = "codes"          // canonical key → codeRec
	bucketCampCodes   kv.Bucket = "campaign_codes" // num(4) seq(8) → page of keys, in creation order (index.go)
	bucketCustomers   kv.Bucket = "customers"      // see customer.go
	bucketRedemptions kv.Bucket = "redemptions"    // id(8) → Redemption JSON
	bucketCounters    kv.Bucket = "counters"       // num(4) dim… → counter vector
	bucketBatches     kv.Bucket = "batches"        // num(8) → Batch JSON
	bucketEvents      kv.Bucket = "events"         // seq(8) → Event JSON
	bucketKeys        kv.Bucket = "keys"           // name → Key JSON
	bucketIdem        kv.Bucket = "idempotency"    // scope 0 key → idemRecord JSON
)

// allBuckets lists every bucket, for copies of a whole database.
var allBuckets = []kv.Bucket{bucketMeta, bucketCampaigns, bucketCampNums, bucketCodes, bucketCampCodes,
	bucketCustomers, bucketRedemptions, bucketCounters, bucketBatches, bucketEvents, bucketKeys, bucketIdem,
	bucketHolds, bucketCodeHolds, bucketCampHolds, bucketLeaks, bucketRefusers, bucketWebhooks, bucketDeliveries}

// Keys of the meta bucket.
var (
	metaSchema     = []byte("schema")
	metaFilterMark = []byte("filter_mark")
	metaRejected   = []byte("rejected")
	// metaUsedAssigned marks a file whose counters include assigned_used
	// (added after schema 2 files existed; Open counts it once for them).
	metaUsedAssigned = []byte("counted/assigned_used")
)

// Sequences: meta keys "seq/NAME" hold the last number handed out.
const (
	seqCampaigns   = "campaigns"
	seqRedemptions = "redemptions"
	seqBatches     = "batches"
	seqEvents      = "events"
)

// schemaVersion 2: sequences live in meta keys (1 kept them in bbolt's
// bucket sequences; Open migrates such a file).
const schemaVersion = "2"

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
	// MaxBatch caps how many operations share one transaction (default 256).
	MaxBatch int
	// ReadOnly opens the file for reading only; every write is refused.
	ReadOnly bool
	// NoSync skips fsync on commit, and the log's fdatasync: for tests and
	// benchmarks of CPU cost only, never for data that matters.
	NoSync bool
	// NoLog runs on the bbolt file alone, without the write-ahead log:
	// every group of writes pays bbolt's whole commit. For comparisons.
	NoLog bool
	// Log configures the write-ahead log (FILE.wal).
	Log walkv.Options
	// OnFatal is called when the write-ahead log cannot be synced: the
	// process must stop (fsync is never retried). Nil logs the error and
	// exits with status 3.
	OnFatal func(error)
	// Logger receives diagnostics; nil means slog.Default().
	Logger *slog.Logger
	// PageSize is bbolt's page size for a new file (default: the OS page
	// size). An existing file keeps its own.
	PageSize int
}

// Store is a promo database: the engine's files (by default FILE and the
// log FILE.wal) plus the Bloom filter beside them (FILE.bloom). A Store is
// safe for concurrent use.
type Store struct {
	db     kv.Engine
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
	// With a pipelining engine, the writer hands each batch's wait to the
	// completer, which answers the batches in order once they are durable.
	completions chan completion
	completed   chan struct{}
	closeMu     sync.RWMutex // held for reading while submitting ops
	closed      bool

	genMu       sync.Mutex  // serialises operations that add codes
	codesAdded  atomic.Bool // the filter changed since it was loaded or saved
	rejected    rejectCounters
	eventsMu    sync.Mutex
	eventsReady chan struct{} // closed and replaced when events commit
	keys        keyCache
	idemLocks   idemLocks
	campRejects campaignRejects
	cl          *cluster     // set when other processes share the engine (etcd)
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

// LogPath returns where the write-ahead log of the database at dbPath is
// kept.
func LogPath(dbPath string) string { return dbPath + ".wal" }

// Open opens or creates the database at path: the bbolt file and, unless
// Options.NoLog, the write-ahead log beside it, replaying the log's records
// the file does not hold yet. It waits at most Options.LockTimeout for the
// file lock and then returns an error wrapping ErrLocked. A damaged log
// refuses to open with an unavailable error naming the segment and offset
// and saying how to recover. It loads the persisted filter, or rebuilds it
// from the codes when the file is missing, corrupt or stale.
func Open(path string, opts Options) (*Store, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = time.Second
	}
	if opts.ReadOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, &Error{Code: ENotFound, Message: fmt.Sprintf("open %s: no such database file", path), Err: err}
		}
	}
	bdb, err := boltkv.Open(path, boltkv.Options{Timeout: opts.LockTimeout, ReadOnly: opts.ReadOnly, NoSync: opts.NoSync,
		PageSize: opts.PageSize, FillPercent: fillPercent})
	if err != nil {
		if errors.Is(err, kv.ErrLocked) {
			return nil, lockedError(err)
		}
		return nil, openError(path, err)
	}
	var engine kv.Engine = bdb
	if !opts.NoLog {
		lopts := opts.Log
		lopts.ReadOnly = opts.ReadOnly
		if opts.NoSync && lopts.Log.Sync == nil {
			lopts.Log.Sync = func(*os.File) error { return nil }
		}
		if lopts.Logger == nil {
			lopts.Logger = opts.Logger
		}
		if lopts.OnFatal == nil {
			lopts.OnFatal = opts.OnFatal
		}
		if lopts.OnFatal == nil {
			log := opts.Logger
			if log == nil {
				log = slog.Default()
			}
			lopts.OnFatal = func(err error) {
				log.Error("stopping: the write-ahead log could not be synced; nothing unsynced was acknowledged. Check the disk, then restart promo: it replays the log", "err", err)
				fmt.Fprintln(os.Stderr, "promo: fatal:", err)
				os.Exit(3)
			}
		}
		wdb, err := walkv.Open(bdb, LogPath(path), lopts)
		if err != nil {
			bdb.Close()
			var we *wal.Error
			if errors.As(err, &we) {
				return nil, &Error{Code: EUnavailable, Message: err.Error(), Err: err}
			}
			return nil, classify(err, "open the write-ahead log "+LogPath(path))
		}
		engine = wdb
	}
	return openEngine(engine, path, opts)
}

// fillPercent packs the pages of buckets written in key order.
var fillPercent = map[kv.Bucket]float64{bucketRedemptions: 1, bucketEvents: 1, bucketCampCodes: 1, bucketCodes: 0.95}

// openEngine opens a store over an engine. path names the database in
// messages and places the filter file.
func openEngine(engine kv.Engine, path string, opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = 100_000
	}
	if opts.FilterCapacity == 0 {
		opts.FilterCapacity = 1 << 20
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Store{
		db: engine, path: path, opts: opts, now: opts.Now, log: opts.Logger,
		ops: make(chan *op, 4096), closing: make(chan struct{}), loopDone: make(chan struct{}),
		completions: make(chan completion, 64), completed: make(chan struct{}),
		eventsReady: make(chan struct{}),
	}
	if err := s.startCluster(); err != nil {
		engine.Close()
		return nil, err
	}
	if err := s.init(); err != nil {
		engine.Close()
		return nil, err
	}
	s.followCluster()
	go s.complete()
	go s.writeLoop()
	if !opts.ReadOnly {
		go s.maintain()
	}
	return s, nil
}

func (s *Store) init() error {
	if !s.opts.ReadOnly {
		err := s.db.Update(func(tx kv.RwTx) error {
			v := tx.Get(bucketMeta, metaSchema)
			switch {
			case v == nil && !isEmpty(tx):
				return fmt.Errorf("%s is not a promo database (it holds data but no schema)", s.path)
			case v != nil && string(v) == "1":
				migrateSequences(tx)
			case v != nil && string(v) != schemaVersion:
				return fmt.Errorf("database schema %q is not %q: this promo cannot read it", v, schemaVersion)
			}
			if tx.Get(bucketMeta, metaUsedAssigned) == nil {
				if err := countUsedAssigned(tx); err != nil {
					return err
				}
				tx.Put(bucketMeta, metaUsedAssigned, []byte{1})
			}
			tx.Put(bucketMeta, metaSchema, []byte(schemaVersion))
			return nil
		})
		if err != nil {
			return classify(err, "initialise the database")
		}
	}
	err := s.db.View(func(tx kv.Tx) error {
		if v := tx.Get(bucketMeta, metaSchema); string(v) != schemaVersion {
			return fmt.Errorf("%s is not a promo database of schema %s (found %q)", s.path, schemaVersion, v)
		}
		cat, err := loadCatalog(tx)
		if err != nil {
			return err
		}
		s.cat.Store(cat)
		s.rejected.load(tx.Get(bucketMeta, metaRejected))
		return s.keys.load(tx)
	})
	if err != nil {
		return classify(err, "read the database")
	}
	return s.loadFilter()
}

// isEmpty reports whether tx holds no key of any promo bucket.
func isEmpty(tx kv.Tx) bool {
	empty := true
	for _, b := range allBuckets {
		tx.Scan(b, kv.All, func(_, _ []byte) bool {
			empty = false
			return false
		})
	}
	return empty
}

// migrateSequences turns a schema-1 file's sequences (bbolt's bucket
// sequences) into meta keys. Ids were never deleted and a rolled-back
// transaction took its numbers with it, so each sequence is the bucket's
// last key.
func migrateSequences(tx kv.RwTx) {
	for name, b := range map[string]kv.Bucket{seqCampaigns: bucketCampNums, seqRedemptions: bucketRedemptions,
		seqBatches: bucketBatches, seqEvents: bucketEvents} {
		var last uint64
		tx.Scan(b, kv.Range{Reverse: true}, func(k, _ []byte) bool {
			if len(k) == 4 {
				last = uint64(binary.BigEndian.Uint32(k))
			} else if len(k) == 8 {
				last = binary.BigEndian.Uint64(k)
			}
			return false
		})
		tx.Put(bucketMeta, seqKeyName(name), binary.BigEndian.AppendUint64(nil, last))
	}
}

// countUsedAssigned sets each campaign's assigned_used counter from its
// codes, once, for a file written before promo kept that counter.
func countUsedAssigned(tx kv.RwTx) error {
	used := map[uint32]int64{}
	var err error
	tx.Scan(bucketCodes, kv.All, func(_, v []byte) bool {
		r, derr := decodeCodeRec(v)
		if derr != nil {
			err = derr
			return false
		}
		if r.customer != "" && r.redemptions > 0 {
			used[r.camp]++
		}
		return true
	})
	if err != nil {
		return err
	}
	for num, n := range used {
		key := counterKey(num, dimTotal, nil)
		vec := decodeVec(tx.Get(bucketCounters, key), nCounters)
		vec[cUsedAssigned] = n
		tx.Put(bucketCounters, key, encodeVec(vec))
	}
	return nil
}

func seqKeyName(name string) []byte { return []byte("seq/" + name) }

// readSeq returns the last number the sequence handed out (0 when none).
func readSeq(tx kv.Tx, name string) uint64 {
	if v := tx.Get(bucketMeta, seqKeyName(name)); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
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
		direct := func(fn func(*wtx) error) error {
			tx := &wtx{}
			err := s.db.Update(func(t kv.RwTx) error {
				tx.RwTx = t
				return fn(tx)
			})
			if err == nil {
				tx.committed()
			}
			return err
		}
		errs = append(errs, s.flushRejectedWith(direct), s.flushCampaignRejects(direct),
			s.flushKeyUse(direct), s.saveFilter(direct))
	}
	s.stopCluster()
	errs = append(errs, s.db.Close())
	return errors.Join(errs...)
}

// wtx is a write transaction of the store: the engine's, plus what to do
// once it commits.
type wtx struct {
	kv.RwTx
	after  []func()
	events bool // an event was appended
}

// onCommit runs f after the transaction commits, in order.
func (tx *wtx) onCommit(f func()) { tx.after = append(tx.after, f) }

func (tx *wtx) committed() {
	for _, f := range tx.after {
		f()
	}
}

// nextSeq returns the sequence's next number and records it.
func (tx *wtx) nextSeq(name string) uint64 {
	n := readSeq(tx, name) + 1
	tx.Put(bucketMeta, seqKeyName(name), binary.BigEndian.AppendUint64(nil, n))
	return n
}

// op is one write operation waiting for the writer goroutine.
type op struct {
	fn   func(tx *wtx) error
	bulk bool // a large transaction, run alone (kv.Bulk)
	err  error
	done chan struct{}
}

// update runs fn in a write transaction, possibly shared with other
// operations, and returns once that transaction has committed (or failed).
// fn must return a rule error (see isRuleError) only before it writes.
func (s *Store) update(ctx context.Context, fn func(tx *wtx) error) error {
	return s.submit(ctx, &op{fn: fn, done: make(chan struct{})})
}

// bulkUpdate runs fn alone in a large transaction, through the engine's
// bulk path when it has one.
func (s *Store) bulkUpdate(ctx context.Context, fn func(tx *wtx) error) error {
	return s.submit(ctx, &op{fn: fn, bulk: true, done: make(chan struct{})})
}

// submitNoWait queues o without waiting for room or for its outcome; it
// reports false when the queue is full or the store is closing.
func (s *Store) submitNoWait(o *op) bool {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return false
	}
	select {
	case s.ops <- o:
		return true
	default:
		return false
	}
}

func (s *Store) submit(ctx context.Context, o *op) error {
	if s.opts.ReadOnly {
		return Errorf(EUnavailable, "the database is open read-only")
	}
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

// writeLoop commits the operations queued at each moment together; a bulk
// operation runs alone.
func (s *Store) writeLoop() {
	defer func() {
		close(s.completions)
		<-s.completed
		close(s.loopDone)
	}()
	batch := make([]*op, 0, s.opts.MaxBatch)
	var held *op // a bulk op that arrived while filling a batch
	for {
		first := held
		held = nil
		if first == nil {
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
		}
		if first.bulk {
			s.commit([]*op{first})
			continue
		}
		batch = append(batch[:0], first)
	fill:
		for len(batch) < s.opts.MaxBatch {
			select {
			case o := <-s.ops:
				if o.bulk {
					held = o
					break fill
				}
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

// completion is a batch whose writes are on their way to disk.
type completion struct {
	batch []*op
	tx    *wtx
	wait  func() error
}

// complete answers the batches the writer handed over, in order, once each
// is durable.
func (s *Store) complete() {
	defer close(s.completed)
	for c := range s.completions {
		s.finish(c.batch, c.tx, c.wait())
	}
}

// finish answers a batch: after its commit (err nil), or with err.
func (s *Store) finish(batch []*op, tx *wtx, err error) {
	if err == nil {
		s.commits.Add(1)
		s.committed.Add(int64(len(batch)))
		tx.committed()
		if tx.events {
			s.notifyEvents()
		}
	}
	for _, o := range batch {
		if err != nil && (o.err == nil || isRuleError(o.err)) {
			o.err = classify(err, "commit")
		}
		close(o.done)
	}
}

func (s *Store) commit(batch []*op) {
	var failed int = -1
	tx := &wtx{}
	run := func(t kv.RwTx) error {
		*tx = wtx{RwTx: t}
		for i, o := range batch {
			o.err = safeCall(o.fn, tx)
			if o.err != nil && !isRuleError(o.err) {
				failed = i
				return errAbort
			}
		}
		return nil
	}
	bulk := len(batch) == 1 && batch[0].bulk
	var err error
	switch b, p := s.db.(kv.Bulk); {
	case bulk && p:
		err = b.BulkUpdate(run)
	default:
		if pl, ok := s.db.(kv.Pipeliner); ok && !bulk {
			var wait func() error
			if wait, err = pl.UpdateAsync(run); err == nil {
				// The writer reuses batch's array for the next batch.
				s.completions <- completion{batch: slices.Clone(batch), tx: tx, wait: wait}
				return
			}
			break
		}
		err = s.db.Update(run)
	}
	if errors.Is(err, kv.ErrTooLarge) && len(batch) > 1 {
		// Over the engine's limits (etcd's operations per Txn): halves.
		s.commit(batch[:len(batch)/2])
		s.commit(batch[len(batch)/2:])
		return
	}
	if err != nil && failed >= 0 && len(batch) > 1 {
		// Rerun each operation alone so only the faulty one fails.
		for _, o := range batch {
			s.commit([]*op{o})
		}
		return
	}
	s.drainCompletions()
	s.finish(batch, tx, err)
}

// drainCompletions waits until the completer has answered every batch
// handed to it, so that a batch answered directly comes after them.
func (s *Store) drainCompletions() {
	if _, ok := s.db.(kv.Pipeliner); !ok {
		return
	}
	done := make(chan struct{})
	s.completions <- completion{wait: func() error { close(done); return errSkip }}
	<-done
}

// errSkip marks the completion drainCompletions sends: it answers nobody.
var errSkip = errors.New("no batch")

// safeCall runs fn, turning a panic into an internal error.
func safeCall(fn func(*wtx) error, tx *wtx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = internal(fmt.Errorf("panic: %v", r), "internal error")
		}
	}()
	return fn(tx)
}

// view runs fn in a read transaction.
func (s *Store) view(fn func(tx kv.Tx) error) error {
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
	case isErrno(err, syscall.EROFS), isErrno(err, syscall.EACCES), isErrno(err, syscall.EPERM), errors.Is(err, kv.ErrReadOnly):
		return &Error{Code: EUnavailable, Message: "the database file is read-only: nothing was written", Err: err}
	case errors.Is(err, kv.ErrClosed):
		return &Error{Code: EUnavailable, Message: "the database is closed", Err: err}
	case errors.Is(err, wal.ErrSync):
		return &Error{Code: EUnavailable, Message: "the write-ahead log could not be synced to disk: nothing more is written; restart promo", Err: err}
	case errors.Is(err, kv.ErrTooLarge):
		return &Error{Code: ETooLarge, Message: "this is too much for one transaction of the cluster (etcd's --max-txn-ops and --max-request-bytes): nothing was written; send less at once (e.g. split the file), or raise --max-txn-ops on every member and give promo the same --etcd-max-txn-ops", Err: err}
	case errors.Is(err, kv.ErrUncertain):
		return &Error{Code: EUnavailable, Message: "the cluster did not confirm the write in time: it may or may not have taken effect; retry with the same Idempotency-Key, or look before you retry", Err: err}
	case errors.Is(err, kv.ErrUnavailable):
		return &Error{Code: EUnavailable, Message: "the database cannot take writes now: nothing was written; retry later", Err: err}
	}
	return internal(err, what)
}

// openError says why the database file could not be opened or created,
// and what to do, without repeating the path (the cause names it too).
func openError(path string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "open "+path+": ")
	dir := filepath.Dir(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, serr := os.Stat(dir); serr != nil {
			msg = fmt.Sprintf("cannot create the database %s: the directory %s does not exist; create it first (mkdir -p %s), or use a file in an existing directory", path, dir, dir)
		}
	case errors.Is(err, fs.ErrPermission):
		msg = fmt.Sprintf("cannot open the database %s: permission denied; run promo as the user who owns %s, or use a file you may write", path, dir)
	}
	return &Error{Code: EUnavailable, Message: msg, Err: err}
}
