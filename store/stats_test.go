package store

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"promo/store/kv"
	"promo/store/kv/walkv"
)

func TestStore_CampaignStats(t *testing.T) {
	s, clk := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "c", Benefit: &Benefit{Type: BenefitPercent, Value: 10}})
	mustGenerate(t, s, "c", 10)
	a, err := s.Assign(ctx, "c", AssignRequest{CustomerID: "ann", Channel: ChannelApp})
	require.NoError(t, err)
	b, err := s.Assign(ctx, "c", AssignRequest{CustomerID: "ben", Channel: ChannelEmail})
	require.NoError(t, err)
	_, err = s.Redeem(ctx, RedeemRequest{Code: a.Code, CustomerID: "ann", OrderAmount: 1000, Terminal: "till-1"})
	require.NoError(t, err)
	clk.Add(24 * time.Hour)
	r, err := s.Redeem(ctx, RedeemRequest{Code: b.Code, CustomerID: "ben", OrderAmount: 3000, Terminal: "till-2"})
	require.NoError(t, err)
	_, err = s.Rollback(ctx, r.ID, RollbackRequest{})
	require.NoError(t, err)
	_, err = s.Redeem(ctx, RedeemRequest{Code: a.Code, CustomerID: "ann"})
	requireCode(t, err, EAlreadyRedeemed)
	v, err := s.Validate(RedeemRequest{Code: a.Code})
	require.NoError(t, err)
	require.Equal(t, EAlreadyRedeemed, v.Reason)

	st, err := s.CampaignStats("c")
	require.NoError(t, err)
	require.Equal(t, int64(1), st.Counts.Redeemed)
	require.Equal(t, int64(1), st.Counts.RolledBack)
	require.Equal(t, int64(100), st.Counts.DiscountTotal)
	require.InDelta(t, 0.5, *st.RedemptionRate, 1e-9)
	require.Equal(t, []DayStats{
		{Date: "2026-11-21", Assigned: 2, Redeemed: 1, Discount: 100, Orders: 1000},
		{Date: "2026-11-22", RolledBack: 1},
	}, st.Daily)
	require.Equal(t, []DimStats{
		{Name: "app", Assigned: 1, Redeemed: 1, Discount: 100, Orders: 1000},
		{Name: "email", Assigned: 1, RolledBack: 1},
	}, st.ByChannel)
	require.Equal(t, []DimStats{
		{Name: "till-1", Redeemed: 1, Discount: 100, Orders: 1000},
		{Name: "till-2", RolledBack: 1},
	}, st.ByTerminal)
	require.Equal(t, map[string]int64{EAlreadyRedeemed: 2}, st.Rejected)
	// Refusal counts survive a flush and a restart.
	require.NoError(t, s.flushCampaignRejects(func(fn func(*wtx) error) error { return s.update(ctx, fn) }))
	st, err = s.CampaignStats("c")
	require.NoError(t, err)
	require.Equal(t, map[string]int64{EAlreadyRedeemed: 2}, st.Rejected)

	ov, err := s.Stats()
	require.NoError(t, err)
	require.Len(t, ov.Campaigns, 1)
	require.Equal(t, int64(10), ov.Totals.Codes)
	require.Empty(t, ov.Campaigns[0].Daily, "the overview leaves out daily series")
}

func TestStore_Stats_TopReferrers(t *testing.T) {
	s, _ := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "thanks"})
	mustCampaign(t, s, CampaignSpec{ID: "ref", Kind: KindReferral, Referral: &Referral{RewardCampaign: "thanks"}})
	for i, n := range []int{1, 3, 2} {
		c, err := s.Assign(ctx, "ref", AssignRequest{CustomerID: fmt.Sprintf("referrer-%d", i)})
		require.NoError(t, err)
		for j := 0; j < n; j++ {
			_, err := s.Redeem(ctx, RedeemRequest{Code: c.Code, CustomerID: fmt.Sprintf("friend-%d-%d", i, j)})
			require.NoError(t, err)
		}
	}
	st, err := s.CampaignStats("ref")
	require.NoError(t, err)
	require.Len(t, st.TopReferrers, 3)
	require.Equal(t, "referrer-1", st.TopReferrers[0].CustomerID)
	require.Equal(t, int64(3), st.TopReferrers[0].Redemptions)
	require.Equal(t, "referrer-0", st.TopReferrers[2].CustomerID)

	cv, err := s.Customer("referrer-1")
	require.NoError(t, err)
	require.Len(t, cv.Codes, 1)
	require.Len(t, cv.Rewards, 3)
	cv, err = s.Customer("friend-1-0")
	require.NoError(t, err)
	require.Len(t, cv.Redemptions, 1)
	_, err = s.Customer("stranger")
	requireCode(t, err, ENotFound)
}

func TestStore_AssignMany(t *testing.T) {
	s, _ := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "mail", Kind: KindWelcome})
	var in strings.Builder
	in.WriteString("customer_id,email,name\n")
	for i := 0; i < 1234; i++ {
		fmt.Fprintf(&in, "c%d,c%d@example.com,Customer %d\n", i, i, i)
	}
	rows, err := ReadAssignRows(strings.NewReader(in.String()), ChannelMail)
	require.NoError(t, err)
	require.Len(t, rows, 1234)
	var first []AssignRow
	require.NoError(t, s.AssignMany(ctx, "mail", rows, func(r AssignRow) error { first = append(first, r); return nil }))
	require.Len(t, first, 1234)
	require.Equal(t, "c7@example.com", first[7].Email)
	require.Equal(t, ChannelMail, first[7].Channel)
	var again []AssignRow
	require.NoError(t, s.AssignMany(ctx, "mail", rows, func(r AssignRow) error { again = append(again, r); return nil }))
	require.Equal(t, first, again, "re-running the same file returns the same codes")
	c, _ := s.Campaign("mail")
	require.Equal(t, int64(1234), c.Counts.Assigned)

	_, err = ReadAssignRows(strings.NewReader("customer_id,channel\nok,app\nbad,pigeon\n\"a\nb\",email\n"), "")
	requireCode(t, err, EInvalid)
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Len(t, e.Details, 2)
	rows, err = ReadAssignRows(strings.NewReader("ann\nben\n"), "")
	require.NoError(t, err)
	require.Equal(t, []AssignRow{{CustomerID: "ann", Channel: ChannelEmail}, {CustomerID: "ben", Channel: ChannelEmail}}, rows)
	_, err = ReadAssignRows(strings.NewReader("a,b\n"), "")
	requireCode(t, err, EInvalid)
}

// The rates mean the same for every kind of campaign: UseRate is uses in
// force over the uses the codes allow, AssignedUseRate the assigned codes
// with a use over the codes ever assigned; neither passes 1, and each is
// null only when it has nothing to count. RedemptionRate (kept for
// integrators) passes 1 for a referral code used twice.
func TestStore_CampaignStats_RatesForEveryKind(t *testing.T) {
	s, _ := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "thanks"})
	mustCampaign(t, s, CampaignSpec{ID: "ref", Kind: KindReferral, Referral: &Referral{RewardCampaign: "thanks"}})
	ref, err := s.Assign(ctx, "ref", AssignRequest{CustomerID: "ann"})
	require.NoError(t, err)
	var last Redemption
	for _, friend := range []string{"ben", "cat"} {
		last, err = s.Redeem(ctx, RedeemRequest{Code: ref.Code, CustomerID: friend})
		require.NoError(t, err)
	}
	st, err := s.CampaignStats("ref")
	require.NoError(t, err)
	require.InDelta(t, 2.0, *st.RedemptionRate, 1e-9)
	require.Equal(t, int64(10), st.UsesAvailable, "one code of 10 uses")
	require.InDelta(t, 0.2, *st.UseRate, 1e-9)
	require.InDelta(t, 1.0, *st.AssignedUseRate, 1e-9)
	require.Equal(t, int64(1), st.Counts.EverAssigned)
	require.Equal(t, int64(1), st.Counts.AssignedNow, "a referral code with uses left stays assigned")
	require.Equal(t, int64(1), st.Counts.AssignedUsed)

	// Printed codes, never assigned: only the use rate has a meaning.
	mustCampaign(t, s, CampaignSpec{ID: "flyer", Benefit: &Benefit{Type: BenefitAmount, Value: 500, Currency: "EUR"}})
	codes := mustGenerate(t, s, "flyer", 4)
	_, err = s.Redeem(ctx, RedeemRequest{Code: codes[0], OrderAmount: 2000, Currency: "EUR"})
	require.NoError(t, err)
	st, err = s.CampaignStats("flyer")
	require.NoError(t, err)
	require.Nil(t, st.RedemptionRate)
	require.Nil(t, st.AssignedUseRate)
	require.InDelta(t, 0.25, *st.UseRate, 1e-9)
	require.Equal(t, "EUR", st.Currency)

	// An assigned one-use code: used, then rolled back. assigned_now is
	// the state now, ever_assigned what was handed out.
	mustCampaign(t, s, CampaignSpec{ID: "welcome", Kind: KindWelcome})
	w, err := s.Assign(ctx, "welcome", AssignRequest{CustomerID: "dan"})
	require.NoError(t, err)
	r, err := s.Redeem(ctx, RedeemRequest{Code: w.Code, CustomerID: "dan"})
	require.NoError(t, err)
	st, err = s.CampaignStats("welcome")
	require.NoError(t, err)
	require.Equal(t, int64(1), st.Counts.EverAssigned)
	require.Equal(t, int64(0), st.Counts.AssignedNow, "redeemed, so no longer in state assigned")
	require.InDelta(t, 1.0, *st.AssignedUseRate, 1e-9)
	_, err = s.Rollback(ctx, r.ID, RollbackRequest{})
	require.NoError(t, err)
	_, err = s.Rollback(ctx, last.ID, RollbackRequest{})
	require.NoError(t, err)
	st, err = s.CampaignStats("welcome")
	require.NoError(t, err)
	require.Equal(t, int64(1), st.Counts.AssignedNow)
	require.InDelta(t, 0.0, *st.AssignedUseRate, 1e-9)
	st, err = s.CampaignStats("ref")
	require.NoError(t, err)
	require.Equal(t, int64(1), st.Counts.AssignedUsed, "one of its two uses is still in force")

	// The overview's money is per currency, the currency-less last.
	ov, err := s.Stats()
	require.NoError(t, err)
	require.Equal(t, []CurrencyTotals{
		{Currency: "EUR", Campaigns: 1, Redeemed: 1, DiscountTotal: 500, OrderTotal: 2000},
		{Currency: "", Campaigns: 3, Redeemed: 1},
	}, ov.TotalsByCurrency)
	require.Equal(t, int64(1), ov.Totals.AssignedUsed, "the referral code; the welcome code was rolled back")
}

// A file written before promo counted assigned_used gets the counter from
// its codes once, when it is opened; Check compares it with a recount.
func TestStore_Open_CountsAssignedUsedOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "promo.db")
	s, err := openTest(path, Options{})
	require.NoError(t, err)
	mustCampaign(t, s, CampaignSpec{ID: "welcome", Kind: KindWelcome})
	w, err := s.Assign(ctx, "welcome", AssignRequest{CustomerID: "dan"})
	require.NoError(t, err)
	_, err = s.Redeem(ctx, RedeemRequest{Code: w.Code, CustomerID: "dan"})
	require.NoError(t, err)
	camp, err := s.Campaign("welcome")
	require.NoError(t, err)
	// Make it an older file: no marker, no counter.
	require.NoError(t, s.db.Update(func(tx kv.RwTx) error {
		tx.Delete(bucketMeta, metaUsedAssigned)
		key := counterKey(camp.Num, dimTotal, nil)
		zero := func(b kv.Bucket, k []byte) {
			vec := decodeVec(tx.Get(b, k), nCounters)
			vec[cUsedAssigned] = 0
			tx.Put(b, k, encodeVec(vec))
		}
		zero(bucketCounters, key)
		var shards [][]byte // on a cluster, the shards' deltas too
		tx.Scan(bucketCounterShards, kv.Prefix(key), func(k, _ []byte) bool {
			shards = append(shards, bytes.Clone(k))
			return true
		})
		for _, k := range shards {
			zero(bucketCounterShards, k)
		}
		return nil
	}))
	findings, err := s.Check(ctx)
	require.NoError(t, err)
	require.Contains(t, strings.Join(findings, "\n"), "counter assigned_used is 0, a recount gives 1")
	require.NoError(t, s.Close())

	s, err = openTest(path, Options{})
	require.NoError(t, err)
	defer s.Close()
	st, err := s.CampaignStats("welcome")
	require.NoError(t, err)
	require.Equal(t, int64(1), st.Counts.AssignedUsed)
	findings, err = s.Check(ctx)
	require.NoError(t, err)
	require.Empty(t, findings)
}

// LogStats shows the writes the log holds ahead of the file as they are;
// Storage checkpoints first, so that the file's figures count them.
func TestStore_LogStatsSeeTheWritesAheadOfTheFile(t *testing.T) {
	if *engineFlag != "wal" {
		t.Skip("only the log engine holds writes ahead of the file")
	}
	s, _ := testStore(t, Options{Log: walkv.Options{Interval: time.Hour, MaxOps: 1 << 30}})
	mustCampaign(t, s, CampaignSpec{ID: "c"})
	codes := mustGenerate(t, s, "c", 5)
	for _, code := range codes {
		_, err := s.Redeem(ctx, RedeemRequest{Code: code})
		require.NoError(t, err)
	}
	l := s.LogStats()
	require.NotNil(t, l)
	require.Greater(t, l.LastLSN, l.AppliedLSN, "no checkpoint came since the redemptions")
	require.Greater(t, l.PendingBytes, int64(0))

	l = s.Storage().Log
	require.Equal(t, l.LastLSN, l.AppliedLSN, "Storage checkpoints first")
	require.Zero(t, s.LogStats().PendingBytes)
}
