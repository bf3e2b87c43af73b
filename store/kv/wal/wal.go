// Package wal is promo's write-ahead log: records appended to preallocated
// segment files with one fdatasync per append, read back in order on
// start, and released once the database file holds them.
//
// A log is a directory of segments named by the LSN of their first record
// (0000000000000001.wal, ...). A segment is written only after it has been
// filled with zeros (or recycled from an older segment) and synced, so an
// append never changes a file's size and fdatasync has only the data to
// flush. The first segment of a new log is 1 MiB and each new one doubles,
// up to Options.MaxSegment, so that a small database keeps a small log.
//
// On open, the records after the caller's applied position are replayed.
// A torn record at the end of the newest segment (a crash during an append,
// which was never acknowledged) is cut off. Any other damage, a bad record
// followed by a valid later one or a gap between segments, refuses to open
// with an *Error naming the segment and offset and saying how to recover.
// A failed fdatasync is never retried (the kernel may have dropped the
// dirty pages): Append returns an error wrapping ErrSync and the log takes
// no more records.
package wal

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Log. The zero value is ready to use.
type Options struct {
	// MaxSegment is the size segments grow to (default 64 MiB).
	MaxSegment int64
	// Sync replaces fdatasync, for tests that inject failures.
	Sync func(*os.File) error
	// RawSync makes Sync's fdatasync a raw system call, one the Go
	// scheduler does not see, in a process with a Go processor to spare
	// (see rawSyncLimit). Ignored when Sync is set, and on systems other
	// than Linux.
	RawSync bool
	// Logger, when set, hears that the raw call stopped, or came back.
	Logger *slog.Logger
	// ReadOnly opens the log for replay only: Append fails.
	ReadOnly bool
}

const (
	firstSegment = 1 << 20
	spareName    = "spare.wal"
	// appliedName keeps the highest position Release was told of, so that
	// a database file older than that (a restored backup next to a newer
	// log) is caught instead of being rolled forward by the log.
	appliedName = "applied"
)

// ErrSync wraps a failed fdatasync. The log takes no more records after
// one: whether the data reached the disk is unknown, and retrying would
// report success for pages the kernel may have dropped.
var ErrSync = errors.New("fdatasync of the write-ahead log failed")

// Error is damage that stops the log from opening, or a log that does not
// belong to the database's state.
type Error struct {
	Segment string // file name, "" when not about one segment
	Offset  int64
	Message string
}

func (e *Error) Error() string { return e.Message }

// Log is an open write-ahead log. Write and Append are for one goroutine
// at a time; the other methods are safe for concurrent use.
type Log struct {
	dir  string
	opts Options
	sync func(*os.File) error

	mu       sync.Mutex
	segs     []segment // oldest first; the last is being written
	spare    *spareState
	nextSize int64

	failed error // under mu

	// Owned by the writing goroutine; cur is swapped under fileMu, which
	// Sync holds for reading while it flushes cur.
	fileMu sync.RWMutex
	cur    *os.File
	off    int64
	buf    []byte
	syncMu sync.Mutex // one Sync at a time
	// rawSync is the raw fdatasync when Options.RawSync holds. Sync uses
	// it in place of sync while rawOff (under syncMu) is zero; rawOff is
	// when the last call slower than rawSyncLimit ended, while the raw
	// call is off.
	rawSync func(*os.File) error
	rawOff  time.Time

	last      atomic.Uint64 // the newest record written
	synced    atomic.Uint64 // the newest record on disk
	records   atomic.Int64
	syncs     atomic.Int64
	rawSyncs  atomic.Int64 // of syncs, raw calls
	syncNanos atomic.Int64
	made      atomic.Int64 // segments zero-filled
	recycled  atomic.Int64 // released segments kept as the next spare
}

// rawSyncLimit bounds the raw fdatasync (Options.RawSync). Go hands the
// processor of a goroutine in an ordinary system call to other goroutines
// once its monitor sees the call last; under durable redemptions that
// hand-off, waking another thread and taking a processor back when the
// call returns, cost about a tenth of the server's CPU, for an
// fdatasync of a few hundred microseconds. A raw call keeps its processor
// and thread, which promo serve's spare processor allows for, but nothing
// can stop the world meanwhile: a garbage collection waits for it. After
// one raw call slower than this the log makes ordinary calls until every
// call has stayed under it for rawSyncQuiet: a disk that stalls again and
// again holds the process once, for the first such call, and then only its
// writers, and one that stalled once, under a backup or a burst of other
// writes, gets the raw call back.
const rawSyncLimit = 50 * time.Millisecond

// rawSyncQuiet is how long fdatasync stays under rawSyncLimit before the
// raw call comes back (a variable for tests).
var rawSyncQuiet = 10 * time.Minute

// Append writes payload as the next record and returns its LSN once it is
// on disk: Write, then Sync.
func (l *Log) Append(payload []byte) (uint64, error) {
	lsn, err := l.Write(payload)
	if err != nil {
		return 0, err
	}
	if _, err := l.Sync(); err != nil {
		return 0, err
	}
	return lsn, nil
}

// Write writes payload as the next record, without waiting for the disk,
// and returns its LSN; Sync makes it durable. Write is for one goroutine
// at a time. A write that fails (a full disk, a read-only file) leaves the
// log as it was: the record does not exist and a later Write may succeed.
func (l *Log) Write(payload []byte) (uint64, error) {
	if err := l.failure(); err != nil {
		return 0, err
	}
	if l.opts.ReadOnly {
		return 0, errors.New("the log is open read-only")
	}
	if len(payload) > MaxRecord {
		return 0, fmt.Errorf("a log record of %d bytes is over the limit of %d", len(payload), MaxRecord)
	}
	lsn := l.last.Load() + 1
	size := frameSize(len(payload))
	l.mu.Lock()
	cur := l.segs[len(l.segs)-1]
	l.mu.Unlock()
	if l.off+size > cur.size {
		if err := l.roll(lsn, size); err != nil {
			return 0, err
		}
	} else if l.off+size > cur.size/2 {
		l.prepare() // the next segment, ahead of need
	}
	l.buf = appendFrame(l.buf[:0], lsn, payload)
	l.fileMu.RLock()
	_, err := l.cur.WriteAt(l.buf, l.off)
	l.fileMu.RUnlock()
	if err != nil {
		return 0, fmt.Errorf("write the log: %w", err)
	}
	l.off += size
	l.last.Store(lsn)
	l.records.Add(1)
	if len(l.buf) > 4<<20 {
		l.buf = nil // do not keep a huge record's buffer
	}
	return lsn, nil
}

// Sync makes every record written so far durable with one fdatasync and
// returns the LSN it reached. It is safe to call while Write runs. A
// failed fdatasync returns an error wrapping ErrSync, and every later
// Write and Sync fails the same way.
func (l *Log) Sync() (uint64, error) {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	if err := l.failure(); err != nil {
		return 0, err
	}
	l.fileMu.RLock()
	target := l.last.Load()
	if target <= l.synced.Load() {
		l.fileMu.RUnlock()
		return target, nil
	}
	l.syncs.Add(1)
	start := time.Now()
	var err error
	raw := l.rawSync != nil && l.rawOff.IsZero()
	if raw {
		l.rawSyncs.Add(1)
		err = l.rawSync(l.cur)
	} else {
		err = l.sync(l.cur)
	}
	took := time.Since(start)
	l.syncNanos.Add(int64(took))
	if l.rawSync != nil {
		l.rawAfter(raw, start.Add(took), took)
	}
	l.fileMu.RUnlock()
	if err != nil {
		return 0, l.fail(err)
	}
	l.synced.Store(target)
	return target, nil
}

// rawAfter turns the raw call off after a call slower than rawSyncLimit,
// and on again once calls have stayed under it for rawSyncQuiet: took is
// how long the call lasted and now when it ended. The caller holds syncMu.
func (l *Log) rawAfter(raw bool, now time.Time, took time.Duration) {
	switch {
	case took > rawSyncLimit:
		if raw && l.opts.Logger != nil {
			l.opts.Logger.Warn("an fdatasync of the write-ahead log took longer than the raw call's limit; the log makes ordinary calls until fdatasyncs stay under it for a while",
				"took", took.Round(time.Millisecond), "limit", rawSyncLimit, "quiet", rawSyncQuiet)
		}
		l.rawOff = now
	case !l.rawOff.IsZero() && now.Sub(l.rawOff) >= rawSyncQuiet:
		l.rawOff = time.Time{}
		if l.opts.Logger != nil {
			l.opts.Logger.Info("fdatasyncs of the write-ahead log stayed under the raw call's limit; the log makes raw calls again",
				"limit", rawSyncLimit, "quiet", rawSyncQuiet)
		}
	}
}

// Synced returns the LSN up to which records are durable.
func (l *Log) Synced() uint64 { return l.synced.Load() }

func (l *Log) failure() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failed
}

func (l *Log) fail(err error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failed == nil {
		l.failed = fmt.Errorf("%w: %w", ErrSync, err)
	}
	return l.failed
}

// Last returns the LSN of the newest record (or, on a new log, the applied
// position it started from).
func (l *Log) Last() uint64 { return l.last.Load() }

// Dir returns the log's directory.
func (l *Log) Dir() string { return l.dir }

// Stats describes the log.
type Stats struct {
	Segments     int
	SegmentBytes int64
	Records      int64 // appended since open
	Syncs        int64
	RawSyncs     int64         // of Syncs, made as raw calls (Options.RawSync)
	SyncTime     time.Duration // spent in fdatasync since open
	// Made counts the segments zero-filled since open, Recycled the
	// released ones kept to be written again instead.
	Made, Recycled int64
}

// Stats returns the log's segments and counts.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := Stats{Segments: len(l.segs), Records: l.records.Load(), Syncs: l.syncs.Load(), RawSyncs: l.rawSyncs.Load(), SyncTime: time.Duration(l.syncNanos.Load()),
		Made: l.made.Load(), Recycled: l.recycled.Load()}
	for _, s := range l.segs {
		st.SegmentBytes += s.size
	}
	return st
}

// Close closes the segment being written, after any spare in preparation.
func (l *Log) Close() error {
	l.mu.Lock()
	sp := l.spare
	l.mu.Unlock()
	if sp != nil {
		<-sp.done
	}
	if l.cur != nil {
		return l.cur.Close()
	}
	return nil
}

// Verify reads every record of the log from the oldest segment to Last
// and returns what is wrong: damage, gaps, records that do not read back.
func (l *Log) Verify() []string {
	l.mu.Lock()
	segs := slices.Clone(l.segs)
	l.mu.Unlock()
	last := l.last.Load()
	var findings []string
	if len(segs) == 0 {
		return nil
	}
	want := segs[0].first
	for i, s := range segs {
		if s.first != want {
			findings = append(findings, fmt.Sprintf("log: segment %s starts at LSN %d, expected %d", segName(s.first), s.first, want))
			return findings
		}
		newest := i == len(segs)-1
		probe := &Log{dir: l.dir, opts: Options{ReadOnly: true}, sync: l.sync}
		end := want
		_, err := probe.read(s, &end, ^uint64(0), newest, func(uint64, []byte) error { return nil })
		if err != nil {
			findings = append(findings, "log: "+err.Error())
			return findings
		}
		want = end
	}
	if want-1 < last {
		findings = append(findings, fmt.Sprintf("log: records end at LSN %d, but LSN %d was acknowledged", want-1, last))
	}
	return findings
}
