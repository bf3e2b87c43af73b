package wal

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type rec struct {
	lsn     uint64
	payload string
}

func open(t *testing.T, dir string, applied uint64, opts Options) (*Log, []rec) {
	t.Helper()
	var got []rec
	l, err := Open(dir, applied, opts, func(lsn uint64, p []byte) error {
		got = append(got, rec{lsn, string(p)})
		return nil
	})
	require.NoError(t, err)
	return l, got
}

func appendN(t *testing.T, l *Log, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		_, err := l.Append([]byte(payload(i)))
		require.NoError(t, err)
	}
}

// payload is record i's content: of varying length, so frames differ.
func payload(i int) string { return fmt.Sprintf("record %d %s", i, bytes.Repeat([]byte("x"), i%300)) }

func want(from, to int) []rec {
	var out []rec
	for i := from; i <= to; i++ {
		out = append(out, rec{uint64(i), payload(i)})
	}
	return out
}

func segments(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "0*.wal"))
	require.NoError(t, err)
	return m
}

func TestLog_AppendThenReplay(t *testing.T) {
	dir := t.TempDir()
	l, got := open(t, dir, 0, Options{})
	require.Empty(t, got)
	require.Equal(t, uint64(0), l.Last())
	appendN(t, l, 1, 100)
	require.Equal(t, uint64(100), l.Last())
	require.NoError(t, l.Close())

	l, got = open(t, dir, 0, Options{})
	require.Equal(t, want(1, 100), got)
	appendN(t, l, 101, 5)
	require.NoError(t, l.Close())
	l, got = open(t, dir, 60, Options{})
	defer l.Close()
	require.Equal(t, want(61, 105), got, "only records after the applied position")
	require.Empty(t, l.Verify())
}

func TestLog_SegmentsRollRecycleAndReplay(t *testing.T) {
	dir := t.TempDir()
	opts := Options{MaxSegment: 16 << 10}
	l, _ := open(t, dir, 0, opts)
	appendN(t, l, 1, 400)
	require.Greater(t, len(segments(t, dir)), 3, "small segments roll")
	st := l.Stats()
	require.Equal(t, int64(400), st.Records)
	require.Equal(t, int64(400), st.Syncs, "one fdatasync per record")

	// Release most of the log: old segments are recycled or removed, and a
	// recycled one (full of old records) never confuses replay.
	require.NoError(t, l.Release(350))
	n := len(segments(t, dir))
	require.LessOrEqual(t, n, 2)
	appendN(t, l, 401, 400)
	require.NoError(t, l.Release(790))
	require.NoError(t, l.Close())
	l, got := open(t, dir, 790, opts)
	require.Equal(t, want(791, 800), got)
	appendN(t, l, 801, 10)
	require.NoError(t, l.Close())
	l, got = open(t, dir, 795, opts)
	defer l.Close()
	require.Equal(t, want(796, 810), got)
	require.Empty(t, l.Verify())
}

// TestLog_ReleasedSegmentsAreWrittenAgain: once segments have grown to
// their full size, and each is released soon after the log rolls past it
// (as the checkpoints do), the log writes released segments again instead
// of zero-filling new ones, and replay reads only the current records.
func TestLog_ReleasedSegmentsAreWrittenAgain(t *testing.T) {
	dir := t.TempDir()
	opts := Options{MaxSegment: 16 << 10}
	l, _ := open(t, dir, 0, opts)
	next, applied := 1, 0
	round := func() {
		appendN(t, l, next, 10) // about 1.7 KiB: a segment lasts several rounds
		next += 10
		applied = next - 6 // the checkpoint trails the writer
		require.NoError(t, l.Release(uint64(applied)))
	}
	for i := 0; i < 60; i++ {
		round()
	}
	st := l.Stats()
	require.Positive(t, st.Recycled, "full-size released segments are kept as the spare")
	made := st.Made
	for i := 0; i < 200; i++ {
		round()
	}
	st = l.Stats()
	require.Equal(t, made, st.Made, "no segment is zero-filled while released ones come back")
	require.Greater(t, st.Recycled, int64(10))
	require.LessOrEqual(t, st.Segments, 2)

	require.NoError(t, l.Close())
	l, got := open(t, dir, uint64(applied), opts)
	defer l.Close()
	require.Equal(t, want(applied+1, next-1), got, "records left from a segment's earlier use are not replayed")
	require.Empty(t, l.Verify())
	appendN(t, l, next, 5)
}

func TestLog_RecordLargerThanASegment(t *testing.T) {
	dir := t.TempDir()
	opts := Options{MaxSegment: 8 << 10}
	l, _ := open(t, dir, 0, opts)
	big := bytes.Repeat([]byte("big"), 10_000)
	_, err := l.Append([]byte("small"))
	require.NoError(t, err)
	_, err = l.Append(big)
	require.NoError(t, err)
	_, err = l.Append([]byte("after"))
	require.NoError(t, err)
	require.NoError(t, l.Close())
	l, got := open(t, dir, 0, opts)
	defer l.Close()
	require.Equal(t, []rec{{1, "small"}, {2, string(big)}, {3, "after"}}, got)
}

// lastFrame returns the newest segment's path and the offset of its last
// record's frame.
func lastFrame(t *testing.T, dir string) (string, int64, int64) {
	t.Helper()
	segs := segments(t, dir)
	path := segs[len(segs)-1]
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var off, prev int64
	for off+headerSize <= int64(len(b)) {
		h := parseHeader(b[off:])
		if h.zero() {
			break
		}
		prev = off
		off += frameSize(int(h.length))
	}
	return path, prev, off
}

func corrupt(t *testing.T, path string, off int64, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(data, off)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func TestLog_TornTailIsCutOff(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string, last, end int64)
		keep   int // records that survive of 50
	}{
		{"LastRecordHalfWritten", func(t *testing.T, path string, last, end int64) {
			corrupt(t, path, last+headerSize+3, make([]byte, end-last-headerSize-3))
		}, 49},
		{"LastHeaderGarbage", func(t *testing.T, path string, last, end int64) {
			corrupt(t, path, last, []byte("\xde\xad\xbe\xef\x01\x00\x00\x00\x33\x00\x00\x00\x00\x00\x00\x00"))
		}, 49},
		{"RandomGarbageAfterTheLastRecord", func(t *testing.T, path string, last, end int64) {
			corrupt(t, path, end, bytes.Repeat([]byte{0x5a, 0x17, 0x00, 0xff}, 1000))
		}, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l, _ := open(t, dir, 0, Options{})
			appendN(t, l, 1, 50)
			require.NoError(t, l.Close())
			path, last, end := lastFrame(t, dir)
			tc.damage(t, path, last, end)

			l, got := open(t, dir, 0, Options{})
			require.Equal(t, want(1, tc.keep), got)
			require.Equal(t, uint64(tc.keep), l.Last())
			appendN(t, l, tc.keep+1, 3)
			require.NoError(t, l.Close())
			l, got = open(t, dir, 0, Options{})
			defer l.Close()
			require.Equal(t, want(1, tc.keep+3), got, "the log goes on after the cut")
		})
	}
}

func TestLog_DamageBeforeTheEndRefusesToOpen(t *testing.T) {
	dir := t.TempDir()
	l, _ := open(t, dir, 0, Options{})
	appendN(t, l, 1, 50)
	require.NoError(t, l.Close())
	segs := segments(t, dir)
	b, err := os.ReadFile(segs[0])
	require.NoError(t, err)
	// Flip a byte in the payload of record 20.
	off := int64(0)
	for i := 1; i < 20; i++ {
		off += frameSize(int(parseHeader(b[off:]).length))
	}
	corrupt(t, segs[0], off+headerSize+2, []byte{b[off+headerSize+2] ^ 0x40})

	_, err = Open(dir, 0, Options{}, func(uint64, []byte) error { return nil })
	var we *Error
	require.True(t, errors.As(err, &we), "%v", err)
	require.Equal(t, filepath.Base(segs[0]), we.Segment)
	require.Equal(t, off, we.Offset)
	for _, s := range []string{"damaged", "bad checksum", fmt.Sprint(off), "LSN 21", "restore the database from a backup", "promo check"} {
		require.Contains(t, err.Error(), s)
	}
}

func TestLog_GapBetweenSegmentsRefusesToOpen(t *testing.T) {
	dir := t.TempDir()
	opts := Options{MaxSegment: 8 << 10}
	l, _ := open(t, dir, 0, opts)
	appendN(t, l, 1, 200)
	require.NoError(t, l.Close())
	segs := segments(t, dir)
	require.Greater(t, len(segs), 3)
	require.NoError(t, os.Remove(segs[2]))
	_, err := Open(dir, 0, opts, func(uint64, []byte) error { return nil })
	var we *Error
	require.True(t, errors.As(err, &we), "%v", err)
	require.Contains(t, err.Error(), "gap")
	require.Equal(t, filepath.Base(segs[1]), we.Segment)
}

func TestLog_NotTheDatabasesLog(t *testing.T) {
	dir := t.TempDir()
	opts := Options{MaxSegment: 8 << 10}
	l, _ := open(t, dir, 0, opts)
	appendN(t, l, 1, 200)
	require.NoError(t, l.Release(150))
	require.NoError(t, l.Close())

	_, err := Open(dir, 10, opts, func(uint64, []byte) error { return nil })
	require.ErrorContains(t, err, "restored from a backup", "the database file is older than the log")
	_, err = Open(dir, 149, opts, func(uint64, []byte) error { return nil })
	require.ErrorContains(t, err, "older than its log", "even by one record")
	_, err = Open(dir, 500, opts, func(uint64, []byte) error { return nil })
	require.ErrorContains(t, err, "older than the database file")
}

func TestLog_FailedSyncStopsTheLog(t *testing.T) {
	dir := t.TempDir()
	fail := false
	opts := Options{Sync: func(f *os.File) error {
		if fail {
			return errors.New("EIO")
		}
		return fdatasync(f)
	}}
	l, _ := open(t, dir, 0, opts)
	appendN(t, l, 1, 10)
	fail = true
	_, err := l.Append([]byte("lost"))
	require.ErrorIs(t, err, ErrSync)
	fail = false
	_, err = l.Append([]byte("never"))
	require.ErrorIs(t, err, ErrSync, "a failed fdatasync is never retried")
	require.Equal(t, uint64(10), l.Synced(), "the record whose sync failed is not durable")
	require.NoError(t, l.Close())

	l, got := open(t, dir, 0, Options{})
	defer l.Close()
	require.Equal(t, want(1, 10), got[:10], "every acknowledged record is there")
	require.LessOrEqual(t, len(got), 11)
}

func TestLog_VerifyFindsDamage(t *testing.T) {
	dir := t.TempDir()
	l, _ := open(t, dir, 0, Options{})
	defer l.Close()
	appendN(t, l, 1, 30)
	require.Empty(t, l.Verify())
	segs := segments(t, dir)
	corrupt(t, segs[0], headerSize+1, []byte("!"))
	require.NotEmpty(t, l.Verify())
}

// With RawSync the log syncs through the raw call; after one slower than
// rawSyncLimit through the ordinary one, until calls have stayed under the
// limit for rawSyncQuiet, a slow ordinary call starting the wait again.
// Records stay durable either way.
func TestLog_RawSyncOffAfterASlowCallUntilQuiet(t *testing.T) {
	if rawFdatasync == nil {
		t.Skip("only Linux has the raw call")
	}
	defer func(q time.Duration) { rawSyncQuiet = q }(rawSyncQuiet)
	rawSyncQuiet = 600 * time.Millisecond
	dir := t.TempDir()
	var ordinary, raw int
	var logged bytes.Buffer
	l, _ := open(t, dir, 0, Options{RawSync: true, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	require.NotNil(t, l.rawSync, "RawSync asks for the raw call")
	slow := false
	pause := func() {
		if slow {
			time.Sleep(rawSyncLimit + 10*time.Millisecond)
		}
	}
	l.sync = func(f *os.File) error { ordinary++; pause(); return fdatasync(f) }
	l.rawSync = func(f *os.File) error { raw++; pause(); return rawFdatasync(f) }
	calls := func() [2]int { return [2]int{raw, ordinary} }
	appendN(t, l, 1, 10)
	require.Equal(t, [2]int{10, 0}, calls())
	slow = true
	appendN(t, l, 11, 1)
	slow = false
	appendN(t, l, 12, 9)
	require.Equal(t, [2]int{11, 9}, calls(), "the slow call was the last raw one")
	require.Contains(t, logged.String(), "makes ordinary calls until", "the operator hears of it")
	st := l.Stats()
	require.Equal(t, int64(20), st.Syncs)
	require.Equal(t, int64(11), st.RawSyncs, "the figures count the raw calls")

	time.Sleep(400 * time.Millisecond)
	slow = true
	appendN(t, l, 21, 1) // a slow ordinary call: the quiet starts again
	slow = false
	time.Sleep(300 * time.Millisecond) // past rawSyncQuiet since the raw call went off, not since the slow one
	appendN(t, l, 22, 1)
	require.Equal(t, [2]int{11, 11}, calls(), "still off")
	time.Sleep(400 * time.Millisecond)
	appendN(t, l, 23, 1) // quiet for rawSyncQuiet: the raw call is back after this one
	require.Equal(t, [2]int{11, 12}, calls())
	appendN(t, l, 24, 2)
	require.Equal(t, [2]int{13, 12}, calls(), "raw again")
	require.Contains(t, logged.String(), "makes raw calls again")
	require.NoError(t, l.Close())

	l, got := open(t, dir, 0, Options{})
	defer l.Close()
	require.Equal(t, want(1, 25), got)

	for _, opts := range []Options{{}, {RawSync: true, Sync: fdatasync}, {RawSync: true, ReadOnly: true}} {
		l, _ := open(t, dir, 0, opts)
		require.Nil(t, l.rawSync, "no raw call unless asked for, and never in place of an injected Sync or when read-only: %+v", opts)
		require.NoError(t, l.Close())
	}
}
