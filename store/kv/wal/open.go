// Opening a log: listing its segments, replaying the records past the
// applied position, and telling a torn tail from damage.

package wal

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

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
		if opts.RawSync && !opts.ReadOnly && rawFdatasync != nil {
			l.rawSync = rawFdatasync
		}
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
