package store

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"promo/store/kv"
	"promo/store/kv/etcdkv"
	"promo/store/kv/etcdkv/etcdtest"
)

// Two nodes redeem and roll back at once, each under its own shard: the
// counters are the sum of both shards and equal a recount, the ids are
// each node's own, and the event log numbers every change once, each
// rollback after the redemption it undoes.
func TestCluster_NodesWriteTheirOwnShards(t *testing.T) {
	_, a, b := twoNodes(t, nil, EtcdOptions{})
	require.NotZero(t, a.shardOf())
	require.NotEqual(t, a.shardOf(), b.shardOf(), "two live nodes claim two shards")
	mustCampaign(t, a, CampaignSpec{ID: "c", Kind: KindGeneric})
	codes := mustGenerate(t, a, "c", 60)

	var mu sync.Mutex
	ids := map[string]*Store{} // redemption → the node that made it
	var wg sync.WaitGroup
	for i, code := range codes {
		node, other := a, b
		if i%2 == 1 {
			node, other = b, a
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := node.Redeem(ctx, RedeemRequest{Code: code, OrderAmount: 1000})
			require.NoError(t, err)
			mu.Lock()
			ids[r.ID] = node
			mu.Unlock()
			if i%3 == 0 { // undone through the other node
				_, err := other.Rollback(ctx, r.ID, RollbackRequest{Reason: "returned"})
				require.NoError(t, err)
			}
		}()
	}
	wg.Wait()

	for id, node := range ids {
		n, ok := parseRedemptionName(id)
		require.True(t, ok)
		require.Equal(t, uint64(node.shardOf()), n%idStride, "%s was made under its node's shard", id)
	}
	st, err := b.CampaignStats("c")
	require.NoError(t, err)
	require.Equal(t, int64(40), st.Counts.Redeemed)
	require.Equal(t, int64(20), st.Counts.RolledBack)
	require.Equal(t, int64(40*100), st.Counts.DiscountTotal)
	shards := map[byte]bool{}
	require.NoError(t, a.db.View(func(tx kv.Tx) error {
		tx.Scan(bucketCounterShards, kv.All, func(k, _ []byte) bool {
			shards[k[len(k)-1]] = true
			return true
		})
		return nil
	}))
	require.Equal(t, map[byte]bool{a.shardOf(): true, b.shardOf(): true}, shards)

	evs, err := a.Events(0, 0)
	require.NoError(t, err)
	redeemedAt := map[string]uint64{}
	rolledBack := 0
	for i, e := range evs {
		require.Equal(t, uint64(i+1), e.Seq, "gap-free")
		switch e.Type {
		case EventCodeRedeemed:
			require.NotContains(t, redeemedAt, e.Redemption, "one event per redemption")
			redeemedAt[e.Redemption] = e.Seq
		case EventRolledBack:
			require.Contains(t, redeemedAt, e.Redemption, "a rollback comes after its redemption")
			rolledBack++
		}
	}
	require.Len(t, redeemedAt, 60)
	require.Equal(t, 20, rolledBack)
	recheck(t, a)
	recheck(t, b)
}

// A backup taken while events wait to be numbered holds them, numbered in
// the order they committed, and the file goes on from every id the
// cluster used.
func TestCluster_BackupNumbersPendingEvents(t *testing.T) {
	c := etcdtest.Start(t, etcdtest.Options{})
	eo := EtcdOptions{Endpoints: c.Endpoints(), Prefix: "/backup-pending/"}
	a, err := OpenEtcd(context.Background(), eo, Options{})
	require.NoError(t, err)
	defer a.Close()
	mustCampaign(t, a, CampaignSpec{ID: "c", Kind: KindGeneric})
	codes := mustGenerate(t, a, "c", 3)
	r, err := a.Redeem(ctx, RedeemRequest{Code: codes[0]})
	require.NoError(t, err)
	last, err := a.LastEventSeq()
	require.NoError(t, err)
	id, _ := parseRedemptionName(r.ID)
	require.Equal(t, uint64(a.shardOf()), id%idStride, "the shard's first id")

	// Events left pending by nodes that stopped before they numbered
	// them: written in the order shard 9, then shard 2.
	raw, err := etcdkv.Open(ctx, eo)
	require.NoError(t, err)
	defer raw.Close()
	for i, shard := range []byte{9, 2} {
		e := Event{Type: EventKeyCreated, Key: []string{"first", "second"}[i], Role: "pos"}
		require.NoError(t, raw.Update(func(tx kv.RwTx) error {
			tx.Put(bucketEventsPending, append([]byte{shard}, seqKey(1)...), e.appendJSON(nil))
			return nil
		}))
	}
	ro, err := OpenEtcd(context.Background(), eo, Options{ReadOnly: true}) // numbers nothing
	require.NoError(t, err)
	defer ro.Close()
	path := filepath.Join(t.TempDir(), "backup.db")
	require.NoError(t, ro.BackupFile(path))

	f, err := Open(path, Options{})
	require.NoError(t, err)
	defer f.Close()
	evs, err := f.Events(last, 0)
	require.NoError(t, err)
	require.Len(t, evs, 2)
	require.Equal(t, []string{"first", "second"}, []string{evs[0].Key, evs[1].Key})
	require.Equal(t, []uint64{last + 1, last + 2}, []uint64{evs[0].Seq, evs[1].Seq})
	recheck(t, f)
	r2, err := f.Redeem(ctx, RedeemRequest{Code: codes[1]})
	require.NoError(t, err)
	require.Equal(t, redemptionName(id+1), r2.ID, "the file's ids go on past the cluster's")
	require.NoError(t, f.db.View(func(tx kv.Tx) error {
		require.Nil(t, tx.Get(bucketShards, shardClaimKey(a.shardOf())), "claims are not data")
		return nil
	}))
}

// A store claims a shard no live store holds, takes over a lapsed claim,
// and numbers what it appended before it closes; a webhook made right
// after a redemption through another node starts after its event.
func TestCluster_ShardClaimsAndPendingEvents(t *testing.T) {
	c := etcdtest.Start(t, etcdtest.Options{})
	eo := EtcdOptions{Endpoints: c.Endpoints(), Prefix: "/claims/"}
	raw, err := etcdkv.Open(ctx, eo)
	require.NoError(t, err)
	defer raw.Close()
	claim := func(n byte, until time.Time) {
		v, err := json.Marshal(leaseRec{Holder: "other", Until: until.UnixMilli()})
		require.NoError(t, err)
		require.NoError(t, raw.Update(func(tx kv.RwTx) error {
			tx.Put(bucketShards, shardClaimKey(n), v)
			return nil
		}))
	}
	for n := byte(1); n <= maxShard; n++ {
		if n != 17 {
			claim(n, time.Now().Add(time.Hour))
		}
	}
	a, err := OpenEtcd(context.Background(), eo, Options{})
	require.NoError(t, err)
	require.Equal(t, byte(17), a.shardOf(), "the one shard nobody holds")
	claim(40, time.Now().Add(-time.Second)) // lapsed
	b, err := OpenEtcd(context.Background(), eo, Options{})
	require.NoError(t, err)
	defer b.Close()
	require.Equal(t, byte(40), b.shardOf(), "a lapsed claim")

	mustCampaign(t, a, CampaignSpec{ID: "c", Kind: KindGeneric})
	codes := mustGenerate(t, a, "c", 2)
	_, err = a.Redeem(ctx, RedeemRequest{Code: codes[0]})
	require.NoError(t, err)
	wh, _, err := b.CreateWebhook(ctx, WebhookSpec{URL: "https://crm.example/hook", Events: []string{"*"}})
	require.NoError(t, err)
	_, err = a.Redeem(ctx, RedeemRequest{Code: codes[1]})
	require.NoError(t, err)
	require.NoError(t, a.Close()) // before its background numbered the last one
	require.NoError(t, raw.View(func(tx kv.Tx) error {
		n := 0
		tx.Scan(bucketEventsPending, kv.All, func(_, _ []byte) bool { n++; return true })
		require.Zero(t, n, "a closed store leaves nothing pending")
		require.Equal(t, uint64(4), readSeq(tx, seqEvents), "campaign, codes, two redemptions")
		return nil
	}))
	require.Equal(t, uint64(3), wh.Delivered, "the webhook starts after the redemption made before it")
}
