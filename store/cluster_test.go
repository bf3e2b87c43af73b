package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"promo/store/kv"
	"promo/store/kv/etcdkv/etcdtest"
)

// Several promo nodes on one etcd cluster: stores opened on the same
// cluster and prefix, as `promo serve` processes are.

var clusterPrefixes atomic.Int64

// twoNodes opens two stores on one prefix of c (a 3-member cluster of its
// own when c is nil) and closes them when the test ends.
func twoNodes(t *testing.T, c *etcdtest.Cluster, eo EtcdOptions) (*etcdtest.Cluster, *Store, *Store) {
	t.Helper()
	if c == nil {
		c = etcdtest.Start(t, etcdtest.Options{})
	}
	eo.Endpoints = c.Endpoints()
	eo.Prefix = fmt.Sprintf("/nodes/%s-%d/", t.Name(), clusterPrefixes.Add(1))
	open := func() *Store {
		s, err := OpenEtcd(context.Background(), eo, Options{})
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	}
	return c, open(), open()
}

// recheck requires a store's Check to find nothing.
func recheck(t *testing.T, s *Store) {
	t.Helper()
	findings, err := s.Check(ctx)
	require.NoError(t, err)
	require.Empty(t, findings)
}

func TestCluster_RedeemExactlyOnceAcrossNodes(t *testing.T) {
	_, a, b := twoNodes(t, nil, EtcdOptions{})
	mustCampaign(t, a, CampaignSpec{ID: "c", Kind: KindGeneric})
	codes := mustGenerate(t, a, "c", 40)
	var wins, lost atomic.Int64
	var wg sync.WaitGroup
	for _, code := range codes {
		for _, s := range []*Store{a, b, a, b} { // four tills, two per node
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Redeem(ctx, RedeemRequest{Code: code, OrderAmount: 1000})
				switch ErrorCode(err) {
				case "":
					wins.Add(1)
				case EAlreadyRedeemed:
					lost.Add(1)
				default:
					t.Errorf("redeem %s: %v", code, err)
				}
			}()
		}
	}
	wg.Wait()
	require.EqualValues(t, len(codes), wins.Load(), "each code redeemed exactly once")
	require.EqualValues(t, 3*len(codes), lost.Load())
	for _, s := range []*Store{a, b} {
		st, err := s.CampaignStats("c")
		require.NoError(t, err)
		require.EqualValues(t, len(codes), st.Counts.Redeemed, "both nodes count every redemption")
		require.EqualValues(t, len(codes)*100, st.Counts.DiscountTotal)
	}
	recheck(t, b) // the counters equal a recount
}

func TestCluster_CodeGeneratedOnANeverNotFoundOnB(t *testing.T) {
	_, a, b := twoNodes(t, nil, EtcdOptions{})
	mustCampaign(t, a, CampaignSpec{ID: "c", Kind: KindGeneric})
	// B's watch of the codes is held back: its filter cannot know A's codes,
	// and B must not trust its "no" until the watch has caught up.
	var held sync.RWMutex
	hook := func() { held.RLock(); defer held.RUnlock() } // waits while the test holds it
	b.cl.codesHook.Store(&hook)
	for round := 0; round < 3; round++ {
		held.Lock()
		code := mustGenerate(t, a, "c", 1)[0]
		key := []byte(code)
		if sc, err := a.screen(code, false); err == nil {
			key = sc.key
		}
		require.False(t, b.filter.Load().Test(key) && round == 0, "B's filter knows the code before its watch delivers it (test broken)")
		v, err := b.Validate(RedeemRequest{Code: code})
		require.NoError(t, err)
		require.True(t, v.Valid, "round %d: %s generated on A is %q on B", round, code, v.Reason)
		held.Unlock()
	}
	// Once B's watch has caught up, its filter answers guesses alone again.
	require.Eventually(t, func() bool { return b.filter.Load().Count() >= 3 }, 10*time.Second, 10*time.Millisecond)
	v, err := b.Validate(RedeemRequest{Code: "0000-0000-0000"})
	require.NoError(t, err)
	require.Equal(t, ENotFound, v.Reason)
}

func TestCluster_CatalogKeysAndEventsFollowTheCluster(t *testing.T) {
	_, a, b := twoNodes(t, nil, EtcdOptions{})
	// A campaign created through A is known to B at once (read from etcd
	// when B's catalog lacks it).
	mustCampaign(t, a, CampaignSpec{ID: "c", Kind: KindGeneric})
	codes := mustGenerate(t, b, "c", 3)
	// A pause through A stops redemptions through B at once: a lookup reads
	// its campaign in its own transaction.
	_, err := a.UpdateCampaign(ctx, "c", CampaignPatch{Status: ptr(StatusPaused)})
	require.NoError(t, err)
	_, err = b.Redeem(ctx, RedeemRequest{Code: codes[0]})
	requireCode(t, err, EPaused)
	_, err = a.UpdateCampaign(ctx, "c", CampaignPatch{Status: ptr(StatusActive)})
	require.NoError(t, err)

	// A key made through A authenticates on B once B's watch delivers it.
	_, secret, err := a.CreateKey(ctx, "till", RolePOS)
	require.NoError(t, err)
	require.Eventually(t, func() bool { _, err := b.Authenticate(secret); return err == nil }, 10*time.Second, 10*time.Millisecond)

	// A follower on B wakes for an event committed through A, and reads
	// each event once, in order, resuming where it stopped.
	last, err := b.LastEventSeq()
	require.NoError(t, err)
	woke := make(chan error, 1)
	go func() {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		woke <- b.WaitEvents(c, last)
	}()
	_, err = a.Redeem(ctx, RedeemRequest{Code: codes[1]})
	require.NoError(t, err)
	require.NoError(t, <-woke)
	_, err = b.Redeem(ctx, RedeemRequest{Code: codes[2]})
	require.NoError(t, err)
	evs, err := b.Events(last, 0)
	require.NoError(t, err)
	require.Len(t, evs, 2)
	for i, e := range evs {
		require.Equal(t, last+uint64(i)+1, e.Seq)
		require.Equal(t, EventCodeRedeemed, e.Type)
	}
	require.Equal(t, []string{codes[1], codes[2]}, []string{evs[0].Code, evs[1].Code})
	more, err := a.Events(evs[1].Seq, 0)
	require.NoError(t, err)
	require.Empty(t, more, "resuming after the last event read repeats nothing")
}

func TestCluster_NoQuorumRefusesWritesAndNeverRedeems(t *testing.T) {
	c, a, _ := twoNodes(t, nil, EtcdOptions{Timeout: time.Second})
	mustCampaign(t, a, CampaignSpec{ID: "c", Kind: KindGeneric})
	codes := mustGenerate(t, a, "c", 2)
	_, err := a.Redeem(ctx, RedeemRequest{Code: codes[0]})
	require.NoError(t, err)

	// Two of three members down: no quorum. A till retries through an
	// idempotency key, as it must after unavailable.
	c.Stop(1)
	c.Stop(2)
	idem := &Idempotency{Scope: "till-1", Key: "order-7"}
	req := RedeemRequest{Code: codes[1], OrderID: "order-7", Idempotency: idem}
	_, err = a.Redeem(ctx, req)
	requireCode(t, err, EUnavailable)
	// A commit the leader had proposed may still take effect once the
	// members return: the error says so when it cannot be sure.
	t.Logf("without quorum: %v", ErrorMessage(err))
	_, err = a.Redeem(ctx, RedeemRequest{Code: codes[0]})
	requireCode(t, err, EUnavailable) // never answered from a stale read
	_, err = a.Validate(RedeemRequest{Code: codes[1]})
	requireCode(t, err, EUnavailable)

	require.NoError(t, c.Restart(1))
	require.NoError(t, c.Restart(2))
	// The retry redeems once, whether or not the first attempt took effect.
	var red Redemption
	require.Eventually(t, func() bool { red, err = a.Redeem(ctx, req); return ErrorCode(err) != EUnavailable }, 20*time.Second, 50*time.Millisecond)
	require.NoError(t, err)
	again, err := a.Redeem(ctx, req)
	require.NoError(t, err)
	require.Equal(t, red.ID, again.ID, "a retry replays the redemption")
	_, err = a.Redeem(ctx, RedeemRequest{Code: codes[0]})
	requireCode(t, err, EAlreadyRedeemed)
	st, err := a.CampaignStats("c")
	require.NoError(t, err)
	require.EqualValues(t, 2, st.Counts.Redeemed, "each code redeemed once")
	recheck(t, a)
}

func TestCluster_LeaseHasOneHolder(t *testing.T) {
	c := etcdtest.Start(t, etcdtest.Options{Members: 1})
	clk := newClock()
	eo := EtcdOptions{Endpoints: c.Endpoints(), Prefix: "/lease/"}
	var nodes []*Store
	for range 2 {
		s, err := OpenEtcd(context.Background(), eo, Options{Now: clk.Now})
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		nodes = append(nodes, s)
	}
	a, b := nodes[0], nodes[1]
	take := func(s *Store, holder string) bool {
		t.Helper()
		ok, err := s.TakeLease(ctx, "webhooks", holder, 10*time.Second)
		require.NoError(t, err)
		return ok
	}
	require.True(t, take(a, "a"))
	require.False(t, take(b, "b"), "held by a")
	clk.Add(5 * time.Second)
	require.True(t, take(a, "a"), "a renews")
	clk.Add(9 * time.Second)
	require.False(t, take(b, "b"), "a's renewal still runs")
	clk.Add(2 * time.Second)
	require.True(t, take(b, "b"), "a stopped renewing: b takes over")
	require.False(t, take(a, "a"))

	// Racing for a free lease: exactly one wins.
	clk.Add(time.Minute)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, err := nodes[i%2].TakeLease(ctx, "webhooks", fmt.Sprint("n", i), 10*time.Second); err == nil && ok {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	require.EqualValues(t, 1, wins.Load())
}

// TestCluster_LeaderKilledDuringRedemptions kills the cluster's leader
// while tills redeem through two nodes, each till retrying through its
// idempotency key until it gets an answer: every acknowledged redemption
// is stored, no code is redeemed twice, and the counts equal a recount.
func TestCluster_LeaderKilledDuringRedemptions(t *testing.T) {
	c, a, b := twoNodes(t, nil, EtcdOptions{Timeout: 2 * time.Second})
	mustCampaign(t, a, CampaignSpec{ID: "c", Kind: KindGeneric})
	codes := mustGenerate(t, a, "c", 200)
	type ack struct{ code, id string }
	var mu sync.Mutex
	var acks []ack
	var refused atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	killed := make(chan struct{})
	for g := 0; g < 16; g++ {
		s := []*Store{a, b}[g%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= 2*len(codes) {
					return
				}
				if i == len(codes)/2 {
					close(killed) // the kill comes while the rest run
				}
				// Each code is tried by two tills (i and i+len), on either node.
				code := codes[i%len(codes)]
				req := RedeemRequest{Code: code, Idempotency: &Idempotency{Scope: fmt.Sprint("till-", i), Key: code}}
				deadline := time.Now().Add(60 * time.Second)
				for {
					r, err := s.Redeem(ctx, req)
					if err == nil {
						mu.Lock()
						acks = append(acks, ack{code, r.ID})
						mu.Unlock()
						break
					}
					if ErrorCode(err) == EAlreadyRedeemed {
						refused.Add(1)
						break
					}
					require.Equal(t, EUnavailable, ErrorCode(err), "redeem %s: %v", code, err)
					require.True(t, time.Now().Before(deadline), "no answer for a minute: %v", err)
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	<-killed
	leader := c.Leader()
	require.GreaterOrEqual(t, leader, 0)
	c.HardStop(leader)
	wg.Wait()
	require.NoError(t, c.Restart(leader))

	require.Len(t, acks, len(codes), "one acknowledgement per code: %d acks, %d refusals", len(acks), refused.Load())
	require.EqualValues(t, len(codes), refused.Load())
	seen := map[string]bool{}
	for _, k := range acks {
		require.False(t, seen[k.code], "%s acknowledged twice", k.code)
		seen[k.code] = true
		got, err := b.GetCode(k.code)
		require.NoError(t, err)
		require.Equal(t, "redeemed", got.State, "%s was acknowledged (%s)", k.code, k.id)
	}
	st, err := b.CampaignStats("c")
	require.NoError(t, err)
	require.EqualValues(t, len(codes), st.Counts.Redeemed)
	recheck(t, a)
}

// TestCluster_MemberRestartedOnItsData redeems while one member is down,
// restarts it on its data, then takes another one down: the restarted
// member caught up and serves in the new quorum, nothing is lost.
func TestCluster_MemberRestartedOnItsData(t *testing.T) {
	c, a, b := twoNodes(t, nil, EtcdOptions{Timeout: 3 * time.Second})
	mustCampaign(t, a, CampaignSpec{ID: "c", Kind: KindGeneric})
	codes := mustGenerate(t, a, "c", 30)
	redeem := func(s *Store, code string) {
		t.Helper()
		var err error
		require.Eventually(t, func() bool {
			_, err = s.Redeem(ctx, RedeemRequest{Code: code, Idempotency: &Idempotency{Scope: "t", Key: code}})
			return ErrorCode(err) != EUnavailable
		}, 30*time.Second, 50*time.Millisecond)
		require.NoError(t, err)
	}
	c.Stop(0)
	for _, code := range codes[:10] {
		redeem(a, code)
	}
	require.NoError(t, c.Restart(0))
	for _, code := range codes[10:20] {
		redeem(b, code)
	}
	c.Stop(1) // members 0 (restarted) and 2 are the quorum now
	for _, code := range codes[20:] {
		redeem(a, code)
	}
	for _, s := range []*Store{a, b} {
		st, err := s.CampaignStats("c")
		require.NoError(t, err)
		require.EqualValues(t, 30, st.Counts.Redeemed)
	}
	recheck(t, b)
}

// Maintenance purges expired holds in transactions any engine takes.
func TestStore_PurgeHolds_ManyAtOnce(t *testing.T) {
	s, clk := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "h", Kind: KindGeneric})
	codes := mustGenerate(t, s, "h", 60)
	for i, code := range codes {
		v, err := s.Validate(RedeemRequest{Code: code, CustomerID: fmt.Sprint("c", i), Hold: Duration(time.Minute)})
		require.NoError(t, err)
		require.True(t, v.Valid)
	}
	count := func() int {
		n := 0
		require.NoError(t, s.view(func(tx kv.Tx) error {
			tx.Scan(bucketHolds, kv.All, func(_, _ []byte) bool { n++; return true })
			return nil
		}))
		return n
	}
	require.Equal(t, 60, count())
	clk.Add(2 * time.Minute)
	require.NoError(t, s.purgeHolds(ctx))
	require.Zero(t, count())
}

// Refusal counts of many campaigns are flushed in transactions any engine
// takes, and survive a restart.
func TestStore_FlushCampaignRejects_Many(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "promo.db")
	s, err := openTest(path, Options{})
	require.NoError(t, err)
	const n = 130 // more (campaign, reason) pairs than one etcd Txn of 128 operations
	for i := range n {
		id := fmt.Sprintf("c%d", i)
		mustCampaign(t, s, CampaignSpec{ID: id, Kind: KindGeneric})
		code := mustGenerate(t, s, id, 1)[0]
		_, err := s.UpdateCampaign(ctx, id, CampaignPatch{Status: ptr(StatusPaused)})
		require.NoError(t, err)
		_, err = s.Redeem(ctx, RedeemRequest{Code: code})
		requireCode(t, err, EPaused)
	}
	require.NoError(t, s.Close()) // flushes them
	s, err = openTest(path, Options{})
	require.NoError(t, err)
	defer s.Close()
	for i := range n {
		st, err := s.CampaignStats(fmt.Sprintf("c%d", i))
		require.NoError(t, err)
		require.EqualValues(t, 1, st.Rejected[EPaused], "campaign c%d", i)
	}
}
