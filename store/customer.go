package store

import (
	"encoding/binary"

	"promo/store/kv"
)

// CustomerView is what promo knows about one customer: the codes given to
// them (referral rewards among them, with channel "referral"), and their
// redemptions.
type CustomerView struct {
	CustomerID  string       `json:"customer_id"`
	Codes       []Code       `json:"codes"`
	Rewards     []Code       `json:"rewards"`
	Redemptions []Redemption `json:"redemptions"`
}

// Customer returns the customer's codes, rewards and redemptions, or
// not_found when promo has never seen the customer.
func (s *Store) Customer(id string) (CustomerView, error) {
	if err := checkText("customer_id", id, 128, true); err != nil {
		return CustomerView{}, err
	}
	out := CustomerView{CustomerID: id, Codes: []Code{}, Rewards: []Code{}, Redemptions: []Redemption{}}
	cat := s.cat.Load()
	err := s.view(func(tx kv.Tx) error {
		pfx := append([]byte(id), 0)
		var err error
		tx.Scan(bucketCustomers, kv.Prefix(pfx), func(k, _ []byte) bool {
			tag, rest := k[len(pfx)], k[len(pfx)+1:]
			switch tag {
			case 'c':
				var rec codeRec
				if rec, err = decodeCodeRec(tx.Get(bucketCodes, rest)); err != nil {
					err = internal(err, "read code")
					return false
				}
				c := cat.byNum[rec.camp]
				if c == nil {
					return true
				}
				code := codeView(string(rest), rec, c)
				if rec.channel == ChannelReferral {
					out.Rewards = append(out.Rewards, code)
				} else {
					out.Codes = append(out.Codes, code)
				}
			case 'r':
				var r Redemption
				if r, err = getRedemption(tx, binary.BigEndian.Uint64(rest)); err != nil {
					return false
				}
				out.Redemptions = append(out.Redemptions, r)
			}
			return true
		})
		return err
	})
	if err == nil && len(out.Codes)+len(out.Rewards)+len(out.Redemptions) == 0 {
		return out, Errorf(ENotFound, "no customer %q: no code was assigned to them and they redeemed none", truncate(id, 70))
	}
	return out, err
}

// EachRedemption calls fn for every redemption of the campaign ("" for all
// campaigns), oldest first, a few thousand per read transaction.
func (s *Store) EachRedemption(campaignID string, fn func(Redemption) error) error {
	if campaignID != "" {
		if _, err := s.campaign(campaignID); err != nil {
			return err
		}
	}
	from := uint64(1)
	for {
		n := 0
		var fnErr error // the caller's own error, returned as it is
		err := s.view(func(tx kv.Tx) error {
			var err error
			tx.Scan(bucketRedemptions, kv.From(seqKey(from)), func(k, _ []byte) bool {
				id := binary.BigEndian.Uint64(k)
				var r Redemption
				if r, err = getRedemption(tx, id); err != nil {
					return false
				}
				from, n = id+1, n+1
				if campaignID == "" || r.Campaign == campaignID {
					if fnErr = fn(r); fnErr != nil {
						return false
					}
				}
				return n < 4096
			})
			return err
		})
		if fnErr != nil {
			return fnErr
		}
		if err != nil || n < 4096 {
			return err
		}
	}
}
