// The rules a redemption must pass, and a validation reports: read in the
// transaction that then writes (or, for a validation, only reads), so no
// rule is checked against a state another write has changed since.

package store

import (
	"encoding/binary"
	"fmt"
	"time"

	"promo/store/kv"
)

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
