package bloom

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFilter_Save_LoadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "codes.bloom")
	keys := makeKeys(members, 0, 20_000)
	f := New(5000, 0.001)
	f.AddMany(keys)
	require.NoError(t, f.Save(path, testMark))

	g, err := Load(path, testMark)
	require.NoError(t, err)
	requireAll(t, g, keys)
	require.Equal(t, f.Count(), g.Count())
	require.Equal(t, f.Capacity(), g.Capacity())
	require.Equal(t, f.Layers(), g.Layers())
	require.Equal(t, f.FPRate(), g.FPRate())
	require.Equal(t, encode(t, f, testMark), encode(t, g, testMark))

	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary files left behind")
}

func TestFilter_Save_Overwrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "codes.bloom")
	require.NoError(t, smallFilter(makeKeys(members, 0, 10)).Save(path, testMark))
	newer := smallFilter(makeKeys(extra, 0, 10))
	require.NoError(t, newer.Save(path, Mark{9}))

	_, err := Load(path, testMark)
	require.ErrorIs(t, err, ErrStale)
	g, err := Load(path, Mark{9})
	require.NoError(t, err)
	requireAll(t, g, makeKeys(extra, 0, 10))
}

func TestLoad_Missing_NotExist(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope"), testMark)
	require.ErrorIs(t, err, fs.ErrNotExist)
}

func TestLoad_Corrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "codes.bloom")
	require.NoError(t, smallFilter(makeKeys(members, 0, 10)).Save(path, testMark))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, data[:len(data)-1], 0o600))
	_, err = Load(path, testMark)
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, "bloom: load "+path+": truncated")
}

func TestFilter_Save_FailureKeepsOldFile_ReadOnlyDir(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "codes.bloom")
	old := makeKeys(members, 0, 10)
	require.NoError(t, smallFilter(old).Save(path, testMark))
	readOnlyDir(t, dir)

	err := smallFilter(makeKeys(extra, 0, 10)).Save(path, Mark{9})
	require.Error(t, err)
	g, err := Load(path, testMark)
	require.NoError(t, err)
	requireAll(t, g, old)
}

// readOnlyDir makes dir refuse new files until the test ends. Permissions
// do not stop root, so as root the directory is made immutable (chattr +i,
// which stops root too); the test skips only where neither can be had.
func readOnlyDir(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		require.NoError(t, os.Chmod(dir, 0o500))
		t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
		return
	}
	if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
		t.Skipf("as root a read-only directory needs chattr +i, which failed here (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { _ = exec.Command("chattr", "-i", dir).Run() })
	probe := filepath.Join(dir, "probe")
	if f, err := os.Create(probe); err == nil {
		f.Close()
		_ = os.Remove(probe)
		t.Fatalf("chattr +i did not make %s read-only", dir)
	}
}
