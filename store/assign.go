package store

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"time"

	"promo/gen"
	"promo/store/kv"
)

// Channels through which a code reaches a customer. ChannelReferral marks
// the reward codes a referral earns.
const (
	ChannelEmail    = "email"
	ChannelApp      = "app"
	ChannelAccount  = "account"
	ChannelEvent    = "event"
	ChannelMail     = "mail"
	ChannelPOS      = "pos"
	ChannelOther    = "other"
	ChannelReferral = "referral"
)

// Channels lists the channels a caller may give.
var Channels = []string{ChannelEmail, ChannelApp, ChannelAccount, ChannelEvent, ChannelMail, ChannelPOS, ChannelOther}

// AssignRequest gives a customer a code of a campaign.
type AssignRequest struct {
	CustomerID string `json:"customer_id"`
	Channel    string `json:"channel"`
	// Idempotency, if set, makes a retry replay the first response.
	Idempotency *Idempotency `json:"-"`
}

func (r *AssignRequest) validate() error {
	if err := checkText("customer_id", r.CustomerID, 128, true); err != nil {
		return err
	}
	if r.Channel == "" {
		r.Channel = ChannelEmail
	}
	if !contains(Channels, r.Channel) {
		return fieldErr("channel", "want one of %s, got %q", strings.Join(Channels, ", "), r.Channel)
	}
	if r.Idempotency != nil {
		return r.Idempotency.Validate()
	}
	return nil
}

// Assign gives the customer a code of the campaign and records the channel.
// Asking again returns the same code while it can still be used (always,
// for a one_per_customer campaign); otherwise the customer gets a fresh one.
// When no code is available one is generated on the spot. It returns
// not_found, invalid_request, conflict (archived), expired, or capacity.
func (s *Store) Assign(ctx context.Context, campaignID string, req AssignRequest) (Code, error) {
	if err := req.validate(); err != nil {
		return Code{}, err
	}
	var out Code
	err := s.update(ctx, func(tx *wtx) error {
		out = Code{}
		if done, err := idemReplay(tx, req.Idempotency, &out); done {
			return err
		}
		var err error
		out, err = s.assignTx(tx, campaignID, req.CustomerID, req.Channel)
		return idemSave(tx, s.now(), req.Idempotency, &out, err)
	})
	return out, err
}

func (s *Store) assignTx(tx *wtx, campaignID, customer, channel string) (Code, error) {
	c, err := s.campaign(campaignID)
	if err != nil {
		return Code{}, err
	}
	now := s.now().UTC()
	if key := tx.Get(bucketCustomers, custKey(customer, 'a', u32(c.Num))); key != nil {
		v := tx.Get(bucketCodes, key)
		rec, err := decodeCodeRec(v)
		if err != nil {
			return Code{}, internal(err, "read the assigned code")
		}
		exp := codeExpiry(rec, c)
		live := rec.state == stateAssigned && (exp == nil || now.Before(*exp))
		if c.OnePerCustomer || live {
			return codeView(string(key), rec, c), nil
		}
	}
	code, err := s.assignFresh(tx, c, customer, channel, now)
	if err != nil {
		return Code{}, err
	}
	key, _ := gen.Normalize(code.Code)
	tx.Put(bucketCustomers, custKey(customer, 'a', u32(c.Num)), []byte(key))
	return code, nil
}

// assignFresh gives the customer the campaign's next available code (or a
// new one) without looking at what the customer already has. It checks its
// rules before writing.
func (s *Store) assignFresh(tx *wtx, c *Campaign, customer, channel string, now time.Time) (Code, error) {
	switch {
	case c.Status == StatusArchived:
		return Code{}, Errorf(EConflict, "campaign %q is archived; it gives out no codes", c.ID)
	case c.ExpiresAt != nil && !now.Before(*c.ExpiresAt):
		return Code{}, Errorf(EExpired, "campaign %q ended at %s", c.ID, c.ExpiresAt.Format(time.RFC3339))
	}
	f, cursor, err := s.nextAvailable(tx, c)
	if err != nil {
		return Code{}, err
	}
	if f.key == nil {
		if f, err = s.generateOne(tx, c); err != nil {
			return Code{}, err
		}
		cursor = -1
	}
	f.rec.state, f.rec.customer, f.rec.channel, f.rec.assignedAt = stateAssigned, customer, channel, now.UnixMilli()
	if err := putCode(tx, f); err != nil {
		return Code{}, err
	}
	deltas := []int64{cAssigned, 1, cStAvailable, -1, cStAssigned, 1}
	if f.rec.redemptions > 0 { // a code of several uses, used before it was given out
		deltas = append(deltas, cUsedAssigned, 1)
	}
	if cursor >= 0 {
		v := readVec(tx, c.Num)
		deltas = append(deltas, cAssignCursor, cursor-v[cAssignCursor])
	}
	if err := bump(tx, counterKey(c.Num, dimTotal, nil), nCounters, deltas...); err != nil {
		return Code{}, err
	}
	for _, k := range [][]byte{dayKey(c.Num, now), counterKey(c.Num, dimChannel, []byte(channel))} {
		if err := bump(tx, k, nDim, dAssigned, 1); err != nil {
			return Code{}, err
		}
	}
	tx.Put(bucketCustomers, custKey(customer, 'c', f.key), nil)
	out := codeView(string(f.key), f.rec, c)
	return out, appendEvent(tx, now, &Event{Type: EventCodeAssigned, Campaign: c.ID, Code: out.Code,
		CustomerID: customer, Channel: channel})
}

// nextAvailable walks the campaign's codes in creation order from its
// assign cursor to the first available one. It returns the code (key nil
// when none is left) and the cursor to store: one past it.
func (s *Store) nextAvailable(tx kv.Tx, c *Campaign) (found, int64, error) {
	v := readVec(tx, c.Num)
	if v[cStAvailable] == 0 {
		return found{}, v[cAssignCursor], nil
	}
	var out found
	var next int64
	err := walkIndex(tx, c.Num, uint64(v[cAssignCursor]), func(seq uint64, key []byte) (bool, error) {
		rec, err := decodeCodeRec(tx.Get(bucketCodes, key))
		if err != nil {
			return false, internal(err, "read code")
		}
		if rec.state != stateAvailable {
			return true, nil
		}
		out, next = found{key: bytes.Clone(key), rec: rec, camp: c}, int64(seq)+1
		return false, nil
	})
	if err != nil || out.key != nil {
		return out, next, err
	}
	return found{}, v[cAssignCursor], nil
}

// generateOne makes and stores one new available code for c.
func (s *Store) generateOne(tx *wtx, c *Campaign) (found, error) {
	shape, _ := s.codeCounts(tx, c.Format)
	if err := c.Format.CheckCapacity(shape, 1, c.MinGuessOdds); err != nil {
		return found{}, &Error{Code: ECapacity, Message: "campaign " + c.ID + " has no available codes and no room for more: " + err.Error(), Err: err}
	}
	g, err := gen.NewGenerator(c.Format, s.opts.Random)
	if err != nil {
		return found{}, internal(err, "make a generator")
	}
	for tries := 0; tries < 100; tries++ {
		key, err := g.AppendKey(nil, 0, 0)
		if err != nil {
			return found{}, internal(err, "draw a random code")
		}
		if s.mayExist(key) && tx.Get(bucketCodes, key) != nil {
			continue
		}
		if err := s.insertCodes(tx, c, 0, [][]byte{key}, nil, cGenerated, false); err != nil {
			return found{}, err
		}
		return found{key: key, rec: codeRec{state: stateAvailable, camp: c.Num}, camp: c}, nil
	}
	return found{}, internal(errors.New("no unique code after 100 tries"), "generate a code")
}
