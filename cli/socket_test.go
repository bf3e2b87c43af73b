//go:build unix

package cli

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"promo/httpapi"
	"promo/store"
)

func TestTrustSocket(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "promo.db")
	require.NoError(t, os.WriteFile(db, nil, 0o600))
	require.NoError(t, trustSocket(db+".sock", db), "no socket: nothing to refuse")
	require.NoError(t, os.WriteFile(db+".sock", nil, 0o600))
	require.NoError(t, trustSocket(db+".sock", db), "the owner's stale file: harmless, nothing can answer on it")
	require.NoError(t, os.Remove(db+".sock"))

	if os.Geteuid() != 0 {
		t.Skip("the rest needs root: it gives files to another user (uid 65534)")
	}
	other := filepath.Join(dir, "elsewhere.sock")
	l, err := net.Listen("unix", other)
	require.NoError(t, err)
	defer l.Close()
	require.NoError(t, os.Lchown(other, 65534, 65534))
	require.NoError(t, os.Symlink(other, db+".sock"))
	err = trustSocket(db+".sock", db)
	require.ErrorIs(t, err, httpapi.ErrUntrustedSocket)
	require.Equal(t, store.EUnavailable, store.ErrorCode(err))
	require.Contains(t, store.ErrorMessage(err), db+".sock leads to a socket of uid 65534 (nobody), not to root, who owns "+db)

	// A database of another user: its owner's socket is trusted, root's too,
	// and the message names the owner.
	require.NoError(t, os.Chown(db, 65534, 65534))
	require.NoError(t, trustSocket(db+".sock", db))
	require.NoError(t, os.Lchown(other, 0, 0))
	require.NoError(t, trustSocket(db+".sock", db))
	require.NoError(t, os.Lchown(other, 1, 1))
	err = trustSocket(db+".sock", db)
	require.Contains(t, store.ErrorMessage(err), "not to uid 65534 (nobody), who owns "+db+", nor to root")
	require.Contains(t, store.ErrorMessage(err), "otherwise run the command as uid 65534 (nobody)")
	require.Error(t, checkListener(db+".sock", db)(1))
	require.NoError(t, checkListener(db+".sock", db)(65534))
	require.NoError(t, checkListener(db+".sock", db)(0))
}
