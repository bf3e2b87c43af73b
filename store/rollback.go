// Undoing a redemption (a refund, a cancelled order) and voiding one code.

package store

import (
	"context"
	"time"
)

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
