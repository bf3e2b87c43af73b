// Segments: their names, making zero-filled ones ahead of need, rolling
// to the next, and recycling those the database file holds.

package wal

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

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

func (l *Log) path(first uint64) string { return filepath.Join(l.dir, segName(first)) }

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
	l.made.Add(1)
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

// roll starts a new segment whose first record is lsn, for a record of
// size bytes: the spare when it is big enough, else a new file. The
// records of the old segment are synced first, so that Sync need only
// flush the segment being written. The next spare is not made here: the
// checkpoint that follows soon releases the segment before this one,
// which Release keeps as the spare, and only a segment half written with
// no spare yet has one made (Write).
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
			l.recycled.Add(1)
		} else if err := os.Remove(old); err != nil {
			return fmt.Errorf("remove a log segment: %w", err)
		}
		l.segs = l.segs[1:]
	}
	return nil
}
