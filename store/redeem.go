package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"promo/store/kv"
)

// RedeemRequest is what a checkout or till sends to validate or redeem.
type RedeemRequest struct {
	Code        string `json:"code"`
	CustomerID  string `json:"customer_id"`
	OrderID     string `json:"order_id"`
	OrderAmount int64  `json:"order_amount"`
	Currency    string `json:"currency"`
	Terminal    string `json:"terminal"`
	// Hold, on a validation with a customer, reserves the code's next use
	// for that customer this long when valid (1 s to 24 h).
	Hold Duration `json:"hold,omitempty"`
	// HoldID, on a redemption, names the hold it uses.
	HoldID string `json:"hold_id,omitempty"`
	// Scope is the API key placing a hold (set by the caller's server).
	Scope string `json:"-"`
	// Idempotency, if set, makes a retry replay the first response.
	Idempotency *Idempotency `json:"-"`
}

func (r *RedeemRequest) validate() error {
	r.Currency = strings.ToUpper(r.Currency)
	switch {
	case strings.TrimSpace(r.Code) == "":
		return fieldErr("code", "required")
	case len(r.Code) > 200:
		return fieldErr("code", "at most 200 characters")
	case r.OrderAmount < 0 || r.OrderAmount > maxMoney:
		return fieldErr("order_amount", "want 0 to %d minor units (cents), got %d", int64(maxMoney), r.OrderAmount)
	case r.Currency != "" && !currencyPattern.MatchString(r.Currency):
		return fieldErr("currency", "want an ISO 4217 code such as \"EUR\", got %q", r.Currency)
	}
	if err := checkText("customer_id", r.CustomerID, 128, false); err != nil {
		return err
	}
	if err := checkText("order_id", r.OrderID, 128, false); err != nil {
		return err
	}
	if r.HoldID != "" {
		if _, ok := parseHoldName(r.HoldID); !ok {
			return fieldErr("hold_id", "want a hold id from a validation, such as \"hd_12\", got %q", truncate(r.HoldID, 40))
		}
	}
	return checkText("terminal", r.Terminal, 64, false)
}

// Validation is the answer to Validate: valid with the discount, or not
// valid with a reason from the error vocabulary.
type Validation struct {
	Valid    bool     `json:"valid"`
	Reason   string   `json:"reason,omitempty"`
	Message  string   `json:"message,omitempty"`
	Code     string   `json:"code,omitempty"`
	Campaign string   `json:"campaign,omitempty"`
	Benefit  *Benefit `json:"benefit,omitempty"`
	Discount int64    `json:"discount"`
	Currency string   `json:"currency,omitempty"`
	// Hold is the hold placed when one was asked for.
	Hold *HoldRef `json:"hold,omitempty"`
}

// Redemption is one use of a code.
type Redemption struct {
	ID             string     `json:"id"`
	Code           string     `json:"code"`
	Campaign       string     `json:"campaign"`
	CustomerID     string     `json:"customer_id,omitempty"`
	OrderID        string     `json:"order_id,omitempty"`
	OrderAmount    int64      `json:"order_amount"`
	Currency       string     `json:"currency,omitempty"`
	Discount       int64      `json:"discount"`
	Benefit        Benefit    `json:"benefit"`
	Terminal       string     `json:"terminal,omitempty"`
	Channel        string     `json:"channel,omitempty"`
	RedeemedAt     time.Time  `json:"redeemed_at"`
	RolledBackAt   *time.Time `json:"rolled_back_at,omitempty"`
	RollbackReason string     `json:"rollback_reason,omitempty"`
	RewardCode     string     `json:"reward_code,omitempty"`
	RewardError    string     `json:"reward_error,omitempty"`
	// RewardVoided is set by the rollback that voided RewardCode (an
	// unused reward goes with the referral that earned it).
	RewardVoided bool `json:"reward_voided,omitempty"`
	// Hold is the hold the redemption used, if any.
	Hold string `json:"hold,omitempty"`
}

func redemptionName(n uint64) string { return "rd_" + strconv.FormatUint(n, 10) }

func parseRedemptionName(s string) (uint64, bool) {
	n, err := strconv.ParseUint(strings.TrimPrefix(s, "rd_"), 10, 64)
	return n, err == nil && strings.HasPrefix(s, "rd_") && n > 0
}

func getRedemption(tx kv.Tx, n uint64) (Redemption, error) {
	var r Redemption
	v := tx.Get(bucketRedemptions, seqKey(n))
	if v == nil {
		return r, Errorf(ENotFound, "no redemption %q", redemptionName(n))
	}
	if err := json.Unmarshal(v, &r); err != nil {
		return r, internal(err, "read redemption")
	}
	return r, nil
}

func putRedemption(tx *wtx, n uint64, r *Redemption) error {
	tx.Put(bucketRedemptions, seqKey(n), r.appendJSON(nil))
	return nil
}

// Customer index keys: customer 0 tag rest. Tags:
//
//	'a' num(4)  → key of the code Assign gave for that campaign
//	'c' key     → nothing: every code ever assigned to the customer
//	'u' num(4)  → uint32: the customer's redemptions in force in the campaign
//	'r' id(8)   → nothing: the customer's redemptions
func custKey(customer string, tag byte, rest []byte) []byte {
	k := make([]byte, 0, len(customer)+2+len(rest))
	k = append(append(append(k, customer...), 0, tag), rest...)
	return k
}

func custUses(tx kv.Tx, customer string, num uint32) uint32 {
	v := tx.Get(bucketCustomers, custKey(customer, 'u', u32(num)))
	if len(v) != 4 {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

func addCustUses(tx *wtx, customer string, num uint32, delta int) error {
	n := int(custUses(tx, customer, num)) + delta
	k := custKey(customer, 'u', u32(num))
	if n <= 0 {
		tx.Delete(bucketCustomers, k)
	} else {
		tx.Put(bucketCustomers, k, u32(uint32(n)))
	}
	return nil
}

// evaluate applies every redemption rule to req in tx, without writing,
// and counts a refusal of a found code against its campaign.
func (s *Store) evaluate(tx kv.Tx, req *RedeemRequest, sc screened, now time.Time) (found, int64, error) {
	f, discount, err := s.applyRules(tx, req, sc, now)
	if err != nil && f.camp != nil && isRuleError(err) {
		s.countReject(f.camp.Num, ErrorCode(err))
		s.noteRefusal(f, req.CustomerID, ErrorCode(err))
	}
	return f, discount, err
}

func (s *Store) applyRules(tx kv.Tx, req *RedeemRequest, sc screened, now time.Time) (found, int64, error) {
	f, err := s.find(tx, sc, true)
	if err != nil {
		return f, 0, err
	}
	c, r := f.camp, f.rec
	if r.state == stateVoided {
		return f, 0, Errorf(EVoided, "this code was voided and can no longer be used")
	}
	switch c.Status {
	case StatusPaused:
		return f, 0, Errorf(EPaused, "the campaign %q is paused; try again when it resumes", c.Name)
	case StatusArchived:
		return f, 0, Errorf(EExpired, "the campaign %q has ended", c.Name)
	}
	if c.StartsAt != nil && now.Before(*c.StartsAt) {
		return f, 0, Errorf(ENotStarted, "this code is valid from %s", c.StartsAt.UTC().Format(time.RFC3339))
	}
	if exp := codeExpiry(r, c); exp != nil && !now.Before(*exp) {
		return f, 0, Errorf(EExpired, "this code expired at %s", exp.UTC().Format(time.RFC3339))
	}
	if int(r.redemptions) >= c.MaxRedemptionsPerCode {
		return f, 0, s.alreadyRedeemed(tx, f)
	}
	if c.Kind == KindReferral {
		if req.CustomerID == "" {
			return f, 0, fieldErr("customer_id", "required to redeem a referral code: each referee may use one once")
		}
		if req.CustomerID == r.customer {
			return f, 0, Errorf(EWrongCustomer, "a referrer cannot redeem their own referral code")
		}
	} else if c.BoundToCustomer && r.customer != "" && req.CustomerID != r.customer {
		if req.CustomerID == "" {
			return f, 0, Errorf(EWrongCustomer, "this code belongs to a customer: give their customer_id")
		}
		return f, 0, Errorf(EWrongCustomer, "this code belongs to another customer")
	}
	if c.OnePerCustomer && req.CustomerID != "" && custUses(tx, req.CustomerID, c.Num) > 0 {
		return f, 0, Errorf(ECustomerLimit, "this customer already redeemed a code of the campaign %q", c.Name)
	}
	if err := checkHolds(tx, req, &f, now); err != nil {
		return f, 0, err
	}
	if cur := c.Benefit.Currency; cur != "" && req.Currency != "" && req.Currency != cur {
		return f, 0, fieldErr("currency", "the order is in %s but the campaign is in %s", req.Currency, cur)
	}
	if c.MinOrder > 0 && req.OrderAmount < c.MinOrder {
		cur := firstNonEmpty(req.Currency, c.Benefit.Currency)
		return f, 0, Errorf(EMinOrder, "the order of %s is below this code's minimum of %s", FormatMoney(req.OrderAmount, cur), FormatMoney(c.MinOrder, cur))
	}
	discount := Discount(c.Benefit, req.OrderAmount)
	if err := checkBudget(tx, f, discount, now); err != nil {
		return f, 0, err
	}
	return f, discount, nil
}

// checkHolds applies the holds of f's code: the one the request names
// must be the customer's own for this code; another customer's live holds
// take the uses they reserve (held). It sets f.hold to the customer's own
// live hold, which a redemption uses and a new hold renews.
func checkHolds(tx kv.Tx, req *RedeemRequest, f *found, now time.Time) error {
	var named uint64
	if req.HoldID != "" {
		named, _ = parseHoldName(req.HoldID)
		h, ok, err := getHold(tx, named)
		if err != nil {
			return err
		}
		if !ok {
			return &Error{Code: ENotFound, Field: "hold_id", Message: fmt.Sprintf("hold_id: no hold %s (it was released or used)", req.HoldID)}
		}
		if h.Key != string(f.key) || h.Customer != req.CustomerID {
			return fieldErr("hold_id", "hold %s is for another code or customer", req.HoldID)
		}
	}
	others := 0
	var until int64
	for _, h := range codeHolds(tx, f.key, now) {
		switch {
		case req.CustomerID != "" && h.customer == req.CustomerID:
			if f.hold == nil || h.id == named {
				f.hold = &h
			}
		default:
			others++
			if until == 0 || h.expires < until {
				until = h.expires
			}
		}
	}
	if others > 0 && int(f.rec.redemptions)+others >= f.camp.MaxRedemptionsPerCode {
		return Errorf(EHeld, "this code is held for another customer's cart until %s; try again then", time.UnixMilli(until).UTC().Format(time.RFC3339))
	}
	return nil
}

// checkBudget refuses a use of discount that would take f's campaign past
// its budget, counting its live holds (but the customer's own hold, which
// this use would take over).
func checkBudget(tx kv.Tx, f found, discount int64, now time.Time) error {
	b := f.camp.Budget
	if b == nil {
		return nil
	}
	var own uint64
	if f.hold != nil {
		own = f.hold.id
	}
	held, heldDiscount := campaignHeld(tx, f.camp.Num, now, own)
	v := readVec(tx, f.camp.Num)
	if b.Redemptions > 0 && v[cRedeemed]+held+1 > b.Redemptions {
		return Errorf(EBudgetExhausted, "the campaign %q has used its budget of %d redemptions (%d redeemed, %d held in carts)", f.camp.Name, b.Redemptions, v[cRedeemed], held)
	}
	if b.Discount > 0 && v[cDiscount]+heldDiscount+discount > b.Discount {
		cur := f.camp.Benefit.Currency
		left := max(0, b.Discount-v[cDiscount]-heldDiscount)
		return Errorf(EBudgetExhausted, "the campaign %q has %s left of its %s discount budget; this order would take %s", f.camp.Name,
			FormatMoney(left, cur), FormatMoney(b.Discount, cur), FormatMoney(discount, cur))
	}
	return nil
}

// alreadyRedeemed is the refusal of a code with no use left. It says when
// and at which terminal the last use was, so a cashier can explain.
func (s *Store) alreadyRedeemed(tx kv.Tx, f found) error {
	what := "this code was already redeemed"
	if f.camp.MaxRedemptionsPerCode > 1 {
		what = fmt.Sprintf("this code was already redeemed %d times, its limit", f.rec.redemptions)
	}
	if n := len(f.rec.redIDs); n > 0 {
		if r, err := getRedemption(tx, f.rec.redIDs[n-1]); err == nil {
			what += " (last on " + r.RedeemedAt.UTC().Format("2006-01-02 15:04 MST")
			if r.Terminal != "" {
				what += " at " + r.Terminal
			}
			what += ")"
		}
	}
	return Errorf(EAlreadyRedeemed, "%s", what)
}

// Discount computes what a benefit takes off an order of amount minor
// units. Percentages round half up to the minor unit; an amount off never
// exceeds the order, and is its full value when no order amount is given.
// Free shipping and custom benefits take nothing off the amount.
func Discount(b Benefit, amount int64) int64 {
	switch b.Type {
	case BenefitPercent:
		return (amount*b.Value + 50) / 100
	case BenefitAmount:
		if amount > 0 && b.Value > amount {
			return amount
		}
		return b.Value
	}
	return 0
}

// Validate tells whether req.Code could be redeemed now, and for how much,
// without redeeming it. Refusals are in the Validation; the error is only
// for bad requests and failures.
func (s *Store) Validate(req RedeemRequest) (Validation, error) {
	if err := req.validate(); err != nil {
		return Validation{}, err
	}
	if err := req.checkHold(); err != nil {
		return Validation{}, err
	}
	if req.Hold > 0 {
		return s.validateAndHold(context.Background(), req)
	}
	sc, err := s.screen(req.Code, true) // most guesses end here, with no transaction
	if err != nil {
		if !isRuleError(err) {
			return Validation{}, err
		}
		return Validation{Reason: ErrorCode(err), Message: ErrorMessage(err)}, nil
	}
	var out Validation
	err = s.view(func(tx kv.Tx) error {
		f, discount, err := s.evaluate(tx, &req, sc, s.now())
		if f.camp != nil {
			out.Code, out.Campaign = codeView(string(f.key), f.rec, f.camp).Code, f.camp.ID
		}
		if err != nil {
			if !isRuleError(err) {
				return err
			}
			out.Reason, out.Message = ErrorCode(err), ErrorMessage(err)
			return nil
		}
		b := f.camp.Benefit
		out.Valid, out.Benefit, out.Discount = true, &b, discount
		out.Currency = firstNonEmpty(req.Currency, b.Currency)
		return nil
	})
	return out, err
}

// validateAndHold is Validate with a hold: when the code is valid, its next
// use is reserved for the customer, in one write transaction.
func (s *Store) validateAndHold(ctx context.Context, req RedeemRequest) (Validation, error) {
	sc, err := s.screen(req.Code, true)
	if err != nil {
		if !isRuleError(err) {
			return Validation{}, err
		}
		return Validation{Reason: ErrorCode(err), Message: ErrorMessage(err)}, nil
	}
	var out Validation
	err = s.update(ctx, func(tx *wtx) error {
		out = Validation{}
		now := s.now().UTC()
		f, discount, err := s.evaluate(tx, &req, sc, now)
		if f.camp != nil {
			out.Code, out.Campaign = codeView(string(f.key), f.rec, f.camp).Code, f.camp.ID
		}
		if err != nil {
			if !isRuleError(err) {
				return err
			}
			out.Reason, out.Message = ErrorCode(err), ErrorMessage(err)
			return nil
		}
		ref, err := s.placeHold(tx, &req, f, discount, now)
		if err != nil {
			return err
		}
		b := f.camp.Benefit
		out.Valid, out.Benefit, out.Discount, out.Hold = true, &b, discount, &ref
		out.Currency = firstNonEmpty(req.Currency, b.Currency)
		return nil
	})
	return out, err
}

// Redeem uses req.Code once: it finds the code, applies every rule and
// writes the redemption in one transaction, durable before it returns. For
// a referral code it also gives the referrer a fresh reward code. It returns
// the rule's error (not_found, typo, voided, paused, expired, not_started,
// already_redeemed, wrong_customer, customer_limit, held,
// budget_exhausted, min_order, invalid_request) when the code cannot be
// used. A customer's own live hold of the code is used (and ended) by the
// redemption, whether or not HoldID names it.
func (s *Store) Redeem(ctx context.Context, req RedeemRequest) (Redemption, error) {
	if err := req.validate(); err != nil {
		return Redemption{}, err
	}
	if req.Hold != 0 {
		return Redemption{}, fieldErr("hold", "only for a validation: a redemption uses a hold with hold_id")
	}
	if req.Idempotency != nil {
		if err := req.Idempotency.Validate(); err != nil {
			return Redemption{}, err
		}
	}
	// Screen outside the writer: a guess that the filter rejects never waits
	// for, nor slows, the transaction. With an idempotency key the answer
	// may be a replay, so the writer decides.
	var sc screened
	if req.Idempotency == nil {
		var err error
		if sc, err = s.screen(req.Code, true); err != nil {
			return Redemption{}, err
		}
	}
	var out Redemption
	err := s.update(ctx, func(tx *wtx) error {
		out = Redemption{}
		if done, err := idemReplay(tx, req.Idempotency, &out); done {
			return err
		}
		sc := sc
		if sc.key == nil {
			var err error
			if sc, err = s.screen(req.Code, true); err != nil {
				return idemSave(tx, s.now(), req.Idempotency, &out, err)
			}
		}
		err := s.redeemTx(tx, &req, sc, &out)
		return idemSave(tx, s.now(), req.Idempotency, &out, err)
	})
	return out, err
}

func (s *Store) redeemTx(tx *wtx, req *RedeemRequest, sc screened, out *Redemption) error {
	now := s.now().UTC()
	f, discount, err := s.evaluate(tx, req, sc, now)
	if err != nil {
		return err
	}
	c := f.camp
	// Referral reward first: it checks its own rules before writing.
	var reward Code
	var rewardErr error
	if c.Kind == KindReferral && f.rec.customer != "" {
		rc, err := s.campaign(c.Referral.RewardCampaign)
		if err == nil {
			reward, err = s.assignFresh(tx, rc, f.rec.customer, ChannelReferral, now)
		}
		if err != nil && !isRuleError(err) {
			return err
		}
		rewardErr = err
	}
	id := tx.nextSeq(seqRedemptions)
	*out = Redemption{
		ID: redemptionName(id), Code: codeView(string(f.key), f.rec, c).Code, Campaign: c.ID,
		CustomerID: req.CustomerID, OrderID: req.OrderID, OrderAmount: req.OrderAmount,
		Currency: firstNonEmpty(req.Currency, c.Benefit.Currency), Discount: discount, Benefit: c.Benefit,
		Terminal: req.Terminal, Channel: f.rec.channel, RedeemedAt: now, RewardCode: reward.Code,
	}
	if f.hold != nil {
		out.Hold = holdName(f.hold.id)
		h, ok, err := getHold(tx, f.hold.id)
		if err != nil {
			return err
		}
		if ok {
			deleteHold(tx, f.hold.id, h)
		}
	}
	if rewardErr != nil {
		out.RewardError = ErrorMessage(rewardErr)
	}
	if err := putRedemption(tx, id, out); err != nil {
		return err
	}
	old := f.rec.state
	firstUse := f.rec.customer != "" && f.rec.redemptions == 0
	f.rec.redemptions++
	f.rec.redIDs = append(f.rec.redIDs, id)
	if int(f.rec.redemptions) >= c.MaxRedemptionsPerCode {
		f.rec.state = stateRedeemed
	}
	if err := putCode(tx, f); err != nil {
		return err
	}
	if req.CustomerID != "" {
		if err := addCustUses(tx, req.CustomerID, c.Num, 1); err != nil {
			return err
		}
		tx.Put(bucketCustomers, custKey(req.CustomerID, 'r', seqKey(id)), nil)
	}
	if err := s.countRedemption(tx, c.Num, out, old, f.rec.state, 1, firstUse); err != nil {
		return err
	}
	return appendEvent(tx, now, &Event{Type: EventCodeRedeemed, Campaign: c.ID, Code: out.Code,
		CustomerID: out.CustomerID, Channel: out.Channel, Redemption: out.ID, OrderID: out.OrderID,
		OrderAmount: out.OrderAmount, Currency: out.Currency, Discount: out.Discount, Terminal: out.Terminal,
		RewardCode: out.RewardCode})
}

// countRedemption adds (sign 1) or removes (sign -1, a rollback) a
// redemption from the campaign's counters and its day, channel and
// terminal breakdowns, and moves the code between state counters. edge is
// set when an assigned code gets its first use in force (sign 1) or loses
// its last (sign -1).
func (s *Store) countRedemption(tx *wtx, num uint32, r *Redemption, from, to byte, sign int64, edge bool) error {
	deltas := []int64{cRedeemed, sign, cDiscount, sign * r.Discount, cOrders, sign * r.OrderAmount}
	if edge {
		deltas = append(deltas, cUsedAssigned, sign)
	}
	if sign < 0 {
		deltas = append(deltas, cRolledBack, 1)
	}
	if from != to {
		deltas = append(deltas, stateCounter(from), -1, stateCounter(to), 1)
	}
	if err := bump(tx, counterKey(num, dimTotal, nil), nCounters, deltas...); err != nil {
		return err
	}
	dim := []int64{dRedeemed, sign, dDiscount, sign * r.Discount, dOrders, sign * r.OrderAmount}
	if sign < 0 {
		dim = append(dim, dRolledBack, 1)
	}
	for _, k := range [][]byte{
		dayKey(num, r.RedeemedAt),
		counterKey(num, dimChannel, []byte(firstNonEmpty(r.Channel, "none"))),
		counterKey(num, dimTerminal, []byte(firstNonEmpty(r.Terminal, "none"))),
	} {
		if err := bump(tx, k, nDim, dim...); err != nil {
			return err
		}
	}
	return nil
}

// RollbackRequest undoes a redemption.
type RollbackRequest struct {
	Reason      string       `json:"reason"`
	Idempotency *Idempotency `json:"-"`
}

// Rollback undoes a redemption: the code gets the use back (and its
// previous state), counters and the customer's limit are restored, and an
// unused referral reward is voided. It returns not_found, or conflict when
// the redemption was already rolled back.
func (s *Store) Rollback(ctx context.Context, redemptionID string, req RollbackRequest) (Redemption, error) {
	id, ok := parseRedemptionName(redemptionID)
	if !ok {
		return Redemption{}, Errorf(ENotFound, "no redemption %q: ids look like rd_123", truncate(redemptionID, 40))
	}
	if err := checkText("reason", req.Reason, 500, false); err != nil {
		return Redemption{}, err
	}
	if req.Idempotency != nil {
		if err := req.Idempotency.Validate(); err != nil {
			return Redemption{}, err
		}
	}
	var out Redemption
	err := s.update(ctx, func(tx *wtx) error {
		out = Redemption{}
		if done, err := idemReplay(tx, req.Idempotency, &out); done {
			return err
		}
		err := s.rollbackTx(tx, id, req.Reason, &out)
		return idemSave(tx, s.now(), req.Idempotency, &out, err)
	})
	return out, err
}

func (s *Store) rollbackTx(tx *wtx, id uint64, reason string, out *Redemption) error {
	r, err := getRedemption(tx, id)
	if err != nil {
		return err
	}
	if r.RolledBackAt != nil {
		return Errorf(EConflict, "redemption %s was already rolled back at %s", r.ID, r.RolledBackAt.Format(time.RFC3339))
	}
	f, err := s.lookup(tx, r.Code, false)
	if err != nil {
		return internal(err, "find the redeemed code")
	}
	now := s.now().UTC()
	// Check the reward before writing anything.
	var reward found
	voidReward := false
	if r.RewardCode != "" {
		reward, err = s.lookup(tx, r.RewardCode, false)
		if err != nil {
			return internal(err, "find the reward code")
		}
		voidReward = reward.rec.state == stateAssigned && reward.rec.redemptions == 0
	}
	r.RolledBackAt, r.RollbackReason, r.RewardVoided = &now, reason, voidReward
	if err := putRedemption(tx, id, &r); err != nil {
		return err
	}
	old := f.rec.state
	f.rec.redemptions--
	if f.rec.state == stateRedeemed {
		f.rec.state = stateAvailable
		if f.rec.customer != "" {
			f.rec.state = stateAssigned
		}
	}
	if err := putCode(tx, f); err != nil {
		return err
	}
	if r.CustomerID != "" {
		if err := addCustUses(tx, r.CustomerID, f.camp.Num, -1); err != nil {
			return err
		}
	}
	if err := s.countRedemption(tx, f.camp.Num, &r, old, f.rec.state, -1, f.rec.customer != "" && f.rec.redemptions == 0); err != nil {
		return err
	}
	if voidReward {
		if err := s.voidTx(tx, &reward, now, "referral "+r.ID+" rolled back"); err != nil {
			return err
		}
	}
	*out = r
	return appendEvent(tx, now, &Event{Type: EventRolledBack, Campaign: r.Campaign, Code: r.Code,
		CustomerID: r.CustomerID, Channel: r.Channel, Redemption: r.ID, OrderID: r.OrderID,
		OrderAmount: r.OrderAmount, Currency: r.Currency, Discount: r.Discount, Terminal: r.Terminal,
		Reason: reason, RewardCode: r.RewardCode})
}

// Void makes a code unusable for good. Voiding a voided code changes
// nothing. It returns not_found or typo.
func (s *Store) Void(ctx context.Context, code, reason string) (Code, error) {
	if err := checkText("reason", reason, 500, false); err != nil {
		return Code{}, err
	}
	var out Code
	err := s.update(ctx, func(tx *wtx) error {
		f, err := s.lookup(tx, code, false)
		if err != nil {
			return err
		}
		if f.rec.state != stateVoided {
			if err := s.voidTx(tx, &f, s.now().UTC(), reason); err != nil {
				return err
			}
		}
		out = codeView(string(f.key), f.rec, f.camp)
		return nil
	})
	return out, err
}

// voidTx voids the found code (f.rec is updated).
func (s *Store) voidTx(tx *wtx, f *found, now time.Time, reason string) error {
	old := f.rec.state
	f.rec.state, f.rec.voidedAt = stateVoided, now.UnixMilli()
	if err := putCode(tx, *f); err != nil {
		return err
	}
	if err := bump(tx, counterKey(f.camp.Num, dimTotal, nil), nCounters,
		cVoided, 1, stateCounter(old), -1, cStVoided, 1); err != nil {
		return err
	}
	return appendEvent(tx, now, &Event{Type: EventCodeVoided, Campaign: f.camp.ID,
		Code: codeView(string(f.key), f.rec, f.camp).Code, CustomerID: f.rec.customer, Reason: reason})
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
