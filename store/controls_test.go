package store

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestStore_Budget(t *testing.T) {
	s, _ := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "b", Benefit: &Benefit{Type: BenefitAmount, Value: 500, Currency: "EUR"},
		Budget: &Budget{Redemptions: 3}})
	codes := mustGenerate(t, s, "b", 10)
	var ids []string
	for _, code := range codes[:3] {
		r, err := s.Redeem(ctx, RedeemRequest{Code: code, OrderAmount: 2000})
		require.NoError(t, err)
		ids = append(ids, r.ID)
	}
	_, err := s.Redeem(ctx, RedeemRequest{Code: codes[3], OrderAmount: 2000})
	requireCode(t, err, EBudgetExhausted)
	require.Contains(t, ErrorMessage(err), "budget of 3 redemptions")
	v, err := s.Validate(RedeemRequest{Code: codes[3], OrderAmount: 2000})
	require.NoError(t, err)
	require.Equal(t, EBudgetExhausted, v.Reason, "validate applies the budget too")

	// A rollback gives the room back.
	_, err = s.Rollback(ctx, ids[0], RollbackRequest{})
	require.NoError(t, err)
	_, err = s.Redeem(ctx, RedeemRequest{Code: codes[3], OrderAmount: 2000})
	require.NoError(t, err)

	// PATCH changes it; null clears it.
	_, err = s.UpdateCampaign(ctx, "b", CampaignPatch{Budget: OptionalBudget{Set: true, Budget: &Budget{Redemptions: 4, Discount: 1800}}})
	require.NoError(t, err)
	_, err = s.Redeem(ctx, RedeemRequest{Code: codes[4], OrderAmount: 2000})
	requireCode(t, err, EBudgetExhausted) // a 4th redemption fits, but 1500 + 500 is past 1800
	st, err := s.CampaignStats("b")
	require.NoError(t, err)
	require.Equal(t, &BudgetUse{Redemptions: 4, Discount: 1800, RedemptionsUsed: 3, DiscountUsed: 1500}, st.Budget)
	_, err = s.UpdateCampaign(ctx, "b", CampaignPatch{Budget: OptionalBudget{Set: true}})
	require.NoError(t, err)
	_, err = s.Redeem(ctx, RedeemRequest{Code: codes[4], OrderAmount: 2000})
	require.NoError(t, err, "no budget any more")
}

func TestStore_Budget_Discount(t *testing.T) {
	s, _ := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "b", Benefit: &Benefit{Type: BenefitAmount, Value: 500, Currency: "EUR"},
		Budget: &Budget{Discount: 1200}})
	codes := mustGenerate(t, s, "b", 5)
	for _, code := range codes[:2] {
		_, err := s.Redeem(ctx, RedeemRequest{Code: code, OrderAmount: 2000})
		require.NoError(t, err)
	}
	_, err := s.Redeem(ctx, RedeemRequest{Code: codes[2], OrderAmount: 2000})
	requireCode(t, err, EBudgetExhausted)
	require.Contains(t, ErrorMessage(err), "2.00 EUR left of its 12.00 EUR discount budget")
	// A smaller order still fits: 200 off a 2.00 EUR order.
	_, err = s.Redeem(ctx, RedeemRequest{Code: codes[2], OrderAmount: 200})
	require.NoError(t, err)
}

func TestStore_Budget_BadInput(t *testing.T) {
	s, _ := testStore(t, Options{})
	for _, tc := range []struct {
		name   string
		spec   CampaignSpec
		field  string
		reason string
	}{
		{"NegativeRedemptions", CampaignSpec{ID: "a", Budget: &Budget{Redemptions: -1}}, "budget.redemptions", "want 0"},
		{"NegativeDiscount", CampaignSpec{ID: "a", Benefit: &Benefit{Type: BenefitAmount, Value: 5, Currency: "EUR"}, Budget: &Budget{Discount: -5}}, "budget.discount", "want 0"},
		{"DiscountWithoutCurrency", CampaignSpec{ID: "a", Budget: &Budget{Discount: 100}}, "budget.discount", "currency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.spec.Benefit == nil {
				tc.spec.Benefit = &Benefit{Type: BenefitPercent, Value: 10}
			}
			_, err := s.CreateCampaign(ctx, tc.spec)
			requireCode(t, err, EInvalid)
			require.Equal(t, tc.field, err.(*Error).Field)
			require.Contains(t, ErrorMessage(err), tc.reason)
		})
	}
	_, err := s.Campaign("a")
	requireCode(t, err, ENotFound)
}

// 64 goroutines race against a budget of 25, 1,000 times over: exactly 25
// succeed each time. Durability is not what this tests, so the disk is not
// synced (the rules run the same).
func TestStore_Budget_RaceExact(t *testing.T) {
	s, _ := testStore(t, Options{NoSync: true})
	mustCampaign(t, s, CampaignSpec{ID: "b", MaxRedemptionsPerCode: ptr(1_000_000), Budget: &Budget{Redemptions: 25}})
	rounds := 1000
	codes := mustGenerate(t, s, "b", rounds)
	for round := 1; round <= rounds; round++ {
		code := codes[round-1] // a code of its own: a code's record lists its redemptions
		if round > 1 {
			_, err := s.UpdateCampaign(ctx, "b", CampaignPatch{Budget: OptionalBudget{Set: true, Budget: &Budget{Redemptions: int64(25 * round)}}})
			require.NoError(t, err)
		}
		var wins, refused atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := 0; g < 64; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := s.Redeem(ctx, RedeemRequest{Code: code})
				switch ErrorCode(err) {
				case "":
					wins.Add(1)
				case EBudgetExhausted:
					refused.Add(1)
				default:
					t.Errorf("round %d: %v", round, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		require.Equal(t, int32(25), wins.Load(), "round %d", round)
		require.Equal(t, int32(39), refused.Load(), "round %d", round)
	}
}

func TestStore_Holds(t *testing.T) {
	s, clk := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "h"})
	codes := mustGenerate(t, s, "h", 3)
	code := codes[0]

	v, err := s.Validate(RedeemRequest{Code: code, CustomerID: "ann", Hold: Duration(15 * time.Minute), Scope: "till-1"})
	require.NoError(t, err)
	require.True(t, v.Valid)
	require.NotNil(t, v.Hold)
	require.Equal(t, clk.Now().Add(15*time.Minute), v.Hold.ExpiresAt)

	// Another customer is refused, by validate and redeem.
	v2, err := s.Validate(RedeemRequest{Code: code, CustomerID: "ben"})
	require.NoError(t, err)
	require.Equal(t, EHeld, v2.Reason)
	_, err = s.Redeem(ctx, RedeemRequest{Code: code, CustomerID: "ben"})
	requireCode(t, err, EHeld)
	_, err = s.Redeem(ctx, RedeemRequest{Code: code})
	requireCode(t, err, EHeld)
	// Asking again renews ann's hold, keeping its id.
	clk.Add(time.Minute)
	v3, err := s.Validate(RedeemRequest{Code: code, CustomerID: "ann", Hold: Duration(15 * time.Minute), Scope: "till-1"})
	require.NoError(t, err)
	require.Equal(t, v.Hold.ID, v3.Hold.ID)

	// The holder redeems with the hold, which ends it.
	r, err := s.Redeem(ctx, RedeemRequest{Code: code, CustomerID: "ann", HoldID: v.Hold.ID})
	require.NoError(t, err)
	require.Equal(t, v.Hold.ID, r.Hold)
	_, err = s.ReleaseHold(ctx, v.Hold.ID, "till-1")
	requireCode(t, err, ENotFound)

	// An expired hold frees itself: no sweep needed.
	v, err = s.Validate(RedeemRequest{Code: codes[1], CustomerID: "ann", Hold: Duration(time.Minute)})
	require.NoError(t, err)
	require.True(t, v.Valid)
	clk.Add(61 * time.Second)
	_, err = s.Redeem(ctx, RedeemRequest{Code: codes[1], CustomerID: "ben"})
	require.NoError(t, err)
	_, err = s.Redeem(ctx, RedeemRequest{Code: codes[1], CustomerID: "ann", HoldID: v.Hold.ID})
	requireCode(t, err, EAlreadyRedeemed)

	// Release frees it; only for the key that placed it (or an admin).
	v, err = s.Validate(RedeemRequest{Code: codes[2], CustomerID: "ann", Hold: Duration(time.Hour), Scope: "till-1"})
	require.NoError(t, err)
	_, err = s.ReleaseHold(ctx, v.Hold.ID, "till-2")
	requireCode(t, err, ENotFound)
	h, err := s.ReleaseHold(ctx, v.Hold.ID, "till-1")
	require.NoError(t, err)
	require.Equal(t, "ann", h.CustomerID)
	_, err = s.Redeem(ctx, RedeemRequest{Code: codes[2], CustomerID: "ben"})
	require.NoError(t, err, "released")
	events, err := s.Events(0, 0)
	require.NoError(t, err)
	var types []string
	for _, e := range events {
		if e.Hold != "" {
			types = append(types, e.Type)
		}
	}
	require.Equal(t, []string{EventHoldPlaced, EventHoldPlaced, EventHoldPlaced, EventHoldPlaced, EventHoldReleased}, types[:5])
}

func TestStore_Holds_SurviveARestart(t *testing.T) {
	path := t.TempDir() + "/promo.db"
	clk := newClock()
	s, err := openTest(path, Options{Now: clk.Now})
	require.NoError(t, err)
	mustCampaign(t, s, CampaignSpec{ID: "h"})
	code := mustGenerate(t, s, "h", 1)[0]
	v, err := s.Validate(RedeemRequest{Code: code, CustomerID: "ann", Hold: Duration(time.Hour)})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	s, err = openTest(path, Options{Now: clk.Now})
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Redeem(ctx, RedeemRequest{Code: code, CustomerID: "ben"})
	requireCode(t, err, EHeld)
	_, err = s.Redeem(ctx, RedeemRequest{Code: code, CustomerID: "ann", HoldID: v.Hold.ID})
	require.NoError(t, err)
}

// A hold counts against the campaign's budget.
func TestStore_Holds_CountAgainstTheBudget(t *testing.T) {
	s, clk := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "b", Budget: &Budget{Redemptions: 2}})
	codes := mustGenerate(t, s, "b", 4)
	for i, c := range codes[:2] {
		v, err := s.Validate(RedeemRequest{Code: c, CustomerID: fmt.Sprint("c", i), Hold: Duration(time.Minute)})
		require.NoError(t, err)
		require.True(t, v.Valid, "%+v", v)
	}
	v, err := s.Validate(RedeemRequest{Code: codes[2], CustomerID: "c2", Hold: Duration(time.Minute)})
	require.NoError(t, err)
	require.Equal(t, EBudgetExhausted, v.Reason, "two holds take the budget")
	_, err = s.Redeem(ctx, RedeemRequest{Code: codes[2], CustomerID: "c2"})
	requireCode(t, err, EBudgetExhausted)
	_, err = s.Redeem(ctx, RedeemRequest{Code: codes[0], CustomerID: "c0"})
	require.NoError(t, err, "a holder redeems within the budget its hold took")
	st, err := s.CampaignStats("b")
	require.NoError(t, err)
	require.Equal(t, int64(1), st.Budget.RedemptionsUsed)
	require.Equal(t, int64(1), st.Budget.RedemptionsHeld)
	clk.Add(2 * time.Minute)
	_, err = s.Redeem(ctx, RedeemRequest{Code: codes[2], CustomerID: "c2"})
	require.NoError(t, err, "the other hold expired")
}

func TestStore_Holds_BadInput(t *testing.T) {
	s, _ := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "h"})
	codes := mustGenerate(t, s, "h", 2)
	for _, tc := range []struct {
		name  string
		req   RedeemRequest
		field string
	}{
		{"TooShort", RedeemRequest{Code: codes[0], CustomerID: "a", Hold: Duration(time.Millisecond)}, "hold"},
		{"TooLong", RedeemRequest{Code: codes[0], CustomerID: "a", Hold: Duration(25 * time.Hour)}, "hold"},
		{"NoCustomer", RedeemRequest{Code: codes[0], Hold: Duration(time.Minute)}, "customer_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Validate(tc.req)
			requireCode(t, err, EInvalid)
			require.Equal(t, tc.field, err.(*Error).Field)
		})
	}
	_, err := s.Redeem(ctx, RedeemRequest{Code: codes[0], Hold: Duration(time.Minute)})
	requireCode(t, err, EInvalid)
	_, err = s.Redeem(ctx, RedeemRequest{Code: codes[0], CustomerID: "a", HoldID: "hd_999"})
	requireCode(t, err, ENotFound)
	require.Equal(t, "hold_id", err.(*Error).Field)
	_, err = s.Redeem(ctx, RedeemRequest{Code: codes[0], CustomerID: "a", HoldID: "nonsense"})
	requireCode(t, err, EInvalid)
	v, err := s.Validate(RedeemRequest{Code: codes[1], CustomerID: "b", Hold: Duration(time.Minute)})
	require.NoError(t, err)
	_, err = s.Redeem(ctx, RedeemRequest{Code: codes[0], CustomerID: "b", HoldID: v.Hold.ID})
	requireCode(t, err, EInvalid) // the hold is for another code
	_, err = s.ReleaseHold(ctx, "hd_12345", "")
	requireCode(t, err, ENotFound)
	_, err = s.ReleaseHold(ctx, "x", "")
	requireCode(t, err, ENotFound)
	// Nothing was redeemed by the refusals.
	c, err := s.GetCode(codes[0])
	require.NoError(t, err)
	require.Equal(t, "available", c.State)
}
