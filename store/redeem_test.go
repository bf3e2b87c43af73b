package store

import (
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"promo/gen"
	"promo/store/kv"
)

func TestDiscount(t *testing.T) {
	for _, tc := range []struct {
		b      Benefit
		amount int64
		want   int64
	}{
		{Benefit{Type: BenefitPercent, Value: 10}, 1999, 200}, // 199.9 rounds half up to 200
		{Benefit{Type: BenefitPercent, Value: 10}, 1994, 199}, // 199.4 rounds down
		{Benefit{Type: BenefitPercent, Value: 15}, 1010, 152}, // 151.5 rounds half up
		{Benefit{Type: BenefitPercent, Value: 100}, 1234, 1234},
		{Benefit{Type: BenefitPercent, Value: 10}, 0, 0},
		{Benefit{Type: BenefitAmount, Value: 500, Currency: "EUR"}, 2000, 500},
		{Benefit{Type: BenefitAmount, Value: 500, Currency: "EUR"}, 300, 300}, // never more than the order
		{Benefit{Type: BenefitAmount, Value: 500, Currency: "EUR"}, 0, 500},   // no amount given: the full value
		{Benefit{Type: BenefitFreeShipping}, 5000, 0},
		{Benefit{Type: BenefitCustom, Text: "a mug"}, 5000, 0},
	} {
		require.Equal(t, tc.want, Discount(tc.b, tc.amount), "%+v on %d", tc.b, tc.amount)
	}
}

// TestStore_Redeem_Rules runs every rule once, each against a fresh code.
func TestStore_Redeem_Rules(t *testing.T) {
	s, clk := testStore(t, Options{})
	now := clk.Now()
	mustCampaign(t, s, CampaignSpec{ID: "generic", MinOrder: 2000, Benefit: &Benefit{Type: BenefitAmount, Value: 500, Currency: "EUR"}})
	mustCampaign(t, s, CampaignSpec{ID: "welcome", Kind: KindWelcome})
	mustCampaign(t, s, CampaignSpec{ID: "later", StartsAt: ptr(now.Add(100 * time.Hour))})
	mustCampaign(t, s, CampaignSpec{ID: "over", StartsAt: ptr(now.Add(-2 * time.Hour)), ExpiresAt: ptr(now.Add(time.Hour))})
	mustCampaign(t, s, CampaignSpec{ID: "cart", Kind: KindCartRecovery, ValidFor: Duration(48 * time.Hour)})
	mustCampaign(t, s, CampaignSpec{ID: "paused"})
	mustCampaign(t, s, CampaignSpec{ID: "multi", MaxRedemptionsPerCode: ptr(2)})
	for _, id := range []string{"generic", "welcome", "later", "over", "cart", "paused", "multi"} {
		mustGenerate(t, s, id, 20)
	}
	assign := func(campaign, customer string) string {
		c, err := s.Assign(ctx, campaign, AssignRequest{CustomerID: customer})
		require.NoError(t, err)
		return c.Code
	}
	free := func(campaign string) string {
		page, err := s.Codes(campaign, CodeQuery{State: "available", Limit: 1})
		require.NoError(t, err)
		return page.Codes[0].Code
	}
	// Codes handed out before the clock moves.
	cartCode := assign("cart", "carol")
	overCode := free("over")
	welcomeBob := assign("welcome", "bob")
	bobsOther := assign("welcome", "bobby")
	welcomeBob2 := free("welcome")
	voided := free("generic")
	_, err := s.Void(ctx, voided, "lost")
	require.NoError(t, err)
	pausedCode := free("paused")
	_, err = s.UpdateCampaign(ctx, "paused", CampaignPatch{Status: ptr(StatusPaused)})
	require.NoError(t, err)

	redeemed := free("generic")
	_, err = s.Redeem(ctx, RedeemRequest{Code: redeemed, OrderAmount: 5000})
	require.NoError(t, err)
	multi := free("multi")
	for i := 0; i < 2; i++ {
		_, err = s.Redeem(ctx, RedeemRequest{Code: multi})
		require.NoError(t, err)
	}
	_, err = s.Redeem(ctx, RedeemRequest{Code: welcomeBob, CustomerID: "bob"})
	require.NoError(t, err)

	clk.Add(49 * time.Hour) // cart code and "over" campaign expire
	g, err := gen.NewGenerator(gen.DefaultFormat(), nil)
	require.NoError(t, err)
	absent, err := g.AppendKey(nil, 0, 0)
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		req  RedeemRequest
		code string
	}{
		{"NotFound", RedeemRequest{Code: string(absent)}, ENotFound},
		{"Typo", RedeemRequest{Code: redeemed[:len(redeemed)-1] + flipSymbol(redeemed[len(redeemed)-1])}, ETypo},
		{"Malformed", RedeemRequest{Code: "¿?"}, ENotFound},
		{"Voided", RedeemRequest{Code: voided, OrderAmount: 5000}, EVoided},
		{"Paused", RedeemRequest{Code: pausedCode}, EPaused},
		{"NotStarted", RedeemRequest{Code: free("later")}, ENotStarted},
		{"CampaignExpired", RedeemRequest{Code: overCode}, EExpired},
		{"ValidForExpired", RedeemRequest{Code: cartCode, CustomerID: "carol"}, EExpired},
		{"AlreadyRedeemed", RedeemRequest{Code: redeemed, OrderAmount: 5000}, EAlreadyRedeemed},
		{"MultiUseExhausted", RedeemRequest{Code: multi}, EAlreadyRedeemed},
		{"BoundNoCustomer", RedeemRequest{Code: bobsOther}, EWrongCustomer},
		{"BoundWrongCustomer", RedeemRequest{Code: bobsOther, CustomerID: "mallory"}, EWrongCustomer},
		{"OnePerCustomer", RedeemRequest{Code: welcomeBob2, CustomerID: "bob"}, ECustomerLimit},
		{"MinOrder", RedeemRequest{Code: free("generic"), OrderAmount: 1999}, EMinOrder},
		{"MinOrderNoAmount", RedeemRequest{Code: free("generic")}, EMinOrder},
		{"BadCurrency", RedeemRequest{Code: free("generic"), OrderAmount: 5000, Currency: "E"}, EInvalid},
		{"NegativeAmount", RedeemRequest{Code: free("generic"), OrderAmount: -1}, EInvalid},
		{"EmptyCode", RedeemRequest{Code: "  "}, EInvalid},
		{"ControlCharCustomer", RedeemRequest{Code: free("generic"), CustomerID: "a\nb"}, EInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := s.Validate(tc.req)
			if tc.code == EInvalid { // a malformed request, not a refusal
				requireCode(t, err, EInvalid)
			} else {
				require.NoError(t, err)
				require.False(t, v.Valid)
				require.Equal(t, tc.code, v.Reason, v.Message)
				require.NotEmpty(t, v.Message)
			}
			_, err = s.Redeem(ctx, tc.req)
			requireCode(t, err, tc.code)
		})
	}
	// A well-formed request the campaign refuses: a validation, not an error.
	v, err := s.Validate(RedeemRequest{Code: free("generic"), OrderAmount: 5000, Currency: "USD"})
	require.NoError(t, err)
	require.Equal(t, EInvalid, v.Reason)
	require.Contains(t, v.Message, "the order is in USD but the campaign is in EUR")
	// And the happy paths.
	v, err = s.Validate(RedeemRequest{Code: bobsOther, CustomerID: "bobby", OrderAmount: 3000})
	require.NoError(t, err)
	require.True(t, v.Valid)
	ok := free("generic")
	v, err = s.Validate(RedeemRequest{Code: ok, OrderAmount: 3000, Currency: "eur"})
	require.NoError(t, err)
	require.True(t, v.Valid)
	require.Equal(t, int64(500), v.Discount)
	require.Equal(t, "EUR", v.Currency)
	r, err := s.Redeem(ctx, RedeemRequest{Code: ok, OrderAmount: 3000, Currency: "EUR", OrderID: "o-1", Terminal: "till-1"})
	require.NoError(t, err)
	require.Equal(t, int64(500), r.Discount)
	require.Equal(t, "generic", r.Campaign)
	require.Equal(t, "till-1", r.Terminal)
}

// 64 goroutines race to redeem one code, 1,000 times over: exactly one
// wins each time, and every other attempt is already_redeemed.
func TestStore_Redeem_RaceOneWinner(t *testing.T) {
	s, _ := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "race"})
	codes := mustGenerate(t, s, "race", 1000)
	for round, code := range codes {
		var wins, lost atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := 0; g < 64; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				<-start
				_, err := s.Redeem(ctx, RedeemRequest{Code: code, Terminal: fmt.Sprintf("till-%d", g)})
				switch ErrorCode(err) {
				case "":
					wins.Add(1)
				case EAlreadyRedeemed:
					lost.Add(1)
				default:
					t.Errorf("round %d: unexpected %v", round, err)
				}
			}(g)
		}
		close(start)
		wg.Wait()
		require.Equal(t, int32(1), wins.Load(), "round %d", round)
		require.Equal(t, int32(63), lost.Load(), "round %d", round)
	}
	c, err := s.Campaign("race")
	require.NoError(t, err)
	require.Equal(t, int64(1000), c.Counts.Redeemed)
}

func TestStore_Redeem_Idempotency(t *testing.T) {
	s, _ := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "c"})
	codes := mustGenerate(t, s, "c", 2)
	idem := &Idempotency{Scope: "till", Key: "attempt-1", Hash: [32]byte{7}}
	r1, err := s.Redeem(ctx, RedeemRequest{Code: codes[0], Idempotency: idem})
	require.NoError(t, err)
	r2, err := s.Redeem(ctx, RedeemRequest{Code: codes[0], Idempotency: idem})
	require.NoError(t, err, "a retry replays the success, it is not already_redeemed")
	require.Equal(t, r1, r2)
	_, err = s.Redeem(ctx, RedeemRequest{Code: codes[1], Idempotency: &Idempotency{Scope: "till", Key: "attempt-1", Hash: [32]byte{8}}})
	requireCode(t, err, EIdempotencyMismatch)
	// Another scope (API key) may use the same key.
	_, err = s.Redeem(ctx, RedeemRequest{Code: codes[1], Idempotency: &Idempotency{Scope: "till-2", Key: "attempt-1", Hash: [32]byte{8}}})
	require.NoError(t, err)
	// Refusals are replayed too.
	bad := &Idempotency{Scope: "till", Key: "attempt-2", Hash: [32]byte{9}}
	_, err = s.Redeem(ctx, RedeemRequest{Code: codes[0], Idempotency: bad})
	requireCode(t, err, EAlreadyRedeemed)
	_, err = s.Redeem(ctx, RedeemRequest{Code: codes[0], Idempotency: bad})
	requireCode(t, err, EAlreadyRedeemed)
	c, _ := s.Campaign("c")
	require.Equal(t, int64(2), c.Counts.Redeemed)
	_, err = s.Redeem(ctx, RedeemRequest{Code: codes[0], Idempotency: &Idempotency{Scope: "till", Key: "has space"}})
	requireCode(t, err, EInvalid)
}

// A successful redemption's idempotency record names the redemption; a
// retry must still get the first answer after the redemption was rolled
// back, across a restart, and with the pseudonym once the customer is
// erased.
func TestStore_Redeem_IdempotencyReplaysTheFirstAnswer(t *testing.T) {
	clk := newClock()
	path := filepath.Join(t.TempDir(), "promo.db")
	s, err := openTest(path, Options{Now: clk.Now})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	mustCampaign(t, s, CampaignSpec{ID: "thanks", Benefit: &Benefit{Type: BenefitAmount, Value: 1000, Currency: "EUR"}})
	mustCampaign(t, s, CampaignSpec{ID: "ref", Kind: KindReferral, Referral: &Referral{RewardCampaign: "thanks"}})
	code, err := s.Assign(ctx, "ref", AssignRequest{CustomerID: "rita"})
	require.NoError(t, err)
	req := RedeemRequest{Code: code.Code, CustomerID: "friend", OrderID: "o-1", OrderAmount: 5000, Currency: "eur",
		Terminal: "till-3", Idempotency: &Idempotency{Scope: "till", Key: "sale-1", Hash: [32]byte{1}}}
	first, err := s.Redeem(ctx, req)
	require.NoError(t, err)
	require.NotEmpty(t, first.RewardCode)

	var rec idemRecord
	require.NoError(t, s.view(func(tx kv.Tx) error {
		rec, err = decodeIdemRecord(tx.Get(bucketIdem, req.Idempotency.dbKey()))
		return err
	}))
	n, _ := parseRedemptionName(first.ID)
	require.Equal(t, n, rec.Ref, "the record names the redemption")
	require.Empty(t, rec.Result, "and does not copy its answer")

	clk.Add(time.Minute)
	rb, err := s.Rollback(ctx, first.ID, RollbackRequest{Reason: "returned"})
	require.NoError(t, err)
	require.NotNil(t, rb.RolledBackAt)
	require.True(t, rb.RewardVoided)
	replay, err := s.Redeem(ctx, req)
	require.NoError(t, err)
	require.Equal(t, first, replay, "a retry after the rollback gets the first answer")

	require.NoError(t, s.Close())
	s, err = openTest(path, Options{Now: clk.Now})
	require.NoError(t, err)
	replay, err = s.Redeem(ctx, req)
	require.NoError(t, err)
	require.Equal(t, first, replay, "and so after a restart")

	erased, err := s.EraseCustomer(ctx, "friend")
	require.NoError(t, err)
	replay, err = s.Redeem(ctx, req)
	require.NoError(t, err)
	want := first
	want.CustomerID = erased.Pseudonym
	require.Equal(t, want, replay, "an erased customer's id is not replayed")

	findings, err := s.Check(ctx)
	require.NoError(t, err)
	require.Empty(t, findings)
}

// Answers recorded whole (a rollback's, and every redemption's before
// records named redemptions) still replay.
func TestStore_Redeem_IdempotencyReplaysWholeAnswers(t *testing.T) {
	s, _ := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "c"})
	codes := mustGenerate(t, s, "c", 1)
	idem := &Idempotency{Scope: "till", Key: "sale-1", Hash: [32]byte{1}}
	first, err := s.Redeem(ctx, RedeemRequest{Code: codes[0], OrderAmount: 700})
	require.NoError(t, err)
	require.NoError(t, s.update(ctx, func(tx *wtx) error {
		return idemSave(tx, s.now(), idem, &first, nil)
	}))
	replay, err := s.Redeem(ctx, RedeemRequest{Code: codes[0], OrderAmount: 700, Idempotency: idem})
	require.NoError(t, err)
	require.Equal(t, first, replay)

	rbIdem := &Idempotency{Scope: "till", Key: "undo-1", Hash: [32]byte{2}}
	rb, err := s.Rollback(ctx, first.ID, RollbackRequest{Reason: "returned", Idempotency: rbIdem})
	require.NoError(t, err)
	again, err := s.Rollback(ctx, first.ID, RollbackRequest{Reason: "returned", Idempotency: rbIdem})
	require.NoError(t, err)
	require.Equal(t, rb, again)
}

// promo check finds an idempotency record that names a missing
// redemption, or does not read.
func TestStore_Check_IdempotencyRecords(t *testing.T) {
	s, _ := testStore(t, Options{})
	dangling := &Idempotency{Scope: "till", Key: "sale-9", Hash: [32]byte{9}}
	broken := &Idempotency{Scope: "till", Key: "sale-10"}
	require.NoError(t, s.update(ctx, func(tx *wtx) error {
		idemSaveRedemption(tx, s.now(), dangling, 999)
		tx.Put(bucketIdem, broken.dbKey(), []byte{idemRef, 1, 2})
		return nil
	}))
	findings, err := s.Check(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{
		`idempotency record "sale-10" of "till": corrupt idempotency record`,
		`idempotency record "sale-9" of "till": names redemption rd_999, which does not exist`,
	}, findings)
	_, err = s.Redeem(ctx, RedeemRequest{Code: "ANYTHING", Idempotency: dangling})
	requireCode(t, err, EInternal)
	require.NoError(t, s.update(ctx, func(tx *wtx) error {
		tx.Delete(bucketIdem, dangling.dbKey())
		tx.Delete(bucketIdem, broken.dbKey())
		return nil
	}))
}

func TestStore_Rollback(t *testing.T) {
	s, _ := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "w", Kind: KindWelcome})
	code, err := s.Assign(ctx, "w", AssignRequest{CustomerID: "ann"})
	require.NoError(t, err)
	r, err := s.Redeem(ctx, RedeemRequest{Code: code.Code, CustomerID: "ann", OrderAmount: 1000})
	require.NoError(t, err)
	c, _ := s.GetCode(code.Code)
	require.Equal(t, "redeemed", c.State)

	rb, err := s.Rollback(ctx, r.ID, RollbackRequest{Reason: "order cancelled"})
	require.NoError(t, err)
	require.NotNil(t, rb.RolledBackAt)
	c, _ = s.GetCode(code.Code)
	require.Equal(t, "assigned", c.State, "the previous state is restored")
	require.Equal(t, 0, c.RedemptionCount)
	camp, _ := s.Campaign("w")
	require.Equal(t, int64(0), camp.Counts.Redeemed)
	require.Equal(t, int64(1), camp.Counts.RolledBack)
	require.Equal(t, int64(0), camp.Counts.DiscountTotal)

	// The customer limit is given back too.
	_, err = s.Redeem(ctx, RedeemRequest{Code: code.Code, CustomerID: "ann", OrderAmount: 1000})
	require.NoError(t, err)
	_, err = s.Rollback(ctx, r.ID, RollbackRequest{})
	requireCode(t, err, EConflict)
	_, err = s.Rollback(ctx, "rd_999", RollbackRequest{})
	requireCode(t, err, ENotFound)
	_, err = s.Rollback(ctx, "42", RollbackRequest{})
	requireCode(t, err, ENotFound)
}

func TestStore_Assign(t *testing.T) {
	s, clk := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "w", Kind: KindWelcome})
	mustCampaign(t, s, CampaignSpec{ID: "loyal", Kind: KindLoyalty})
	mustGenerate(t, s, "w", 3)

	a1, err := s.Assign(ctx, "w", AssignRequest{CustomerID: "ann", Channel: ChannelApp})
	require.NoError(t, err)
	require.Equal(t, "assigned", a1.State)
	require.Equal(t, "ann", a1.CustomerID)
	require.Equal(t, ChannelApp, a1.Channel)
	a2, err := s.Assign(ctx, "w", AssignRequest{CustomerID: "ann"})
	require.NoError(t, err)
	require.Equal(t, a1.Code, a2.Code, "asking again returns the same code")
	b, err := s.Assign(ctx, "w", AssignRequest{CustomerID: "ben"})
	require.NoError(t, err)
	require.NotEqual(t, a1.Code, b.Code)

	// Past the generated codes, codes are made on demand.
	for _, who := range []string{"cat", "dan", "eve"} {
		_, err := s.Assign(ctx, "w", AssignRequest{CustomerID: who})
		require.NoError(t, err)
	}
	camp, _ := s.Campaign("w")
	require.Equal(t, int64(5), camp.Counts.Assigned)
	require.Equal(t, int64(5), camp.Counts.Generated)
	require.Equal(t, int64(0), camp.Counts.ByState.Available)

	// Loyalty: a redeemed code is not given again; the next milestone gets a new one.
	l1, err := s.Assign(ctx, "loyal", AssignRequest{CustomerID: "ann"})
	require.NoError(t, err)
	_, err = s.Redeem(ctx, RedeemRequest{Code: l1.Code, CustomerID: "ann"})
	require.NoError(t, err)
	l2, err := s.Assign(ctx, "loyal", AssignRequest{CustomerID: "ann"})
	require.NoError(t, err)
	require.NotEqual(t, l1.Code, l2.Code)
	// Welcome (one per customer): the same code, even once redeemed.
	_, err = s.Redeem(ctx, RedeemRequest{Code: a1.Code, CustomerID: "ann"})
	require.NoError(t, err)
	a3, err := s.Assign(ctx, "w", AssignRequest{CustomerID: "ann"})
	require.NoError(t, err)
	require.Equal(t, a1.Code, a3.Code)
	require.Equal(t, "redeemed", a3.State)

	for _, tc := range []struct {
		campaign string
		req      AssignRequest
		code     string
	}{
		{"w", AssignRequest{}, EInvalid},
		{"w", AssignRequest{CustomerID: "x", Channel: "pigeon"}, EInvalid},
		{"nope", AssignRequest{CustomerID: "x"}, ENotFound},
	} {
		_, err := s.Assign(ctx, tc.campaign, tc.req)
		requireCode(t, err, tc.code)
	}
	mustCampaign(t, s, CampaignSpec{ID: "ends", ExpiresAt: ptr(clk.Now().Add(time.Hour))})
	clk.Add(2 * time.Hour)
	_, err = s.Assign(ctx, "ends", AssignRequest{CustomerID: "x"})
	requireCode(t, err, EExpired)
}

func TestStore_Referral(t *testing.T) {
	s, _ := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "thanks", Benefit: &Benefit{Type: BenefitAmount, Value: 1000, Currency: "EUR"}})
	mustCampaign(t, s, CampaignSpec{ID: "ref", Kind: KindReferral, Referral: &Referral{RewardCampaign: "thanks"}, MaxRedemptionsPerCode: ptr(2)})
	code, err := s.Assign(ctx, "ref", AssignRequest{CustomerID: "rita"})
	require.NoError(t, err)

	_, err = s.Redeem(ctx, RedeemRequest{Code: code.Code, CustomerID: "rita"})
	requireCode(t, err, EWrongCustomer)
	_, err = s.Redeem(ctx, RedeemRequest{Code: code.Code})
	requireCode(t, err, EInvalid)
	r1, err := s.Redeem(ctx, RedeemRequest{Code: code.Code, CustomerID: "friend-1"})
	require.NoError(t, err)
	require.NotEmpty(t, r1.RewardCode)
	reward, err := s.GetCode(r1.RewardCode)
	require.NoError(t, err)
	require.Equal(t, "thanks", reward.Campaign)
	require.Equal(t, "rita", reward.CustomerID)
	require.Equal(t, ChannelReferral, reward.Channel)
	_, err = s.Redeem(ctx, RedeemRequest{Code: code.Code, CustomerID: "friend-1"})
	requireCode(t, err, ECustomerLimit)
	r2, err := s.Redeem(ctx, RedeemRequest{Code: code.Code, CustomerID: "friend-2"})
	require.NoError(t, err)
	require.NotEqual(t, r1.RewardCode, r2.RewardCode, "every referral earns a fresh reward")
	_, err = s.Redeem(ctx, RedeemRequest{Code: code.Code, CustomerID: "friend-3"})
	requireCode(t, err, EAlreadyRedeemed)

	// Rolling back a referral voids its reward when unused; a used one stays.
	_, err = s.Redeem(ctx, RedeemRequest{Code: r2.RewardCode, CustomerID: "rita"})
	require.NoError(t, err)
	_, err = s.Rollback(ctx, r1.ID, RollbackRequest{Reason: "returned"})
	require.NoError(t, err)
	reward, _ = s.GetCode(r1.RewardCode)
	require.Equal(t, "voided", reward.State)
	_, err = s.Rollback(ctx, r2.ID, RollbackRequest{Reason: "returned"})
	require.NoError(t, err)
	reward, _ = s.GetCode(r2.RewardCode)
	require.Equal(t, "redeemed", reward.State)
}

func TestStore_Void(t *testing.T) {
	s, _ := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "c"})
	codes := mustGenerate(t, s, "c", 2)
	v, err := s.Void(ctx, codes[0], "printed twice")
	require.NoError(t, err)
	require.Equal(t, "voided", v.State)
	require.NotNil(t, v.VoidedAt)
	v, err = s.Void(ctx, codes[0], "")
	require.NoError(t, err, "voiding again changes nothing")
	require.Equal(t, "voided", v.State)
	_, err = s.Void(ctx, "NOPE-NOPE", "")
	requireCode(t, err, ENotFound)
	camp, _ := s.Campaign("c")
	require.Equal(t, int64(1), camp.Counts.Voided)
	require.Equal(t, int64(1), camp.Counts.ByState.Voided)
}
