package store

import (
	"bytes"
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

// 64 goroutines race against a budget of 25, 1,000 times over (100 on
// etcd): exactly 25 succeed each time. Durability is not what this tests, so the disk is not
// synced (the rules run the same).
func TestStore_Budget_RaceExact(t *testing.T) {
	s, _ := testStore(t, Options{NoSync: true})
	mustCampaign(t, s, CampaignSpec{ID: "b", MaxRedemptionsPerCode: ptr(1_000_000), Budget: &Budget{Redemptions: 25}})
	rounds := 1000
	if onEtcd() {
		// 64,000 redemptions through etcd take a minute; the rule is the
		// same transaction on every engine, and 100 rounds still race it.
		rounds = 100
	}
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

func TestStore_VoidBatch(t *testing.T) {
	s, _ := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "v"})
	mustCampaign(t, s, CampaignSpec{ID: "other"})
	_, err := s.Generate(ctx, "v", GenerateRequest{Count: 5000}) // b1: three chunks of the index
	require.NoError(t, err)
	b2, err := s.Generate(ctx, "v", GenerateRequest{Count: 50})
	require.NoError(t, err)
	_, err = s.Generate(ctx, "other", GenerateRequest{Count: 5}) // b3, another campaign's
	require.NoError(t, err)
	var inB2 []string
	require.NoError(t, s.EachCode("v", "", func(c Code) error {
		if c.Batch == b2.Batch {
			inB2 = append(inB2, c.Code)
		}
		return nil
	}))
	_, err = s.Redeem(ctx, RedeemRequest{Code: inB2[0]})
	require.NoError(t, err)
	_, err = s.Assign(ctx, "v", AssignRequest{CustomerID: "ann"})
	require.NoError(t, err)

	res, err := s.VoidBatch(ctx, "v", VoidBatchRequest{Batch: b2.Batch, Reason: "leaked on a coupon site"})
	require.NoError(t, err)
	require.Equal(t, 49, res.Voided, "all of b2 but the redeemed code")
	c, err := s.GetCode(inB2[0])
	require.NoError(t, err)
	require.Equal(t, "redeemed", c.State, "a redeemed code stays redeemed")
	_, err = s.Redeem(ctx, RedeemRequest{Code: inB2[1]})
	requireCode(t, err, EVoided)
	camp, err := s.Campaign("v")
	require.NoError(t, err)
	require.Equal(t, int64(49), camp.Counts.Voided)
	require.Equal(t, int64(5000-1), camp.Counts.ByState.Available, "b1 untouched (one code assigned)")

	again, err := s.VoidBatch(ctx, "v", VoidBatchRequest{Batch: b2.Batch})
	require.NoError(t, err)
	require.Equal(t, 0, again.Voided)
	all, err := s.VoidBatch(ctx, "v", VoidBatchRequest{})
	require.NoError(t, err)
	require.Equal(t, 5000, all.Voided, "without a batch: the campaign's unredeemed codes, the assigned one too")
	events, err := s.Events(0, 0)
	require.NoError(t, err)
	var voided []Event
	for _, e := range events {
		if e.Type == EventCodesVoided {
			voided = append(voided, e)
		}
	}
	require.Len(t, voided, 2, "one event per call that voided something")
	require.Equal(t, int64(49), voided[0].Count)
	require.Equal(t, "leaked on a coupon site", voided[0].Reason)
	require.Equal(t, int64(5000), voided[1].Count)

	for _, tc := range []struct{ campaign, batch string }{{"v", "b3"}, {"v", "b99"}, {"v", "nonsense"}} {
		_, err := s.VoidBatch(ctx, tc.campaign, VoidBatchRequest{Batch: tc.batch})
		requireCode(t, err, ENotFound)
		require.Equal(t, "batch", err.(*Error).Field)
	}
	_, err = s.VoidBatch(ctx, "nope", VoidBatchRequest{})
	requireCode(t, err, ENotFound)
	other, err := s.Campaign("other")
	require.NoError(t, err)
	require.Zero(t, other.Counts.Voided)
}

// sync waits until every operation queued before it (such as refusal
// notes) has been committed.
func syncWriter(t *testing.T, s *Store) {
	t.Helper()
	require.NoError(t, s.update(ctx, func(*wtx) error { return nil }))
}

func TestStore_SuspectedLeak(t *testing.T) {
	s, _ := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "w", Kind: KindWelcome})
	codes := mustGenerate(t, s, "w", 3)
	_, err := s.Redeem(ctx, RedeemRequest{Code: codes[0], CustomerID: "first"})
	require.NoError(t, err)
	for i := 0; i < LeakCustomers-1; i++ {
		_, err := s.Redeem(ctx, RedeemRequest{Code: codes[0], CustomerID: fmt.Sprint("c", i)})
		requireCode(t, err, EAlreadyRedeemed)
		v, err := s.Validate(RedeemRequest{Code: codes[0], CustomerID: fmt.Sprint("c", i)}) // the same customer again
		require.NoError(t, err)
		require.Equal(t, EAlreadyRedeemed, v.Reason)
	}
	syncWriter(t, s)
	st, err := s.CampaignStats("w")
	require.NoError(t, err)
	require.Empty(t, st.SuspectedLeaks, "four distinct customers are not yet a leak")
	_, err = s.Redeem(ctx, RedeemRequest{Code: codes[0], CustomerID: "c4"})
	requireCode(t, err, EAlreadyRedeemed)
	_, err = s.Redeem(ctx, RedeemRequest{Code: codes[0], CustomerID: "c5"})
	requireCode(t, err, EAlreadyRedeemed)
	// Guesses of codes that do not exist are never noted.
	for i := 0; i < 20; i++ {
		_, err := s.Redeem(ctx, RedeemRequest{Code: "7K3M-Q9XD-2RTM", CustomerID: fmt.Sprint("g", i)})
		require.Error(t, err)
	}
	syncWriter(t, s)
	st, err = s.CampaignStats("w")
	require.NoError(t, err)
	require.Len(t, st.SuspectedLeaks, 1)
	l := st.SuspectedLeaks[0]
	require.Equal(t, codes[0], l.Code)
	require.Equal(t, LeakCustomers, l.Customers)
	require.Equal(t, int64(2*(LeakCustomers-1)+2), l.Refusals)
	events, err := s.Events(0, 0)
	require.NoError(t, err)
	n := 0
	for _, e := range events {
		if e.Type == EventSuspectedLeak {
			n++
			require.Equal(t, codes[0], e.Code)
		}
	}
	require.Equal(t, 1, n, "flagged once")
}

func TestStore_EraseCustomer(t *testing.T) {
	s, _ := testStore(t, Options{})
	const who = "cust-zq81-ann@example.org"
	mustCampaign(t, s, CampaignSpec{ID: "loyal", Kind: KindLoyalty})
	mustCampaign(t, s, CampaignSpec{ID: "hold"})
	mustGenerate(t, s, "loyal", 10)
	held := mustGenerate(t, s, "hold", 1)[0]
	c1, err := s.Assign(ctx, "loyal", AssignRequest{CustomerID: who, Channel: ChannelApp})
	require.NoError(t, err)
	_, err = s.Redeem(ctx, RedeemRequest{Code: c1.Code, CustomerID: who, OrderAmount: 1000,
		Idempotency: &Idempotency{Scope: "till", Key: "sale-1"}})
	require.NoError(t, err)
	c2, err := s.Assign(ctx, "loyal", AssignRequest{CustomerID: who})
	require.NoError(t, err)
	_, err = s.Validate(RedeemRequest{Code: held, CustomerID: who, Hold: Duration(time.Hour)})
	require.NoError(t, err)
	before, err := s.CampaignStats("loyal")
	require.NoError(t, err)

	res, err := s.EraseCustomer(ctx, who)
	require.NoError(t, err)
	require.Regexp(t, `^erased-[0-9a-f]{12}$`, res.Pseudonym)
	require.Equal(t, ErasureResult{Pseudonym: res.Pseudonym, Codes: 2, Voided: 1, Redemptions: 1, Events: res.Events}, res)
	require.Positive(t, res.Events)

	_, err = s.Customer(who)
	requireCode(t, err, ENotFound)
	view, err := s.Customer(res.Pseudonym)
	require.NoError(t, err)
	require.Len(t, view.Codes, 2)
	require.Len(t, view.Redemptions, 1)
	c, err := s.GetCode(c2.Code)
	require.NoError(t, err)
	require.Equal(t, "voided", c.State, "an unredeemed code is voided")
	_, err = s.Redeem(ctx, RedeemRequest{Code: held, CustomerID: "someone"})
	require.NoError(t, err, "the customer's hold ended")
	after, err := s.CampaignStats("loyal")
	require.NoError(t, err)
	require.Equal(t, before.Counts.Redeemed, after.Counts.Redeemed)
	require.Equal(t, before.Counts.Assigned, after.Counts.Assigned)
	require.Equal(t, before.ByChannel, after.ByChannel)
	require.Equal(t, before.Counts.Voided+1, after.Counts.Voided)

	events, err := s.Events(0, 0)
	require.NoError(t, err)
	for _, e := range events {
		require.NotEqual(t, who, e.CustomerID, "event %d", e.Seq)
	}
	require.Equal(t, EventCustomerErased, events[len(events)-2].Type)
	// The idempotent replay answers with the pseudonym.
	r, err := s.Redeem(ctx, RedeemRequest{Code: c1.Code, CustomerID: who, OrderAmount: 1000,
		Idempotency: &Idempotency{Scope: "till", Key: "sale-1"}})
	require.NoError(t, err)
	require.Equal(t, res.Pseudonym, r.CustomerID)

	// A backup taken afterwards holds no trace of the id.
	var b bytes.Buffer
	_, err = s.Backup(&b)
	require.NoError(t, err)
	require.NotContains(t, b.String(), who)

	_, err = s.EraseCustomer(ctx, who)
	requireCode(t, err, ENotFound)
	_, err = s.EraseCustomer(ctx, "")
	requireCode(t, err, EInvalid)
}
