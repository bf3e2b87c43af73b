package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Check verifies the database: bbolt's own consistency check, every code
// readable and covered by the filter, the campaign indexes complete, every
// counter equal to a recount of the data, the customers' limits equal to
// their redemptions, and the event log without gaps. It returns the
// findings, empty when all is well; the error is for failures to check.
func (s *Store) Check(ctx context.Context) ([]string, error) {
	var findings []string
	add := func(format string, args ...any) {
		if len(findings) < 1000 {
			findings = append(findings, fmt.Sprintf(format, args...))
		}
	}
	cat := s.cat.Load()
	err := s.view(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			add("bbolt: %v", err)
		}
		batchKind := map[uint64]string{}
		if err := tx.Bucket(bucketBatches).ForEach(func(k, v []byte) error {
			var b Batch
			if err := json.Unmarshal(v, &b); err != nil {
				add("batch %x: %v", k, err)
				return nil
			}
			batchKind[binary.BigEndian.Uint64(k)] = b.Kind
			return nil
		}); err != nil {
			return err
		}
		recount := map[uint32][]int64{}
		vec := func(num uint32) []int64 {
			if recount[num] == nil {
				recount[num] = make([]int64, nCounters)
			}
			return recount[num]
		}
		codeUses := map[string]int64{}
		f := s.filter.Load()
		n := 0
		err := tx.Bucket(bucketCodes).ForEach(func(k, v []byte) error {
			if n++; n%65536 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			if !f.Test(k) {
				add("code %s: missing from the filter", k)
			}
			r, err := decodeCodeRec(v)
			if err != nil {
				add("code %s: %v", k, err)
				return nil
			}
			if cat.byNum[r.camp] == nil {
				add("code %s: unknown campaign %d", k, r.camp)
				return nil
			}
			cv := vec(r.camp)
			if r.batch == 0 || batchKind[r.batch] == "generate" {
				cv[cGenerated]++
			} else {
				cv[cImported]++
			}
			if r.customer != "" {
				cv[cAssigned]++
			}
			if r.state == stateVoided {
				cv[cVoided]++
			}
			cv[stateCounter(r.state)]++
			codeUses[string(k)] = int64(r.redemptions)
			return nil
		})
		if err != nil {
			return err
		}
		custUse := map[string]int64{}
		redUses := map[string]int64{}
		err = tx.Bucket(bucketRedemptions).ForEach(func(k, v []byte) error {
			var r Redemption
			if err := json.Unmarshal(v, &r); err != nil {
				add("redemption %x: %v", k, err)
				return nil
			}
			c := cat.byID[r.Campaign]
			if c == nil {
				add("redemption %s: unknown campaign %q", r.ID, r.Campaign)
				return nil
			}
			cv := vec(c.Num)
			if r.RolledBackAt != nil {
				cv[cRolledBack]++
				return nil
			}
			cv[cRedeemed]++
			cv[cDiscount] += r.Discount
			cv[cOrders] += r.OrderAmount
			key := string(mustNormalize(r.Code))
			redUses[key]++
			if r.CustomerID != "" {
				custUse[string(custKey(r.CustomerID, 'u', u32(c.Num)))]++
			}
			return nil
		})
		if err != nil {
			return err
		}
		for key, n := range codeUses {
			if redUses[key] != n {
				add("code %s: record says %d redemptions in force, the redemptions say %d", key, n, redUses[key])
			}
		}
		for _, c := range cat.byNum {
			stored, want := readVec(tx, c.Num), vec(c.Num)
			for i := 0; i < cAssignCursor; i++ {
				if stored[i] != want[i] {
					add("campaign %s: counter %s is %d, a recount gives %d", c.ID, counterNames[i], stored[i], want[i])
				}
			}
			idx := int64(0)
			err := walkIndex(tx, c.Num, 0, func(seq uint64, key []byte) (bool, error) {
				if seq != uint64(idx) {
					add("campaign %s: code index has a gap at %d", c.ID, idx)
				}
				if _, ok := codeUses[string(key)]; !ok {
					add("campaign %s: code index names a missing code %s", c.ID, key)
				}
				idx++
				return true, nil
			})
			if err != nil {
				add("campaign %s: %v", c.ID, err)
			}
			if idx != want[cGenerated]+want[cImported] {
				add("campaign %s: code index holds %d codes, the campaign has %d", c.ID, idx, want[cGenerated]+want[cImported])
			}
		}
		err = tx.Bucket(bucketCustomers).ForEach(func(k, v []byte) error {
			if i := bytes.IndexByte(k, 0); i >= 0 && i+1 < len(k) && k[i+1] == 'u' {
				if got := int64(binary.BigEndian.Uint32(v)); got != custUse[string(k)] {
					add("customer %s: limit counter %d, redemptions in force %d", k[:i], got, custUse[string(k)])
				}
				delete(custUse, string(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for k, n := range custUse {
			add("customer %s: %d redemptions in force but no limit counter", k[:bytes.IndexByte([]byte(k), 0)], n)
		}
		events := tx.Bucket(bucketEvents)
		want := uint64(1)
		if err := events.ForEach(func(k, _ []byte) error {
			if got := binary.BigEndian.Uint64(k); got != want {
				add("events: expected seq %d, found %d", want, got)
				want = got
			}
			want++
			return nil
		}); err != nil {
			return err
		}
		if last := events.Sequence(); last != want-1 {
			add("events: the log ends at %d but the sequence is at %d", want-1, last)
		}
		return nil
	})
	return findings, err
}

var counterNames = [...]string{"generated", "imported", "assigned", "redeemed", "rolled_back", "voided",
	"discount_total", "order_total", "available", "assigned (state)", "redeemed (state)", "voided (state)"}
