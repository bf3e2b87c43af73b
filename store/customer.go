package store

import (
	"bytes"
	"encoding/binary"

	bolt "go.etcd.io/bbolt"
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
	err := s.view(func(tx *bolt.Tx) error {
		pfx := append([]byte(id), 0)
		cur := tx.Bucket(bucketCustomers).Cursor()
		codes := tx.Bucket(bucketCodes)
		for k, _ := cur.Seek(pfx); k != nil && bytes.HasPrefix(k, pfx); k, _ = cur.Next() {
			tag, rest := k[len(pfx)], k[len(pfx)+1:]
			switch tag {
			case 'c':
				rec, err := decodeCodeRec(codes.Get(rest))
				if err != nil {
					return internal(err, "read code")
				}
				c := cat.byNum[rec.camp]
				if c == nil {
					continue
				}
				code := codeView(string(rest), rec, c)
				if rec.channel == ChannelReferral {
					out.Rewards = append(out.Rewards, code)
				} else {
					out.Codes = append(out.Codes, code)
				}
			case 'r':
				r, err := getRedemption(tx, binary.BigEndian.Uint64(rest))
				if err != nil {
					return err
				}
				out.Redemptions = append(out.Redemptions, r)
			}
		}
		return nil
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
		err := s.view(func(tx *bolt.Tx) error {
			cur := tx.Bucket(bucketRedemptions).Cursor()
			for k, _ := cur.Seek(seqKey(from)); k != nil && n < 4096; k, _ = cur.Next() {
				id := binary.BigEndian.Uint64(k)
				r, err := getRedemption(tx, id)
				if err != nil {
					return err
				}
				from, n = id+1, n+1
				if campaignID == "" || r.Campaign == campaignID {
					if fnErr = fn(r); fnErr != nil {
						return fnErr
					}
				}
			}
			return nil
		})
		if fnErr != nil {
			return fnErr
		}
		if err != nil || n < 4096 {
			return err
		}
	}
}
