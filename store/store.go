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
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
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
	bucketHolds, bucketCodeHolds, bucketCampHolds, bucketLeaks, bucketRefusers, bucketWebhooks, bucketDeliveries,
	bucketCounterShards, bucketEventsPending}

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
	// Random is the source of code randomness; nil means crypto/rand. It
	// must be safe for concurrent use: a generation reads it from two
	// goroutines.
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
	// OnBulk, when set, is called with true as the first generation or
	// import at a time starts, and with false as the last one ends: a
	// server keeps its memory tight meanwhile. Calls do not overlap.
	OnBulk func(running bool)
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
	// inflight counts the batches handed to the completer and not yet
	// answered; durable gets a token each time one is answered (gather).
	inflight atomic.Int64
	durable  chan struct{}
	closeMu  sync.RWMutex // held for reading while submitting ops
	closed   bool

	genMu       sync.Mutex  // serialises operations that add codes
	bulkMu      sync.Mutex  // guards bulkN and the calls of Options.OnBulk
	bulkN       int         // generations and imports running
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
		completions: make(chan completion, 64), completed: make(chan struct{}), durable: make(chan struct{}, 1),
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
				*tx = wtx{RwTx: t, shard: s.shardOf()}
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
	s.settleEvents() // what this store appended, numbered before it goes
	errs = append(errs, s.db.Close())
	return errors.Join(errs...)
}

// bulk counts a generation or import in until the returned function is
// called, telling Options.OnBulk when the first starts and the last ends.
// An import reads its file before it takes genMu, so two may overlap.
func (s *Store) bulk() (end func()) {
	if s.opts.OnBulk == nil {
		return func() {}
	}
	s.bulkMu.Lock()
	if s.bulkN++; s.bulkN == 1 {
		s.opts.OnBulk(true)
	}
	s.bulkMu.Unlock()
	return func() {
		s.bulkMu.Lock()
		if s.bulkN--; s.bulkN == 0 {
			s.opts.OnBulk(false)
		}
		s.bulkMu.Unlock()
	}
}
