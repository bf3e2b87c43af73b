package store

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestOpen_LockedFileFailsFast(t *testing.T) {
	skipOnEtcd(t, "no file lock: any number of processes share a cluster")
	s, _ := testStore(t, Options{})
	start := time.Now()
	_, err := openTest(s.Path(), Options{LockTimeout: 300 * time.Millisecond})
	require.ErrorIs(t, err, ErrLocked)
	require.Contains(t, err.Error(), "another promo process")
	require.Less(t, time.Since(start), 5*time.Second)
}

func TestOpen_NotADatabase(t *testing.T) {
	skipOnEtcd(t, "no file")
	path := filepath.Join(t.TempDir(), "junk.db")
	require.NoError(t, os.WriteFile(path, []byte("this is not a bbolt file, just text"), 0o600))
	_, err := openTest(path, Options{})
	require.Error(t, err)
}

func TestStore_ReopenKeepsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "promo.db")
	s, err := openTest(path, Options{})
	require.NoError(t, err)
	mustCampaign(t, s, CampaignSpec{ID: "welcome", Kind: KindWelcome})
	codes := mustGenerate(t, s, "welcome", 500)
	red, err := s.Redeem(ctx, RedeemRequest{Code: codes[0]})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s, err = openTest(path, Options{})
	require.NoError(t, err)
	defer s.Close()
	require.False(t, s.codesAdded.Load(), "the saved filter was loaded, not rebuilt")
	for _, code := range codes {
		k := mustNormalize(code)
		require.True(t, s.filter.Load().Test(k), "filter lost %s", code)
	}
	c, err := s.GetCode(codes[0])
	require.NoError(t, err)
	require.Equal(t, "redeemed", c.State)
	require.Equal(t, red.ID, c.Redemptions[0].ID)
	camp, err := s.Campaign("welcome")
	require.NoError(t, err)
	require.Equal(t, int64(500), camp.Counts.Generated)
	require.Equal(t, int64(1), camp.Counts.Redeemed)
	findings, err := s.Check(ctx)
	require.NoError(t, err)
	require.Empty(t, findings)
}

// A filter file that does not belong to the database state (codes were
// added after it was saved, as after a crash) is rebuilt, never trusted.
func TestStore_StaleFilterIsRebuilt(t *testing.T) {
	skipOnEtcd(t, "the filter is never saved to a file on etcd")
	dir := t.TempDir()
	path := filepath.Join(dir, "promo.db")
	s, err := openTest(path, Options{})
	require.NoError(t, err)
	mustCampaign(t, s, CampaignSpec{ID: "c"})
	first := mustGenerate(t, s, "c", 100) // Generate saves the filter
	require.NoError(t, s.SaveFilter())
	staleFilter, err := os.ReadFile(FilterPath(path))
	require.NoError(t, err)
	more := mustGenerate(t, s, "c", 100)
	require.NoError(t, s.Close())
	// Put the old filter back, as if the process died before saving again.
	require.NoError(t, os.WriteFile(FilterPath(path), staleFilter, 0o600))

	s, err = openTest(path, Options{})
	require.NoError(t, err)
	defer s.Close()
	require.True(t, s.codesAdded.Load(), "the stale filter was rebuilt")
	for _, code := range append(first, more...) {
		_, err := s.GetCode(code)
		require.NoError(t, err, code)
	}
}

func TestStore_CorruptFilterIsRebuilt(t *testing.T) {
	skipOnEtcd(t, "the filter is never saved to a file on etcd")
	path := filepath.Join(t.TempDir(), "promo.db")
	s, err := openTest(path, Options{})
	require.NoError(t, err)
	mustCampaign(t, s, CampaignSpec{ID: "c"})
	codes := mustGenerate(t, s, "c", 50)
	require.NoError(t, s.Close())
	b, err := os.ReadFile(FilterPath(path))
	require.NoError(t, err)
	b[len(b)/2] ^= 0xFF
	require.NoError(t, os.WriteFile(FilterPath(path), b, 0o600))
	s, err = openTest(path, Options{})
	require.NoError(t, err)
	defer s.Close()
	for _, code := range codes {
		_, err := s.GetCode(code)
		require.NoError(t, err)
	}
}

func TestStore_ReadOnlyRefusesWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "promo.db")
	s, err := openTest(path, Options{})
	require.NoError(t, err)
	mustCampaign(t, s, CampaignSpec{ID: "c"})
	require.NoError(t, s.Close())
	s, err = openTest(path, Options{ReadOnly: true})
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Campaign("c")
	require.NoError(t, err)
	_, err = s.Generate(ctx, "c", GenerateRequest{Count: 1})
	requireCode(t, err, EUnavailable)
}

func TestClassify_DiskErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code string
		msg  string
	}{
		{&os.PathError{Op: "write", Err: errNoSpace}, EUnavailable, "disk is full"},
		{&os.PathError{Op: "write", Err: errFileTooBig}, EUnavailable, "size limit"},
		{&os.PathError{Op: "open", Err: errReadOnlyFS}, EUnavailable, "read-only"},
		{errors.New("boom"), EInternal, "internal error"},
	} {
		err := classify(tc.err, "commit")
		require.Equal(t, tc.code, ErrorCode(err))
		require.Contains(t, ErrorMessage(err), tc.msg)
	}
}
