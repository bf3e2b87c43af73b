package bloom

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFilter_Save_FailureKeepsOldFile_WriteFails makes the temporary file's
// writes fail (EFBIG, from a file size limit), which works even as root.
// The limit holds for every file of the process, go test's own log among
// them, so the test runs alone in a child process.
func TestFilter_Save_FailureKeepsOldFile_WriteFails(t *testing.T) {
	if os.Getenv("PROMO_TEST_CHILD") != t.Name() {
		cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v")
		cmd.Env = append(os.Environ(), "PROMO_TEST_CHILD="+t.Name())
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "the child process failed:\n%s", out)
		require.Contains(t, string(out), "--- PASS: "+t.Name(), "the child ran the test:\n%s", out)
		return
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "codes.bloom")
	old := makeKeys(members, 0, 10)
	require.NoError(t, smallFilter(old).Save(path, testMark))

	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim))
	small := lim
	small.Cur = 1000
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &small))
	err := New(100_000, 0.001).Save(path, Mark{9})
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim))

	require.ErrorIs(t, err, syscall.EFBIG)
	g, err := Load(path, testMark)
	require.NoError(t, err)
	requireAll(t, g, old)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "the temporary file is removed")
}
