package store

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// withFileSizeLimit sets the process's soft file-size limit (RLIMIT_FSIZE)
// for the duration of fn. Go ignores SIGXFSZ, so writes past the limit fail
// with EFBIG, as they would on a full disk.
func withFileSizeLimit(t *testing.T, limit uint64, fn func()) {
	var old syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old))
	lim := old
	lim.Cur = limit
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim))
	defer func() { require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old)) }()
	fn()
}

// When the file cannot grow (a full disk, simulated by a file-size limit)
// writes fail with a clear unavailable error, nothing is half-written, reads
// keep working, and writes work again once there is room.
func TestStore_FullDisk_RefusesCleanlyAndResumes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "promo.db")
	s, err := Open(path, Options{ChunkSize: 20_000})
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

// A database file that became read-only (here: immutable, which binds even
// root) refuses writes clearly, keeps answering reads, and resumes when it is
// writable again.
func TestStore_ReadOnlyFile_RefusesCleanlyAndResumes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "promo.db")
	s, err := Open(path, Options{})
	require.NoError(t, err)
	defer s.Close()
	mustCampaign(t, s, CampaignSpec{ID: "c"})
	codes := mustGenerate(t, s, "c", 10)
	if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
		t.Skipf("cannot make the file immutable here (chattr +i: %v %s); the disk-full test covers refusals", err, out)
	}
	defer exec.Command("chattr", "-i", path).Run()

	_, err = s.Redeem(ctx, RedeemRequest{Code: codes[0]})
	require.Equal(t, EUnavailable, ErrorCode(err), "%v", err)
	require.Contains(t, ErrorMessage(err), "read-only")
	v, err := s.Validate(RedeemRequest{Code: codes[0]})
	require.NoError(t, err)
	require.True(t, v.Valid, "the refused redemption was not recorded")

	require.NoError(t, exec.Command("chattr", "-i", path).Run())
	_, err = s.Redeem(ctx, RedeemRequest{Code: codes[0]})
	require.NoError(t, err)
	findings, err := s.Check(ctx)
	require.NoError(t, err)
	require.Empty(t, findings)
}
