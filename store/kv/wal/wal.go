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
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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

	last      atomic.Uint64 // the newest record written
	synced    atomic.Uint64 // the newest record on disk
	records   atomic.Int64
	syncs     atomic.Int64
	syncNanos atomic.Int64
}

type segment struct {
	first uint64
	size  int64
}

func segName(first uint64) string { return fmt.Sprintf("%016x.wal", first) }

func parseSegName(name string) (uint64, bool) {
	hex, ok := strings.CutSuffix(name, ".wal")
	if !ok || len(hex) != 16 {
		return 0, false
	}
	n, err := strconv.ParseUint(hex, 16, 64)
	return n, err == nil && n > 0
}

// spareState is the next segment, made ready ahead of need.
type spareState struct {
	done chan struct{} // closed when ready (or failed)
	err  error
}

// Open opens the log in dir, creating it when missing, and calls replay
// with every record whose LSN is above applied, in order. It returns an
// *Error when the log is damaged or does not fit applied.
func Open(dir string, applied uint64, opts Options, replay func(lsn uint64, payload []byte) error) (*Log, error) {
	if opts.MaxSegment <= 0 {
		opts.MaxSegment = 64 << 20
	}
	l := &Log{dir: dir, opts: opts, sync: opts.Sync}
	if l.sync == nil {
		l.sync = fdatasync
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create the log directory: %w", err)
	}
	if released := l.readApplied(); released > applied {
		return nil, &Error{Message: fmt.Sprintf(
			"the database file holds the write-ahead log's records up to LSN %d, but they had been applied up to LSN %d: "+
				"the database file is older than its log (was it restored from a backup?). To restore a backup, stop promo, "+
				"move %s away, put the backup in place and start again; to go on with the newer state, put back the newer "+
				"database file.", applied, released, dir)}
	}
	segs, hasSpare, err := l.list()
	if err != nil {
		return nil, err
	}
	// Segments wholly at or below applied are in the database file already.
	for len(segs) > 1 && segs[1].first <= applied+1 {
		if !opts.ReadOnly {
			if err := os.Remove(l.path(segs[0].first)); err != nil {
				return nil, fmt.Errorf("remove an applied segment: %w", err)
			}
		}
		segs = segs[1:]
	}
	if len(segs) == 0 {
		l.last.Store(applied)
		if opts.ReadOnly {
			return l, nil
		}
		size := min(firstSegment, opts.MaxSegment)
		if err := l.create(l.path(applied+1), size); err != nil {
			return nil, err
		}
		l.segs = []segment{{first: applied + 1, size: size}}
		l.nextSize = min(2*size, opts.MaxSegment)
		if l.cur, err = os.OpenFile(l.path(applied+1), os.O_RDWR, 0); err != nil {
			return nil, fmt.Errorf("open the log: %w", err)
		}
		l.synced.Store(applied)
		return l, nil
	}
	if segs[0].first > applied+1 {
		return nil, &Error{Segment: segName(segs[0].first), Message: fmt.Sprintf(
			"the write-ahead log in %s starts at LSN %d, but the database file holds its records only up to LSN %d: "+
				"records %d to %d are missing. If you restored the database file from a backup, move %s away "+
				"(it belongs to a newer state) and start again.",
			dir, segs[0].first, applied, applied+1, segs[0].first-1, dir)}
	}
	want := segs[0].first
	for i, s := range segs {
		if s.first != want {
			prev := segName(segs[i-1].first)
			return nil, &Error{Segment: prev, Message: fmt.Sprintf(
				"the write-ahead log has a gap: %s ends at LSN %d but the next segment, %s, starts at LSN %d. "+
					"The acknowledged writes from LSN %d on cannot be read in order. To recover, restore the database "+
					"from a backup; or, to keep what the log holds up to LSN %d and lose the rest, stop promo, move %s "+
					"and every later segment out of %s, start again and run `promo check`.",
				prev, want-1, segName(s.first), s.first, want, want-1, segName(s.first), dir)}
		}
		newest := i == len(segs)-1
		end, err := l.read(s, &want, applied, newest, replay)
		if err != nil {
			return nil, err
		}
		if newest {
			l.off = end
		}
	}
	l.last.Store(want - 1)
	if want-1 < applied {
		return nil, &Error{Segment: segName(segs[len(segs)-1].first), Message: fmt.Sprintf(
			"the write-ahead log in %s ends at LSN %d, but the database file holds records up to LSN %d: the log is "+
				"older than the database file. Move %s away and start again; nothing in it is newer than the database file.",
			dir, want-1, applied, dir)}
	}
	l.segs = segs
	l.nextSize = min(2*segs[len(segs)-1].size, opts.MaxSegment)
	if opts.ReadOnly {
		return l, nil
	}
	if l.cur, err = os.OpenFile(l.path(segs[len(segs)-1].first), os.O_RDWR, 0); err != nil {
		return nil, fmt.Errorf("open the log: %w", err)
	}
	// Records a crashed process wrote but did not sync may be in the page
	// cache only: sync them before anything reads them.
	if err := l.sync(l.cur); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSync, err)
	}
	l.synced.Store(want - 1)
	if hasSpare {
		l.spare = &spareState{done: make(chan struct{})}
		close(l.spare.done)
	}
	return l, nil
}

func (l *Log) path(first uint64) string { return filepath.Join(l.dir, segName(first)) }

// list returns the segments, oldest first, and removes unfinished spares.
func (l *Log) list() ([]segment, bool, error) {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, false, fmt.Errorf("read the log directory: %w", err)
	}
	var segs []segment
	spare := false
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == spareName:
			spare = true
		case strings.HasSuffix(name, ".tmp"):
			if !l.opts.ReadOnly {
				os.Remove(filepath.Join(l.dir, name))
			}
		default:
			first, ok := parseSegName(name)
			if !ok {
				continue
			}
			info, err := e.Info()
			if err != nil {
				return nil, false, fmt.Errorf("read the log directory: %w", err)
			}
			segs = append(segs, segment{first: first, size: info.Size()})
		}
	}
	slices.SortFunc(segs, func(a, b segment) int {
		switch {
		case a.first < b.first:
			return -1
		case a.first > b.first:
			return 1
		}
		return 0
	})
	return segs, spare, nil
}

// read replays the records of segment s from *want on, and returns the
// offset where its records end. In the newest segment an unreadable record
// with no valid record after it is a torn write, cut off; anywhere else it
// is damage.
func (l *Log) read(s segment, want *uint64, applied uint64, newest bool, replay func(uint64, []byte) error) (int64, error) {
	name := segName(s.first)
	f, err := os.Open(l.path(s.first))
	if err != nil {
		return 0, fmt.Errorf("open log segment %s: %w", name, err)
	}
	defer f.Close()
	var raw [headerSize]byte
	var payload []byte
	off := int64(0)
	reason := ""
	torn := false // stopped at a record that is neither zeros nor older than want
	for {
		if off+headerSize > s.size {
			reason = "the segment ends"
			break
		}
		if _, err := f.ReadAt(raw[:], off); err != nil {
			return 0, fmt.Errorf("read log segment %s: %w", name, err)
		}
		h := parseHeader(raw[:])
		if h.zero() {
			reason = "zeros"
			break
		}
		if h.lsn != *want || int64(h.length) > s.size-off-headerSize {
			reason = fmt.Sprintf("a record of LSN %d where LSN %d was due", h.lsn, *want)
			torn = h.lsn >= *want
			break
		}
		payload = slices.Grow(payload[:0], int(h.length))[:h.length]
		if _, err := f.ReadAt(payload, off+headerSize); err != nil {
			return 0, fmt.Errorf("read log segment %s: %w", name, err)
		}
		if !h.valid(raw[:], payload) {
			reason = fmt.Sprintf("a bad checksum in the record of LSN %d", h.lsn)
			torn = true
			break
		}
		if h.lsn > applied {
			if err := replay(h.lsn, payload); err != nil {
				return 0, fmt.Errorf("replay the record of LSN %d from %s: %w", h.lsn, name, err)
			}
		}
		*want++
		off += frameSize(int(h.length))
	}
	if later, lsn, err := findLater(f, off+align, s.size, *want); err != nil {
		return 0, fmt.Errorf("read log segment %s: %w", name, err)
	} else if lsn != 0 {
		return 0, &Error{Segment: name, Offset: off, Message: fmt.Sprintf(
			"the write-ahead log is damaged: %s has %s at offset %d, and a valid record (LSN %d) follows it at offset %d, "+
				"so this is not a write torn by a crash. The acknowledged writes from LSN %d on cannot be read. To recover, "+
				"restore the database from a backup; or, to keep what the log holds before the damage and lose the rest, "+
				"stop promo, move %s and every later segment out of %s, start again and run `promo check`.",
			name, reason, off, lsn, later, *want, name, l.dir)}
	}
	if newest && !l.opts.ReadOnly && torn {
		// A torn write: clear its header so that nothing mistakes it later.
		if err := l.clear(s.first, off); err != nil {
			return 0, err
		}
	}
	return off, nil
}

// findLater looks for a valid record with an LSN of at least want in f
// from offset from on, at every 8-byte boundary. Records left from a
// segment's earlier use have lower LSNs, so any it finds was written after
// the place where reading stopped.
func findLater(f *os.File, from, size int64, want uint64) (int64, uint64, error) {
	const chunk = 1 << 20
	buf := make([]byte, chunk+headerSize)
	for base := from &^ (align - 1); base < size; base += chunk {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-base)], base)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, 0, err
		}
		for i := 0; i+headerSize <= n && i < chunk; i += align {
			h := parseHeader(buf[i:])
			if h.lsn < want || h.lsn-want > 1<<40 || int64(h.length) > size-base-int64(i)-headerSize {
				continue
			}
			payload := make([]byte, h.length)
			if _, err := f.ReadAt(payload, base+int64(i)+headerSize); err != nil {
				return 0, 0, err
			}
			if h.valid(buf[i:i+headerSize], payload) {
				return base + int64(i), h.lsn, nil
			}
		}
	}
	return 0, 0, nil
}

func (l *Log) clear(first uint64, off int64) error {
	f, err := os.OpenFile(l.path(first), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("cut the torn record: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteAt(make([]byte, headerSize), off); err != nil {
		return fmt.Errorf("cut the torn record: %w", err)
	}
	if err := l.sync(f); err != nil {
		return fmt.Errorf("cut the torn record: %w: %w", ErrSync, err)
	}
	return nil
}

// create makes a zero-filled, synced file of size bytes at path, through a
// temporary file, so that a crash never leaves a short segment.
func (l *Log) create(path string, size int64) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("create a log segment: %w", err)
	}
	zeros := make([]byte, min(size, 1<<20))
	for off := int64(0); off < size; off += int64(len(zeros)) {
		if _, err := f.WriteAt(zeros[:min(int64(len(zeros)), size-off)], off); err != nil {
			f.Close()
			os.Remove(tmp)
			return fmt.Errorf("create a log segment: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("create a log segment: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("create a log segment: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("create a log segment: %w", err)
	}
	return l.syncDir()
}

func (l *Log) syncDir() error {
	d, err := os.Open(l.dir)
	if err != nil {
		return fmt.Errorf("sync the log directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync the log directory: %w", err)
	}
	return nil
}

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
	err := l.sync(l.cur)
	l.syncNanos.Add(int64(time.Since(start)))
	l.fileMu.RUnlock()
	if err != nil {
		return 0, l.fail(err)
	}
	l.synced.Store(target)
	return target, nil
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

// roll starts a new segment whose first record is lsn, for a record of
// size bytes: the spare when it is big enough, else a new file. The
// records of the old segment are synced first, so that Sync need only
// flush the segment being written.
func (l *Log) roll(lsn uint64, size int64) error {
	l.mu.Lock()
	want := l.nextSize
	l.mu.Unlock()
	sp := l.prepare()
	<-sp.done
	path := l.path(lsn)
	spare := filepath.Join(l.dir, spareName)
	var segSize int64
	info, statErr := os.Stat(spare)
	switch {
	case sp.err == nil && statErr == nil && info.Size() >= size:
		if err := os.Rename(spare, path); err != nil {
			return fmt.Errorf("start a log segment: %w", err)
		}
		if err := l.syncDir(); err != nil {
			return err
		}
		segSize = info.Size()
	default:
		// No spare (it failed, or this record is larger): make one now.
		segSize = max(want, size)
		if err := l.create(path, segSize); err != nil {
			l.mu.Lock()
			l.spare = nil
			l.mu.Unlock()
			return err
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open the new log segment: %w", err)
	}
	if _, err := l.Sync(); err != nil {
		f.Close()
		return err
	}
	l.fileMu.Lock()
	old := l.cur
	l.cur, l.off = f, 0
	l.fileMu.Unlock()
	old.Close()
	l.mu.Lock()
	l.segs = append(l.segs, segment{first: lsn, size: segSize})
	l.nextSize = min(2*segSize, l.opts.MaxSegment)
	l.spare = nil
	l.mu.Unlock()
	l.prepare()
	return nil
}

// prepare starts making the next segment in the background, unless one
// is ready or under way.
func (l *Log) prepare() *spareState {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.spare != nil {
		return l.spare
	}
	sp := &spareState{done: make(chan struct{})}
	l.spare = sp
	size := l.nextSize
	go func() {
		defer close(sp.done)
		sp.err = l.create(filepath.Join(l.dir, spareName), size)
	}()
	return sp
}

// readApplied returns the position the last Release recorded, 0 if none.
func (l *Log) readApplied() uint64 {
	b, err := os.ReadFile(filepath.Join(l.dir, appliedName))
	if err != nil || len(b) != 12 || crc32.Checksum(b[:8], castagnoli) != binary.LittleEndian.Uint32(b[8:]) {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

// writeApplied records lsn in place (12 bytes: within one sector, so a
// crash leaves the old value or the new one).
func (l *Log) writeApplied(lsn uint64) error {
	b := binary.LittleEndian.AppendUint64(nil, lsn)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	path := filepath.Join(l.dir, appliedName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("record the applied position: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, 0); err != nil {
		return fmt.Errorf("record the applied position: %w", err)
	}
	if err := l.sync(f); err != nil {
		return fmt.Errorf("record the applied position: %w", err)
	}
	return nil
}

// Release tells the log that the database file holds every record up to
// lsn: segments wholly at or below it are recycled as the next spare or
// removed. The segment being written is kept.
func (l *Log) Release(lsn uint64) error {
	if err := l.writeApplied(lsn); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.segs) > 1 && l.segs[1].first <= lsn+1 {
		old := l.path(l.segs[0].first)
		if l.spare == nil && l.segs[0].size >= l.nextSize {
			// A used segment is as good as a zero-filled one: its records'
			// LSNs are too low to pass for new ones.
			if err := os.Rename(old, filepath.Join(l.dir, spareName)); err != nil {
				return fmt.Errorf("recycle a log segment: %w", err)
			}
			l.spare = &spareState{done: make(chan struct{})}
			close(l.spare.done)
		} else if err := os.Remove(old); err != nil {
			return fmt.Errorf("remove a log segment: %w", err)
		}
		l.segs = l.segs[1:]
	}
	return nil
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
	SyncTime     time.Duration // spent in fdatasync since open
}

// Stats returns the log's segments and counts.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := Stats{Segments: len(l.segs), Records: l.records.Load(), Syncs: l.syncs.Load(), SyncTime: time.Duration(l.syncNanos.Load())}
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
