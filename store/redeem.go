package store

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"promo/gen"
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
	sc, err := s.screen(req.Code, true) // most guesses end here, with no transaction
	if err != nil {
		if !isRuleError(err) {
			return Validation{}, err
		}
		return Validation{Reason: ErrorCode(err), Message: ErrorMessage(err)}, nil
	}
	var out Validation
	if req.Hold == 0 {
		err = s.view(func(tx kv.Tx) error {
			out, err = s.validation(tx, &req, sc, s.now(), nil)
			return err
		})
		return out, err
	}
	// With a hold: when the code is valid, its next use is reserved for the
	// customer, in one write transaction.
	err = s.update(context.Background(), func(tx *wtx) error {
		now := s.now().UTC()
		out, err = s.validation(tx, &req, sc, now, func(f found, discount int64) (HoldRef, error) {
			return s.placeHold(tx, &req, f, discount, now)
		})
		return err
	})
	return out, err
}

// validation is Validate's answer for req in tx: a refusal by the rules is
// in the Validation, other failures are errors. hold, when not nil, is
// called for a valid code and its reference answered.
func (s *Store) validation(tx kv.Tx, req *RedeemRequest, sc screened, now time.Time, hold func(found, int64) (HoldRef, error)) (Validation, error) {
	var out Validation
	f, discount, err := s.evaluate(tx, req, sc, now)
	if f.camp != nil {
		out.Code, out.Campaign = codeView(string(f.key), f.rec, f.camp).Code, f.camp.ID
	}
	if err != nil {
		if !isRuleError(err) {
			return Validation{}, err
		}
		out.Reason, out.Message = ErrorCode(err), ErrorMessage(err)
		return out, nil
	}
	if hold != nil {
		ref, err := hold(f, discount)
		if err != nil {
			return Validation{}, err
		}
		out.Hold = &ref
	}
	b := f.camp.Benefit
	out.Valid, out.Benefit, out.Discount = true, &b, discount
	out.Currency = firstNonEmpty(req.Currency, b.Currency)
	return out, nil
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
	err := s.updateReading(ctx, s.redeemReads(req), func(tx *wtx) error {
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
		if n, ok := parseRedemptionName(out.ID); err == nil && ok && req.Idempotency != nil {
			idemSaveRedemption(tx, s.now(), req.Idempotency, n)
			return nil
		}
		return idemSave(tx, s.now(), req.Idempotency, &out, err)
	})
	return out, err
}

// redeemReads are the keys of its own a redemption reads: its idempotency
// record, its code and the code's holds. Only etcd's reads are round trips
// worth saving.
func (s *Store) redeemReads(req RedeemRequest) []kv.Key {
	if s.cl == nil {
		return nil
	}
	var keys []kv.Key
	if req.Idempotency != nil {
		keys = append(keys, kv.Key{Bucket: bucketIdem, Key: req.Idempotency.dbKey()})
	}
	if key, err := gen.Normalize(req.Code); err == nil {
		keys = append(keys, kv.Key{Bucket: bucketCodes, Key: []byte(key)},
			kv.Key{Bucket: bucketCodeHolds, Key: codeHoldPrefix([]byte(key)), Prefix: true})
	}
	return keys
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
	id := tx.nextRedemptionID()
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

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
