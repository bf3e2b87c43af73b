package store

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"promo/store/kv"
	"promo/store/kv/etcdkv/etcdtest"
)

// fillEveryKind gives a store a record of every kind: campaigns (one
// referral with its reward campaign), generated and imported codes,
// assignments, redemptions and a rollback, a hold, a voided code, keys,
// a webhook, an erased customer, idempotency records and refusal counts.
func fillEveryKind(t *testing.T, s *Store) {
	t.Helper()
	mustCampaign(t, s, CampaignSpec{ID: "gift", Kind: KindGeneric})
	mustCampaign(t, s, CampaignSpec{ID: "ref", Kind: KindReferral, Referral: &Referral{RewardCampaign: "gift"}})
	codes := mustGenerate(t, s, "gift", 150)
	_, err := s.Import(ctx, "gift", strings.NewReader("OLD-CODE-1\nOLD-CODE-2\n"), ImportOptions{})
	require.NoError(t, err)
	ref, err := s.Assign(ctx, "ref", AssignRequest{CustomerID: "ann", Channel: "email"})
	require.NoError(t, err)
	_, err = s.Redeem(ctx, RedeemRequest{Code: ref.Code, CustomerID: "bob", OrderAmount: 5000, Currency: "EUR",
		Idempotency: &Idempotency{Scope: "t", Key: "k1"}})
	require.NoError(t, err)
	r, err := s.Redeem(ctx, RedeemRequest{Code: codes[0], CustomerID: "cy", OrderAmount: 2000, Terminal: "till-1"})
	require.NoError(t, err)
	_, err = s.Rollback(ctx, r.ID, RollbackRequest{Reason: "returned"})
	require.NoError(t, err)
	_, err = s.Validate(RedeemRequest{Code: codes[1], CustomerID: "dee", Hold: Duration(time.Hour)})
	require.NoError(t, err)
	_, err = s.Void(ctx, codes[2], "leaked")
	require.NoError(t, err)
	_, _, err = s.CreateKey(ctx, "till", RolePOS)
	require.NoError(t, err)
	_, _, err = s.CreateWebhook(ctx, WebhookSpec{URL: "https://crm.example/hook", Events: []string{EventCodeRedeemed}})
	require.NoError(t, err)
	_, err = s.Assign(ctx, "gift", AssignRequest{CustomerID: "eve"})
	require.NoError(t, err)
	_, err = s.EraseCustomer(ctx, "eve")
	require.NoError(t, err)
	_, err = s.Redeem(ctx, RedeemRequest{Code: codes[2]})
	requireCode(t, err, EVoided)
}

// dump returns every key of every bucket, but the filter's mark (a file's
// tie to its filter file).
func dump(t *testing.T, e kv.Engine) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, e.View(func(tx kv.Tx) error {
		for _, b := range allBuckets {
			tx.Scan(b, kv.All, func(k, v []byte) bool {
				if b == bucketMeta && (bytes.Equal(k, metaFilterMark) || bytes.Equal(k, metaCodesRev)) {
					return true
				}
				out[string(b)+"/"+string(k)] = string(v)
				return true
			})
		}
		return nil
	}))
	return out
}

func TestMigrateToEtcd_AndBackupRoundTrip(t *testing.T) {
	c := etcdtest.Start(t, etcdtest.Options{Members: 1}) // etcd's default limits
	dir := t.TempDir()
	src, err := Open(filepath.Join(dir, "promo.db"), Options{})
	require.NoError(t, err)
	fillEveryKind(t, src)
	require.NoError(t, src.Close()) // flushes what it keeps in memory
	src, err = Open(filepath.Join(dir, "promo.db"), Options{})
	require.NoError(t, err)
	defer src.Close()
	want := dump(t, src.db)

	eo := EtcdOptions{Endpoints: c.Endpoints(), Prefix: "/shop/"}
	res, err := src.MigrateToEtcd(ctx, eo)
	require.NoError(t, err)
	require.EqualValues(t, len(want), res.Keys)
	require.Greater(t, res.Transactions, int64(1), "more keys than one Txn of a default etcd takes")

	// A second migration into the same prefix is refused, and writes nothing.
	_, err = src.MigrateToEtcd(ctx, eo)
	requireCode(t, err, EConflict)

	st, err := OpenEtcd(context.Background(), eo, Options{})
	require.NoError(t, err)
	defer st.Close()
	recheck(t, st)
	require.Equal(t, want, dump(t, st.db), "the cluster holds exactly the file's state")
	a, err := src.CampaignStats("gift")
	require.NoError(t, err)
	b, err := st.CampaignStats("gift")
	require.NoError(t, err)
	require.Equal(t, a.Counts, b.Counts)

	// And back: a backup of the cluster is a standalone bbolt file with the
	// same state.
	bk := filepath.Join(dir, "back.db")
	require.NoError(t, st.BackupFile(bk))
	back, err := Open(bk, Options{NoLog: true})
	require.NoError(t, err)
	defer back.Close()
	recheck(t, back)
	require.Equal(t, want, dump(t, back.db))
	_, err = os.Stat(LogPath(bk))
	require.True(t, os.IsNotExist(err), "a backup needs no log")
}
