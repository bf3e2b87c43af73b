package store

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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
