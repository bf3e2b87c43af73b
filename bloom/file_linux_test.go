package bloom

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFilter_Save_FailureKeepsOldFile_WriteFails makes the temporary file's
// writes fail (EFBIG, from a file size limit), which works even as root.
func TestFilter_Save_FailureKeepsOldFile_WriteFails(t *testing.T) {
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
