package boltkv_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"promo/store/kv"
	"promo/store/kv/boltkv"
	"promo/store/kv/kvtest"
)

func TestDB_Contract(t *testing.T) {
	kvtest.Run(t, func(t *testing.T, dir string) kv.Engine {
		db, err := boltkv.Open(filepath.Join(dir, "test.db"), boltkv.Options{})
		require.NoError(t, err)
		return db
	})
}

func TestOpen_LockedFileFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	db, err := boltkv.Open(path, boltkv.Options{})
	require.NoError(t, err)
	defer db.Close()
	_, err = boltkv.Open(path, boltkv.Options{Timeout: 100e6})
	require.ErrorIs(t, err, kv.ErrLocked)
}
