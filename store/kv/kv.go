// Package kv is the small transactional key-value interface that promo's
// rules run over, so that the same rules run on every storage engine: bbolt
// alone (boltkv), bbolt behind a write-ahead log (walkv), and an etcd
// cluster (etcdkv).
//
// A store is a set of buckets, each an ordered map from byte keys to byte
// values. Inside one transaction a caller gets, puts and deletes keys and
// reads ordered ranges. Nothing else is offered on purpose: no sequences, no
// nested buckets, no cursor that outlives its transaction, so that any
// engine with serialisable transactions over ordered keys can sit under the
// rules.
//
// Reads and writes report failure once, not at every call: the first
// failure of a transaction is kept (Tx.Err) and makes View or Update return
// it, whatever the function returned. An engine over a network can fail a
// read; the rules then never act on it, because the whole transaction fails.
package kv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
)

// Bucket names a keyspace. Keys are ordered bytewise within a bucket.
// Engines keep buckets apart; a bucket exists as soon as a key is put in it.
type Bucket string

// Tx is a read transaction: a consistent snapshot of every bucket.
type Tx interface {
	// Get returns the value of key in b, or nil when there is none. The
	// value is valid until the transaction ends; copy it to keep it.
	Get(b Bucket, key []byte) []byte
	// Scan calls fn with the keys of b in r, in ascending key order
	// (descending when r.Reverse), until fn returns false or the range
	// ends. Keys and values are valid only during the call.
	Scan(b Bucket, r Range, fn func(k, v []byte) bool)
	// Err returns the transaction's first failure, nil if none.
	Err() error
}

// RwTx is a read-write transaction. It sees its own writes.
type RwTx interface {
	Tx
	// Put sets key to value in b. The engine may keep key and value until
	// the transaction ends: the caller must not change them before then.
	Put(b Bucket, key, value []byte)
	// Delete removes key from b; deleting a missing key does nothing.
	Delete(b Bucket, key []byte)
}

// Engine is a transactional store. Its methods are safe for concurrent use.
type Engine interface {
	// View runs fn in a read transaction. It returns fn's error, or the
	// transaction's first failure.
	View(fn func(Tx) error) error
	// Update runs fn in a read-write transaction. When fn returns nil and
	// no read or write failed, its writes take effect atomically and are
	// durable when Update returns nil; otherwise none of them does and
	// Update returns the error. Updates are serialisable.
	Update(fn func(RwTx) error) error
	// Close releases the engine. Updates after Close fail with ErrClosed.
	Close() error
}

// Range is an interval of keys [Start, End). A nil Start is the first key
// of the bucket, a nil End is past its last key.
type Range struct {
	Start, End []byte
	Reverse    bool
}

// All is every key of a bucket.
var All = Range{}

// Prefix is the range of the keys that start with p.
func Prefix(p []byte) Range {
	return Range{Start: p, End: PrefixEnd(p)}
}

// From is the range of the keys from start on.
func From(start []byte) Range { return Range{Start: start} }

// PrefixEnd returns the first key after every key that starts with p, or
// nil when there is none (p is empty or all 0xff).
func PrefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Contains reports whether key lies in r.
func (r Range) Contains(key []byte) bool {
	return (r.Start == nil || bytes.Compare(key, r.Start) >= 0) && (r.End == nil || bytes.Compare(key, r.End) < 0)
}

// Errors an engine returns. Engines wrap them with what failed.
var (
	// ErrClosed: the engine was closed.
	ErrClosed = errors.New("the store is closed")
	// ErrLocked: another process holds the database.
	ErrLocked = errors.New("the database file is in use by another promo process")
	// ErrReadOnly: the engine was opened read-only, or a write was made in
	// a read transaction.
	ErrReadOnly = errors.New("the store is open read-only")
	// ErrUnavailable: the engine cannot take writes now (a full disk, a
	// read-only file, a cluster without quorum); nothing was written and a
	// retry may succeed, unless the error also wraps ErrUncertain.
	ErrUnavailable = errors.New("the store cannot take writes now")
	// ErrUncertain: an engine over a network lost its answer to a commit
	// (a timeout, a lost connection, a leader that failed): the writes may
	// or may not have taken effect, and may still take effect later. It
	// wraps ErrUnavailable. A caller must not simply run the update again;
	// it finds out what happened by reading, or retries through a record
	// that makes the retry harmless (an idempotency key).
	ErrUncertain = fmt.Errorf("the outcome of the update is unknown: %w", ErrUnavailable)
	// ErrTooLarge: a transaction exceeds the engine's limits (Limiter);
	// nothing was written, and the same transaction fails again: split the
	// work into smaller transactions.
	ErrTooLarge = errors.New("the transaction is too large for the store")
)

// Limits bound one Update of an engine that cannot take transactions of
// any size. A zero field means no limit.
type Limits struct {
	// MaxOps is the most keys one Update may write (puts and deletes, each
	// key counted once). The reads it must check at commit count against
	// the same limit separately: each key got from the store (not from the
	// transaction's own writes), plus one per Scan.
	MaxOps int
	// MaxBytes is the most bytes one commit may carry as the engine
	// encodes it: about every written key and value and every key checked,
	// each with the engine's key prefix, plus a small overhead per
	// operation (etcdkv's Limits says how it counts).
	MaxBytes int
}

// Limiter is implemented by engines whose transactions have limits (etcd's
// operations per Txn and bytes per request). An Update over them fails with
// ErrTooLarge.
type Limiter interface {
	Limits() Limits
}

// Key names one key of a bucket, or with Prefix every key of the bucket
// that starts with Key.
type Key struct {
	Bucket Bucket
	Key    []byte
	Prefix bool
}

// Prefetcher is implemented by the RwTx of engines whose reads are round
// trips (etcd): Prefetch fetches the keys a transaction is about to Get
// (and the prefixes it is about to Scan with Prefix(Key)) in one round
// trip. It is a hint: what Get returns is the same with or
// without it, and a failed prefetch only leaves the Gets to fetch.
type Prefetcher interface {
	Prefetch(keys []Key)
}

// Bulk is implemented by engines with a faster path for very large
// transactions (bulk generation and import). BulkUpdate has Update's
// guarantees.
type Bulk interface {
	BulkUpdate(fn func(RwTx) error) error
}

// Pipeliner is implemented by engines that can start an update before the
// previous one is durable, so that one update's work overlaps the last
// one's sync.
type Pipeliner interface {
	// UpdateAsync runs fn as Update does, and returns once its writes are
	// ordered after every earlier update's: later updates see them. wait
	// returns once they are durable and visible to View, or returns the
	// failure that stopped them. The caller must wait before it tells
	// anyone that fn's writes happened.
	UpdateAsync(fn func(RwTx) error) (wait func() error, err error)
}

// Backuper is implemented by engines that can write a standalone bbolt file
// of a consistent state faster than a copy key by key.
type Backuper interface {
	// Backup writes the file to w and returns the bytes written.
	Backup(w io.Writer) (int64, error)
}

// Checker is implemented by engines with consistency checks of their own
// (bbolt's page check, the log's records). Check returns the findings,
// empty when all is well.
type Checker interface {
	Check() ([]string, error)
}

// Stats describes an engine's storage, for stats and metrics.
type Stats struct {
	// FileBytes is the size of the engine's files; UsedBytes the part in
	// use (bbolt keeps free pages and room allocated ahead).
	FileBytes int64 `json:"file_bytes"`
	UsedBytes int64 `json:"used_bytes"`
	// Log is set for an engine behind a write-ahead log.
	Log *LogStats `json:"log,omitempty"`
}

// LogStats describes a write-ahead log.
type LogStats struct {
	Segments     int     `json:"segments"`
	SegmentBytes int64   `json:"segment_bytes"`
	LastLSN      uint64  `json:"last_lsn"`     // the newest record
	AppliedLSN   uint64  `json:"applied_lsn"`  // the newest record in the database file
	Records      int64   `json:"records"`      // appended since open: one per group of writes
	Syncs        int64   `json:"syncs"`        // fdatasync calls since open
	RawSyncs     int64   `json:"raw_syncs"`    // of them, raw system calls (see wal.Options.RawSync)
	SyncSeconds  float64 `json:"sync_seconds"` // spent in them
	Checkpoints  int64   `json:"checkpoints"`  // since open
	// Pending is what is acknowledged but not yet in the database file;
	// PendingHigh its most since open.
	PendingOps   int64 `json:"pending_ops"`
	PendingBytes int64 `json:"pending_bytes"`
	PendingHigh  int64 `json:"pending_high_bytes"`
}

// Stater is implemented by engines that describe their storage.
type Stater interface {
	Stats() Stats
}

// Change is one key's change, as a Follower reports it.
type Change struct {
	Bucket  Bucket
	Key     []byte
	Value   []byte // nil when Deleted
	Deleted bool
	// Created: the key did not exist before this change.
	Created bool
}

// Follower is implemented by engines that other processes write to at the
// same time (etcd), so that a store's caches can follow them. Revisions
// count the engine's commits: every commit has one, later commits higher
// ones.
type Follower interface {
	// Revision returns the engine's current revision, read linearizably
	// (no commit acknowledged before the call is newer).
	Revision(ctx context.Context) (int64, error)
	// KeyRevision returns the revision of the last commit that wrote key in
	// b (0 when it was never written or is deleted), read linearizably.
	KeyRevision(ctx context.Context, b Bucket, key []byte) (int64, error)
	// Follow calls fn with the changes to bucket b of every commit after
	// revision after, commit by commit in revision order, until ctx ends or
	// the engine closes (it then returns nil), the engine loses its
	// cluster (an error wrapping ErrUnavailable: follow again from the last
	// revision fn saw), or the history after `after` is gone (an error
	// wrapping ErrCompacted: reload, and follow again from a fresh
	// Revision). fn may also be called with no changes, to say that every
	// commit up to rev was seen.
	Follow(ctx context.Context, b Bucket, after int64, fn func(rev int64, changes []Change)) error
}

// ErrCompacted: a Follower no longer holds the history asked for.
var ErrCompacted = errors.New("the engine no longer holds the history asked for (compacted)")

// CommitOrderer is implemented by the transactions of engines that several
// processes write at once (etcd). Oldest returns up to n keys of b with
// their values, in the order their last writes committed: writes of one
// commit come in key order. On an engine shared by several writers that
// order is the only one all of them agree on; promo numbers its events by
// it. When Oldest is the transaction's first read, the snapshot is fixed by
// a linearizable read, so it holds every write committed before the call.
type CommitOrderer interface {
	Oldest(b Bucket, n int) (keys, values [][]byte)
}
