package etcdtest_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"promo/store/kv/etcdkv/etcdtest"
)

func TestStart_ThreeMembers(t *testing.T) {
	before := runtime.NumGoroutine()
	start := time.Now()
	c, err := etcdtest.New(t.TempDir(), etcdtest.Options{})
	require.NoError(t, err)
	t.Logf("3 members ready in %v, leader %d", time.Since(start), c.Leader())
	require.GreaterOrEqual(t, c.Leader(), 0)
	start = time.Now()
	c.HardStop(c.Leader())
	t.Logf("hard stop in %v", time.Since(start))
	start = time.Now()
	c.Close()
	t.Logf("close in %v", time.Since(start))
	for i := 0; i < 100 && runtime.NumGoroutine() > before; i++ { time.Sleep(100 * time.Millisecond) }
	t.Logf("goroutines before %d after %d", before, runtime.NumGoroutine())
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	t.Logf("%s", buf[:n])
}
