package walkv

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"promo/store/kv"
)

// BenchmarkDB_OpenReplaysAFullCheckpoint is the start-up cost of the log
// after a crash at the worst moment: just before a checkpoint that
// MaxOps would have started, so the log holds the default MaxOps distinct
// keys past the file's position. The writes are shaped like W3's
// idempotent redemptions: one Update per redemption, four new keys (a
// code's record, the redemption, its event, the customer's index entry)
// and two hot counters. Each iteration opens a fresh copy of that crashed
// state.
func BenchmarkDB_OpenReplaysAFullCheckpoint(b *testing.B) {
	src := b.TempDir()
	d := openAt(b, src, Options{Interval: time.Hour, MaxOps: 1 << 30})
	value := make([]byte, 150)
	for n := 0; d.Stats().Log.PendingOps < defaultMaxOps; n++ {
		require.NoError(b, d.Update(func(tx kv.RwTx) error {
			for k := 0; k < 4; k++ {
				tx.Put("b", fmt.Appendf(nil, "%016x", rand.Uint64()), value)
			}
			tx.Put("c", []byte("redeemed"), fmt.Append(nil, n))
			tx.Put("c", []byte("day"), fmt.Append(nil, n))
			return nil
		}))
	}
	records := d.Stats().Log.LastLSN
	d.abandon()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := filepath.Join(b.TempDir(), "copy")
		require.NoError(b, os.CopyFS(dir, os.DirFS(src)))
		b.StartTimer()
		d := openAt(b, dir, Options{})
		b.StopTimer()
		require.NoError(b, d.Close())
		b.StartTimer()
	}
	b.ReportMetric(float64(records), "records")
}
