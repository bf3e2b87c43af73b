package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"promo/store/kv/wal"
	"promo/store/kv/walkv"
)

// withFileSizeLimit sets the process's soft file-size limit (RLIMIT_FSIZE)
// for the duration of fn. Go ignores SIGXFSZ, so writes past the limit fail
// with EFBIG, as they would on a full disk. The limit holds for every file
// of the process, go test's own log (testlog.txt) among them, so it is only
// set in a child process that runs the one test (inChild).
func withFileSizeLimit(t *testing.T, limit uint64, fn func()) {
	require.Equal(t, t.Name(), os.Getenv("PROMO_TEST_CHILD"), "a file-size limit is set only in a child process: begin the test with inChild")
	var old syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old))
	lim := old
	lim.Cur = limit
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim))
	defer func() { require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old)) }()
	fn()
}

// inChild reports whether this process is the child that runs t's body. In
// the parent it runs t alone in a child process, on the same engine, fails
// t if the child fails, and returns false.
func inChild(t *testing.T) bool {
	if os.Getenv("PROMO_TEST_CHILD") == t.Name() {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-engine="+*engineFlag)
	cmd.Env = append(os.Environ(), "PROMO_TEST_CHILD="+t.Name())
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "the child process failed:\n%s", out)
	require.Contains(t, string(out), "--- PASS: "+t.Name(), "the child ran the test:\n%s", out)
	return false
}

// When the file cannot grow (a full disk, simulated by a file-size limit)
// writes fail with a clear unavailable error, nothing is half-written, reads
// keep working, and writes work again once there is room.
func TestStore_FullDisk_RefusesCleanlyAndResumes(t *testing.T) {
	skipOnEtcd(t, "a full disk is the members' (etcd refuses with NOSPACE)")
	if !inChild(t) {
		return
	}
	path := filepath.Join(t.TempDir(), "promo.db")
	s, err := openTest(path, Options{ChunkSize: 20_000})
	require.NoError(t, err)
	defer s.Close()
	mustCampaign(t, s, CampaignSpec{ID: "c"})
	codes := mustGenerate(t, s, "c", 1000)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	t.Logf("file size %d", fi.Size())
	before, err := s.Campaign("c")
	require.NoError(t, err)

	var partial int
	withFileSizeLimit(t, uint64(fi.Size()), func() {
		res, err := s.Generate(ctx, "c", GenerateRequest{Count: 2_000_000})
		require.Equal(t, EUnavailable, ErrorCode(err), "%v", err)
		require.Contains(t, ErrorMessage(err), "nothing was written")
		require.Less(t, res.Generated, 2_000_000)
		partial = res.Generated // whole chunks that fitted before the file was full
		// Reads still answer, and so does a redemption that fits.
		_, err = s.GetCode(codes[0])
		require.NoError(t, err)
	})
	after, err := s.Campaign("c")
	require.NoError(t, err)
	require.Equal(t, before.Counts.Generated+int64(partial), after.Counts.Generated, "only whole chunks were stored")
	findings, err := s.Check(ctx)
	require.NoError(t, err)
	require.Empty(t, findings)

	// With room again, service resumes.
	_, err = s.Redeem(ctx, RedeemRequest{Code: codes[0]})
	require.NoError(t, err)
	res, err := s.Generate(ctx, "c", GenerateRequest{Count: 300_000})
	require.NoError(t, err)
	require.Equal(t, 300_000, res.Generated)
}

// The files a write reaches before it is acknowledged: the log's segments
// with the write-ahead log, the database file without.
func writtenFiles(t *testing.T, path string) []string {
	if *engineFlag == "bolt" {
		return []string{path}
	}
	segs, err := filepath.Glob(filepath.Join(LogPath(path), "*.wal"))
	require.NoError(t, err)
	require.NotEmpty(t, segs)
	return segs
}

func chattr(t *testing.T, flag string, files ...string) {
	t.Helper()
	out, err := exec.Command("chattr", append([]string{flag}, files...)...).CombinedOutput()
	if err != nil && flag == "+i" {
		t.Skipf("cannot make files immutable here (chattr +i: %v %s); the disk-full tests cover refusals", err, out)
	}
	require.NoError(t, err, "%s", out)
}

// Files that became read-only (here: immutable, which binds even root)
// refuse writes clearly, reads keep answering, and writes resume when they
// are writable again.
func TestStore_ReadOnlyFile_RefusesCleanlyAndResumes(t *testing.T) {
	skipOnEtcd(t, "no database file")
	path := filepath.Join(t.TempDir(), "promo.db")
	s, err := openTest(path, Options{})
	require.NoError(t, err)
	defer s.Close()
	mustCampaign(t, s, CampaignSpec{ID: "c"})
	codes := mustGenerate(t, s, "c", 10)
	files := writtenFiles(t, path)
	chattr(t, "+i", files...)
	defer exec.Command("chattr", append([]string{"-i"}, files...)...).Run()

	_, err = s.Redeem(ctx, RedeemRequest{Code: codes[0]})
	require.Equal(t, EUnavailable, ErrorCode(err), "%v", err)
	require.Contains(t, ErrorMessage(err), "read-only")
	v, err := s.Validate(RedeemRequest{Code: codes[0]})
	require.NoError(t, err)
	require.True(t, v.Valid, "the refused redemption was not recorded")

	chattr(t, "-i", files...)
	_, err = s.Redeem(ctx, RedeemRequest{Code: codes[0]})
	require.NoError(t, err)
	findings, err := s.Check(ctx)
	require.NoError(t, err)
	require.Empty(t, findings)
}

// Behind the log, a database file that cannot be written does not stop
// redemptions: they are durable in the log, visible at once, and reach the
// file once it is writable again.
func TestStore_ReadOnlyDatabaseFileBehindTheLog(t *testing.T) {
	if *engineFlag != "wal" {
		t.Skip("only the write-ahead log's engine acknowledges writes before the database file takes them")
	}
	path := filepath.Join(t.TempDir(), "promo.db")
	s, err := openTest(path, Options{Log: walkv.Options{Interval: 5 * time.Millisecond}})
	require.NoError(t, err)
	defer s.Close()
	mustCampaign(t, s, CampaignSpec{ID: "c"})
	codes := mustGenerate(t, s, "c", 20)
	chattr(t, "+i", path)
	defer exec.Command("chattr", "-i", path).Run()
	for _, code := range codes[:10] {
		_, err := s.Redeem(ctx, RedeemRequest{Code: code})
		require.NoError(t, err)
	}
	time.Sleep(50 * time.Millisecond) // checkpoints try, and fail
	st := s.Storage().Log
	require.Less(t, st.AppliedLSN, st.LastLSN, "the file did not take the writes")
	c, err := s.GetCode(codes[9])
	require.NoError(t, err)
	require.Equal(t, "redeemed", c.State, "reads see the log")

	chattr(t, "-i", path)
	require.Eventually(t, func() bool {
		st := s.Storage().Log
		return st.AppliedLSN == st.LastLSN
	}, 10*time.Second, 10*time.Millisecond)
	findings, err := s.Check(ctx)
	require.NoError(t, err)
	require.Empty(t, findings)
}

// When the log cannot grow (a full disk, simulated by a file-size limit)
// redemptions are refused cleanly, nothing acknowledged is lost, and
// service resumes when there is room.
func TestStore_LogDiskFull_RefusesCleanlyAndResumes(t *testing.T) {
	if *engineFlag != "wal" {
		t.Skip("the database file's own full-disk test covers the engine without the log")
	}
	if !inChild(t) {
		return
	}
	path := filepath.Join(t.TempDir(), "promo.db")
	const seg = 256 << 10
	s, err := openTest(path, Options{Log: walkv.Options{Log: wal.Options{MaxSegment: seg}}})
	require.NoError(t, err)
	defer s.Close()
	mustCampaign(t, s, CampaignSpec{ID: "c", MaxRedemptionsPerCode: ptr(1_000_000)})
	codes := mustGenerate(t, s, "c", 2)
	var acked []string
	withFileSizeLimit(t, seg/2, func() {
		for i := 0; i < 10_000; i++ {
			r, err := s.Redeem(ctx, RedeemRequest{Code: codes[0], OrderID: strings.Repeat("o", 100)})
			if err != nil {
				require.Equal(t, EUnavailable, ErrorCode(err), "%v", err)
				require.Contains(t, ErrorMessage(err), "nothing was written")
				break
			}
			acked = append(acked, r.ID)
		}
		require.Less(t, len(acked), 10_000, "the limit was reached")
		_, err := s.GetCode(codes[0])
		require.NoError(t, err, "reads still answer")
	})
	_, err = s.Redeem(ctx, RedeemRequest{Code: codes[1]})
	require.NoError(t, err, "service resumes")
	require.NoError(t, s.Close())
	s2, err := openTest(path, Options{})
	require.NoError(t, err)
	defer s2.Close()
	c, err := s2.GetCode(codes[0])
	require.NoError(t, err)
	require.Equal(t, len(acked), c.RedemptionCount, "every acknowledged redemption is there")
	s = s2
	findings, err := s.Check(ctx)
	require.NoError(t, err)
	require.Empty(t, findings)
}

// A failed fdatasync of the log stops the store's writes for good (it is
// never retried) and calls OnFatal, whose default exits with status 3; a
// restart finds every acknowledged write.
func TestStore_FailedLogSyncIsFatal(t *testing.T) {
	if *engineFlag != "wal" {
		t.Skip("only the write-ahead log syncs on its own")
	}
	path := filepath.Join(t.TempDir(), "promo.db")
	var fail atomic.Bool
	fatal := make(chan error, 10)
	opts := Options{OnFatal: func(err error) { fatal <- err }, Log: walkv.Options{Log: wal.Options{Sync: func(f *os.File) error {
		if fail.Load() {
			return syscall.EIO
		}
		return f.Sync()
	}}}}
	s, err := openTest(path, opts)
	require.NoError(t, err)
	mustCampaign(t, s, CampaignSpec{ID: "c"})
	codes := mustGenerate(t, s, "c", 10)
	r1, err := s.Redeem(ctx, RedeemRequest{Code: codes[0]})
	require.NoError(t, err)
	fail.Store(true)
	_, err = s.Redeem(ctx, RedeemRequest{Code: codes[1]})
	require.Equal(t, EUnavailable, ErrorCode(err), "%v", err)
	require.Contains(t, ErrorMessage(err), "could not be synced")
	require.ErrorIs(t, <-fatal, wal.ErrSync)
	fail.Store(false)
	_, err = s.Redeem(ctx, RedeemRequest{Code: codes[2]})
	require.Equal(t, EUnavailable, ErrorCode(err), "no write after a failed sync")
	s.Close()

	s, err = openTest(path, Options{})
	require.NoError(t, err)
	defer s.Close()
	c, err := s.GetCode(codes[0])
	require.NoError(t, err)
	require.Equal(t, r1.ID, c.Redemptions[0].ID)
	for _, code := range codes[2:] {
		v, err := s.Validate(RedeemRequest{Code: code})
		require.NoError(t, err)
		require.True(t, v.Valid, "the refused redemption is not there")
	}
	findings, err := s.Check(ctx)
	require.NoError(t, err)
	require.Empty(t, findings)
}

// The default OnFatal exits with status 3: run in a child process.
func TestStore_FailedLogSync_ExitsWithStatus3(t *testing.T) {
	if *engineFlag != "wal" {
		t.Skip("only the write-ahead log syncs on its own")
	}
	if dir := os.Getenv("PROMO_TEST_FATAL_DIR"); dir != "" {
		var fail atomic.Bool
		s, err := Open(filepath.Join(dir, "promo.db"), Options{Log: walkv.Options{Log: wal.Options{Sync: func(f *os.File) error {
			if fail.Load() {
				return syscall.EIO
			}
			return f.Sync()
		}}}})
		if err != nil {
			os.Exit(10)
		}
		mustCampaign(t, s, CampaignSpec{ID: "c"})
		fail.Store(true)
		mustCampaign(t, s, CampaignSpec{ID: "d"}) // never returns: the process exits
		os.Exit(11)
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestStore_FailedLogSync_ExitsWithStatus3$")
	cmd.Env = append(os.Environ(), "PROMO_TEST_FATAL_DIR="+dir)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "%v: %s", err, out)
	require.Equal(t, 3, ee.ExitCode(), "%s", out)
	require.Contains(t, string(out), "fdatasync")
	s, err := Open(filepath.Join(dir, "promo.db"), Options{})
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Campaign("c")
	require.NoError(t, err, "the acknowledged write survived")
}

// crashAfterRedeeming runs a child process that redeems n codes and exits
// without closing the store, as a crash would after the answers were
// sent: the redemptions are in the log only. It returns the codes.
func crashAfterRedeeming(t *testing.T, dir string, n int) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestStore_CrashChild$")
	cmd.Env = append(os.Environ(), "PROMO_TEST_CRASH_DIR="+dir, fmt.Sprintf("PROMO_TEST_CRASH_N=%d", n))
	out, err := cmd.Output()
	require.NoError(t, err, "%s", out)
	codes := strings.Fields(string(out))
	require.Len(t, codes, n)
	return codes
}

func TestStore_CrashChild(t *testing.T) {
	dir := os.Getenv("PROMO_TEST_CRASH_DIR")
	if dir == "" {
		t.Skip("run by crashAfterRedeeming")
	}
	var n int
	fmt.Sscan(os.Getenv("PROMO_TEST_CRASH_N"), &n)
	s, err := Open(filepath.Join(dir, "promo.db"), Options{Log: walkv.Options{Interval: time.Hour}})
	require.NoError(t, err)
	mustCampaign(t, s, CampaignSpec{ID: "c"})
	codes := mustGenerate(t, s, "c", n)
	for _, code := range codes {
		_, err := s.Redeem(ctx, RedeemRequest{Code: code})
		require.NoError(t, err)
		fmt.Println(code)
	}
	os.Exit(0)
}

// frames returns the offsets of the log records in a segment, and where
// they end.
func frames(t *testing.T, seg string) ([]int64, int64) {
	b, err := os.ReadFile(seg)
	require.NoError(t, err)
	var offs []int64
	off := int64(0)
	for off+16 <= int64(len(b)) && binary.LittleEndian.Uint64(b[off+8:]) != 0 {
		offs = append(offs, off)
		off += (16 + int64(binary.LittleEndian.Uint32(b[off+4:])) + 7) &^ 7
	}
	return offs, off
}

func newestSegment(t *testing.T, path string) string {
	segs, err := filepath.Glob(filepath.Join(LogPath(path), "0*.wal"))
	require.NoError(t, err)
	require.NotEmpty(t, segs)
	return segs[len(segs)-1]
}

func patch(t *testing.T, file string, off int64, data []byte) {
	f, err := os.OpenFile(file, os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(data, off)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// A crash tears at most the record being written, which was never
// acknowledged: garbage or a partial record after the last one is cut off
// on start, and every acknowledged redemption is there.
func TestStore_TornLogTail_LosesNothingAcknowledged(t *testing.T) {
	if *engineFlag != "wal" {
		t.Skip("about the write-ahead log")
	}
	for _, tc := range []struct {
		name string
		tear func(t *testing.T, seg string, end int64)
	}{
		{"RandomGarbage", func(t *testing.T, seg string, end int64) {
			garbage := make([]byte, 3000)
			for i := range garbage {
				garbage[i] = byte(i*7 + 13)
			}
			patch(t, seg, end, garbage)
		}},
		{"PartialRecord", func(t *testing.T, seg string, end int64) {
			// A header promising 600 bytes of which 200 arrived.
			h := make([]byte, 16)
			binary.LittleEndian.PutUint32(h, 0xdeadbeef)
			binary.LittleEndian.PutUint32(h[4:], 600)
			offs, _ := frames(t, seg)
			last := offs[len(offs)-1]
			b, _ := os.ReadFile(seg)
			binary.LittleEndian.PutUint64(h[8:], binary.LittleEndian.Uint64(b[last+8:])+1)
			patch(t, seg, end, append(h, make([]byte, 200)...))
			patch(t, seg, end+16, []byte("half of a record"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			codes := crashAfterRedeeming(t, dir, 30)
			path := filepath.Join(dir, "promo.db")
			seg := newestSegment(t, path)
			_, end := frames(t, seg)
			tc.tear(t, seg, end)

			s, err := openTest(path, Options{})
			require.NoError(t, err)
			defer s.Close()
			for _, code := range codes {
				c, err := s.GetCode(code)
				require.NoError(t, err)
				require.Equal(t, "redeemed", c.State, code)
			}
			mustCampaign(t, s, CampaignSpec{ID: "d"})
			_, err = s.Redeem(ctx, RedeemRequest{Code: mustGenerate(t, s, "d", 1)[0]})
			require.NoError(t, err, "the log goes on")
			findings, err := s.Check(ctx)
			require.NoError(t, err)
			require.Empty(t, findings)
		})
	}
}

// Damage before the end of the log is not a torn write: the store refuses
// to start, naming the segment and the offset and saying how to recover.
func TestStore_DamagedLog_RefusesToStart(t *testing.T) {
	if *engineFlag != "wal" {
		t.Skip("about the write-ahead log")
	}
	dir := t.TempDir()
	crashAfterRedeeming(t, dir, 30)
	path := filepath.Join(dir, "promo.db")
	seg := newestSegment(t, path)
	offs, _ := frames(t, seg)
	require.Greater(t, len(offs), 20)
	bad := offs[len(offs)/2]
	b, err := os.ReadFile(seg)
	require.NoError(t, err)
	patch(t, seg, bad+20, []byte{b[bad+20] ^ 1})

	_, err = openTest(path, Options{})
	require.Equal(t, EUnavailable, ErrorCode(err), "%v", err)
	msg := ErrorMessage(err)
	for _, want := range []string{filepath.Base(seg), fmt.Sprintf("offset %d", bad), "bad checksum", "restore the database from a backup", "promo check"} {
		require.Contains(t, msg, want)
	}
}

// Restoring a backup next to the newer database's log is caught: the log
// would roll the restored file forward, or leave a gap. With the log
// moved away, as README says, the backup opens as it was.
func TestStore_RestoredBackupNextToANewerLog(t *testing.T) {
	if *engineFlag != "wal" {
		t.Skip("about the write-ahead log")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "promo.db")
	s, err := openTest(path, Options{})
	require.NoError(t, err)
	mustCampaign(t, s, CampaignSpec{ID: "c"})
	codes := mustGenerate(t, s, "c", 10)
	backup := filepath.Join(dir, "backup.db")
	require.NoError(t, s.BackupFile(backup))
	_, err = s.Redeem(ctx, RedeemRequest{Code: codes[0]})
	require.NoError(t, err)
	require.NoError(t, s.Close()) // a checkpoint: the log has gone past the backup

	data, err := os.ReadFile(backup)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, data, 0o600))
	_, err = openTest(path, Options{})
	require.Equal(t, EUnavailable, ErrorCode(err), "%v", err)
	require.Contains(t, ErrorMessage(err), "restored from a backup")
	require.Contains(t, ErrorMessage(err), "move "+LogPath(path)+" away")

	require.NoError(t, os.Rename(LogPath(path), filepath.Join(dir, "old.wal")))
	s, err = openTest(path, Options{})
	require.NoError(t, err)
	defer s.Close()
	c, err := s.GetCode(codes[0])
	require.NoError(t, err)
	require.Equal(t, "available", c.State, "the backup's state, from before the redemption")
}

// heldSync holds the next fdatasync of a log segment, once armed, until
// gate closes. Only a segment's: a checkpoint's record of its position and
// the spare segment's preallocation sync files of their own, in the
// background, and holding one of those would hold no batch.
type heldSync struct {
	armed         atomic.Bool
	entered, gate chan struct{}
}

var segmentFile = regexp.MustCompile(`^[0-9a-f]{16}\.wal$`)

func newHeldSync() *heldSync {
	return &heldSync{entered: make(chan struct{}, 1), gate: make(chan struct{})}
}

func (h *heldSync) sync(f *os.File) error {
	if segmentFile.MatchString(filepath.Base(f.Name())) && h.armed.CompareAndSwap(true, false) {
		h.entered <- struct{}{}
		<-h.gate
	}
	return f.Sync()
}

// busyDisk opens a store on the log, generates n codes and redeems the
// first; it returns once that redemption's batch is written and its
// fdatasync held (released by close(hold.gate)), with its outcome to come
// on first.
func busyDisk(t *testing.T, n int) (s *Store, hold *heldSync, codes []string, first chan error) {
	t.Helper()
	if *engineFlag != "wal" {
		t.Skip("only the write-ahead log pipelines its batches")
	}
	hold = newHeldSync()
	s, _ = testStore(t, Options{Log: walkv.Options{Log: wal.Options{Sync: hold.sync}}})
	mustCampaign(t, s, CampaignSpec{ID: "c"})
	codes = mustGenerate(t, s, "c", n)
	hold.armed.Store(true)
	first = make(chan error, 1)
	go func() { _, err := s.Redeem(ctx, RedeemRequest{Code: codes[0]}); first <- err }()
	<-hold.entered
	return s, hold, codes, first
}

// queueRedeem queues code's redemption without waiting for it; ran, when
// not nil, is called as its rules begin.
func queueRedeem(t *testing.T, s *Store, code string, ran func()) *op {
	t.Helper()
	sc, err := s.screen(code, false)
	require.NoError(t, err)
	o := &op{fn: func(tx *wtx) error {
		if ran != nil {
			ran()
		}
		return s.redeemTx(tx, &RedeemRequest{Code: code}, sc, &Redemption{})
	}, done: make(chan struct{})}
	require.True(t, s.submitNoWait(o))
	return o
}

// While a batch waits for the log's fdatasync, the writer gathers what
// arrives into one batch instead of writing a record for each: those
// operations could not be durable before the next fdatasync anyway.
func TestStore_GathersWhileTheDiskIsBusy(t *testing.T) {
	s, hold, codes, first := busyDisk(t, 11)
	before := s.commits.Load()
	var ops []*op
	for _, code := range codes[1:] {
		ops = append(ops, queueRedeem(t, s, code, nil))
		time.Sleep(2 * time.Millisecond) // each alone would be a record of its own
	}
	close(hold.gate)
	require.NoError(t, <-first)
	for _, o := range ops {
		<-o.done
		require.NoError(t, o.err)
	}
	// The first batch, then one for the ten (and one more if a background
	// write slipped in); without gathering, each of the ten is its own.
	require.LessOrEqual(t, s.commits.Load()-before, int64(3))
	for _, code := range codes {
		c, err := s.GetCode(code)
		require.NoError(t, err)
		require.Len(t, c.Redemptions, 1, code)
	}
}

// The operations gathered while a batch waits for the disk have their
// rules checked as they arrive, not after that fdatasync: when it returns,
// the next record needs only to be written.
func TestStore_ChecksGatheredOpsWhileTheDiskIsBusy(t *testing.T) {
	s, hold, codes, first := busyDisk(t, 4)
	ran := make(chan string, 3)
	var ops []*op
	for _, code := range codes[1:] {
		ops = append(ops, queueRedeem(t, s, code, func() { ran <- code }))
	}
	for _, code := range codes[1:] {
		select {
		case got := <-ran:
			require.Equal(t, code, got, "in the order they came")
		case <-time.After(10 * time.Second):
			close(hold.gate)
			t.Fatalf("the rules of %s waited for the fdatasync of an earlier batch", code)
		}
	}
	for _, o := range ops {
		select {
		case <-o.done:
			t.Fatal("answered before the batch before it was durable")
		default:
		}
	}
	close(hold.gate)
	require.NoError(t, <-first)
	for _, o := range ops {
		<-o.done
		require.NoError(t, o.err)
	}
	for _, code := range codes {
		c, err := s.GetCode(code)
		require.NoError(t, err)
		require.Len(t, c.Redemptions, 1, code)
	}
}
