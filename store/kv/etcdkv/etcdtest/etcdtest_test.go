package etcdtest_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"promo/store/kv/etcdkv/etcdtest"
)

func TestStart_ThreeMembersWithinSeconds(t *testing.T) {
	start := time.Now()
	c := etcdtest.Start(t, etcdtest.Options{})
	took := time.Since(start)
	t.Logf("3 members serve in %v", took.Round(time.Millisecond))
	require.Less(t, took, 5*time.Second)
	require.Equal(t, 3, c.Members())
	require.Len(t, c.Endpoints(), 3)
	require.GreaterOrEqual(t, c.Leader(), 0)
}

func TestStart_OneMember(t *testing.T) {
	c := etcdtest.Start(t, etcdtest.Options{Members: 1})
	require.Equal(t, 0, c.Leader())
	require.Nil(t, c.TLS())
}

func TestNew_RefusesTwoMembers(t *testing.T) {
	_, err := etcdtest.New(t.TempDir(), etcdtest.Options{Members: 2})
	require.ErrorContains(t, err, "want 1 or 3")
}

func TestCluster_StopHardStopRestart(t *testing.T) {
	c := etcdtest.Start(t, etcdtest.Options{})
	leader := c.Leader()
	other := (leader + 1) % 3

	c.Stop(other)
	require.False(t, c.Running(other))
	c.Stop(other) // stopping a stopped member does nothing
	require.NoError(t, c.Restart(other))
	require.True(t, c.Running(other))
	require.NoError(t, c.Restart(other), "restarting a running member does nothing")

	c.HardStop(leader)
	require.False(t, c.Running(leader))
	deadline := time.Now().Add(10 * time.Second)
	for c.Leader() < 0 || c.Leader() == leader {
		require.True(t, time.Now().Before(deadline), "the others elect a leader")
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, c.Restart(leader), "on its data and ports")
	require.True(t, c.HasLeader(leader))
}

func TestClose_LeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	c, err := etcdtest.New(t.TempDir(), etcdtest.Options{})
	require.NoError(t, err)
	c.HardStop(c.Leader())
	c.Close()
	// Connections between members wind down within a few seconds of the
	// last stop.
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines left, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(50 * time.Millisecond)
	}
}
