package etcdkv_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"promo/store/kv"
	"promo/store/kv/etcdkv"
	"promo/store/kv/etcdkv/etcdtest"
	"promo/store/kv/kvtest"
)

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestEngine_Faults(t *testing.T) {
	t.Parallel() // its own cluster; mostly waiting
	if testing.Short() {
		t.Skip("stops and restarts cluster members")
	}
	c := etcdtest.Start(t, etcdtest.Options{})
	const timeout = 2 * time.Second
	prefix := freshPrefix(t)
	e := open(t, c, etcdkv.Options{Prefix: prefix, Timeout: timeout})
	kvtest.Put(t, e, "b", "k", "v1")

	leader := c.Leader()
	require.GreaterOrEqual(t, leader, 0)
	var followers []int
	for i := 0; i < c.Members(); i++ {
		if i != leader {
			followers = append(followers, i)
		}
	}

	t.Run("LeaderWithoutQuorumLeavesTheOutcomeUnknown", func(t *testing.T) {
		for _, i := range followers {
			c.HardStop(i)
		}
		// The leader takes the commit, proposes it, and cannot commit it:
		// it sits in its log, and may yet be committed once the others are
		// back.
		start := time.Now()
		err := e.Update(func(tx kv.RwTx) error {
			tx.Put("b", []byte("k"), []byte("v2"))
			return nil
		})
		t.Logf("after %v: %v", time.Since(start).Round(time.Millisecond), err)
		require.ErrorIs(t, err, kv.ErrUncertain)
		require.ErrorIs(t, err, kv.ErrUnavailable)
		require.Less(t, time.Since(start), timeout+time.Second)
	})

	t.Run("NoLeaderRefusesWritesAndReads", func(t *testing.T) {
		waitFor(t, 5*time.Second, "the lone member steps down", func() bool { return !c.HasLeader(leader) })
		start := time.Now()
		runs := 0
		err := e.Update(func(tx kv.RwTx) error {
			runs++
			tx.Get("b", []byte("k"))
			tx.Put("b", []byte("k"), []byte("v3"))
			return nil
		})
		t.Logf("update after %v: %v", time.Since(start).Round(time.Millisecond), err)
		require.ErrorIs(t, err, kv.ErrUnavailable)
		require.NotErrorIs(t, err, kv.ErrUncertain, "nothing was proposed")
		require.Less(t, time.Since(start), timeout+time.Second)
		require.LessOrEqual(t, runs, 1, "no read was answered")

		start = time.Now()
		err = e.View(func(tx kv.Tx) error {
			tx.Get("b", []byte("k"))
			return nil
		})
		t.Logf("view after %v: %v", time.Since(start).Round(time.Millisecond), err)
		require.ErrorIs(t, err, kv.ErrUnavailable)
		require.Less(t, time.Since(start), timeout+time.Second)

		// A blind write is refused as surely.
		start = time.Now()
		err = e.Update(func(tx kv.RwTx) error {
			tx.Put("b", []byte("blind"), []byte("x"))
			return nil
		})
		t.Logf("blind update after %v: %v", time.Since(start).Round(time.Millisecond), err)
		require.ErrorIs(t, err, kv.ErrUnavailable)
		require.NotErrorIs(t, err, kv.ErrUncertain)
	})

	t.Run("QuorumBackTakesWrites", func(t *testing.T) {
		for _, i := range followers {
			require.NoError(t, c.Restart(i))
		}
		kvtest.Put(t, e, "b", "after", "yes")
		v := string(kvtest.Get(t, e, "b", "k"))
		t.Logf("k = %s", v)
		require.Contains(t, []string{"v1", "v2"}, v, "v2's outcome was unknown; v3 was refused")
		require.Nil(t, kvtest.Get(t, e, "b", "blind"))
	})

	t.Run("RestartedMemberCatchesUp", func(t *testing.T) {
		lag := followers[0]
		c.Stop(lag)
		require.NoError(t, e.Update(func(tx kv.RwTx) error {
			for i := 0; i < 100; i++ {
				tx.Put("c", fmt.Appendf(nil, "%03d", i), []byte("while away"))
			}
			return nil
		}))
		require.NoError(t, c.Restart(lag))
		// A client of that member alone: its reads are served there.
		only := open(t, c, etcdkv.Options{Endpoints: []string{c.Endpoint(lag)}, Prefix: prefix})
		require.NoError(t, only.View(func(tx kv.Tx) error {
			require.Len(t, keys(t, tx, "c", kv.All), 100)
			return nil
		}))
		waitFor(t, 5*time.Second, "the member applies what the others did", func() bool {
			return c.AppliedIndex(lag) >= c.AppliedIndex(c.Leader())
		})
	})
}
