package boltkv_test

import (
	"encoding/binary"
	"os"
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

// Every commit writes bbolt's free list, so that opening the file reads it
// instead of walking every page to find the free ones (0.8 s at 12M
// codes). The newer of the file's two meta pages names the list's page;
// a file written without it names none (bbolt's PgidNoFreelist).
func TestDB_CommitsWriteTheFreeList(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	const pageSize = 4096
	db, err := boltkv.Open(path, boltkv.Options{PageSize: pageSize})
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx kv.RwTx) error { tx.Put("b", []byte("k"), []byte("v")); return nil }))
	require.NoError(t, db.Close())

	file, err := os.ReadFile(path)
	require.NoError(t, err)
	// A meta page: a 16-byte page header, then magic, version, page size
	// and flags (4 bytes each), the root bucket (16), the free list's page
	// id (8), the high-water page id (8) and the transaction id (8).
	meta := func(n int) (freelist, txid uint64) {
		m := file[n*pageSize+16:]
		return binary.LittleEndian.Uint64(m[32:]), binary.LittleEndian.Uint64(m[48:])
	}
	free0, tx0 := meta(0)
	free1, tx1 := meta(1)
	if tx1 > tx0 {
		free0 = free1
	}
	require.NotEqual(t, ^uint64(0), free0, "the last commit wrote no free list")
}
