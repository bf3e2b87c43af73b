package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"

	"promo/store/kv"
)

// Check verifies the database: the engine's own checks (bbolt's page check,
// the log's records), every code readable and covered by the filter, the
// campaign indexes complete, every counter equal to a recount of the data,
// the customers' limits equal to their redemptions, and the event log
// without gaps. It returns the findings, empty when all is well; the error
// is for failures to check.
func (s *Store) Check(ctx context.Context) ([]string, error) {
	c := &checker{s: s, cat: s.cat.Load(), recount: map[uint32][]int64{}, codeUses: map[string]int64{}}
	if ec, ok := s.db.(kv.Checker); ok {
		findings, err := ec.Check()
		if err != nil {
			return nil, classify(err, "check the engine")
		}
		for _, f := range findings {
			c.add("%s", f)
		}
	}
	s.settleEvents()
	err := s.view(func(tx kv.Tx) error {
		for _, step := range []func(context.Context, kv.Tx) error{
			c.batches, c.codes, c.redemptions, c.counters, c.indexes, c.customerLimits, c.events, c.idempotency,
		} {
			if err := step(ctx, tx); err != nil {
				return err
			}
		}
		return nil
	})
	return c.findings, err
}

// checker recounts the data, one concern per method, in the order Check
// runs them: later steps use what earlier ones counted.
type checker struct {
	s        *Store
	cat      *catalog
	findings []string
	// batchKind names each batch's kind, from batches.
	batchKind map[uint64]string
	// recount holds the counters recounted from the data, by campaign.
	recount map[uint32][]int64
	// codeUses is each code's redemptions in force by its record; custUse
	// and redUses the same counted from the redemptions.
	codeUses map[string]int64
	redUses  map[string]int64
	custUse  map[string]int64
}

func (c *checker) add(format string, args ...any) {
	if len(c.findings) < 1000 {
		c.findings = append(c.findings, fmt.Sprintf(format, args...))
	}
}

func (c *checker) vec(num uint32) []int64 {
	if c.recount[num] == nil {
		c.recount[num] = make([]int64, nCounters)
	}
	return c.recount[num]
}

func (c *checker) batches(_ context.Context, tx kv.Tx) error {
	c.batchKind = map[uint64]string{}
	tx.Scan(bucketBatches, kv.All, func(k, v []byte) bool {
		var b Batch
		if err := json.Unmarshal(v, &b); err != nil {
			c.add("batch %x: %v", k, err)
			return true
		}
		c.batchKind[binary.BigEndian.Uint64(k)] = b.Kind
		return true
	})
	return nil
}

// codes checks every code's record and filter entry, and counts codes by
// campaign, kind and state.
func (c *checker) codes(ctx context.Context, tx kv.Tx) error {
	f := c.s.filter.Load()
	n := 0
	var err error
	tx.Scan(bucketCodes, kv.All, func(k, v []byte) bool {
		if n++; n%65536 == 0 && ctx.Err() != nil {
			err = ctx.Err()
			return false
		}
		if !f.Test(k) {
			c.add("code %s: missing from the filter", k)
		}
		r, derr := decodeCodeRec(v)
		if derr != nil {
			c.add("code %s: %v", k, derr)
			return true
		}
		if c.cat.byNum[r.camp] == nil {
			c.add("code %s: unknown campaign %d", k, r.camp)
			return true
		}
		cv := c.vec(r.camp)
		if r.batch == 0 || c.batchKind[r.batch] == "generate" {
			cv[cGenerated]++
		} else {
			cv[cImported]++
		}
		if r.customer != "" {
			cv[cAssigned]++
			if r.redemptions > 0 {
				cv[cUsedAssigned]++
			}
		}
		if r.state == stateVoided {
			cv[cVoided]++
		}
		cv[stateCounter(r.state)]++
		c.codeUses[string(k)] = int64(r.redemptions)
		return true
	})
	return err
}

// redemptions counts redemptions in force and rolled back, by campaign,
// code and customer, and compares the codes' counts with them.
func (c *checker) redemptions(_ context.Context, tx kv.Tx) error {
	c.custUse, c.redUses = map[string]int64{}, map[string]int64{}
	tx.Scan(bucketRedemptions, kv.All, func(k, v []byte) bool {
		var r Redemption
		if err := json.Unmarshal(v, &r); err != nil {
			c.add("redemption %x: %v", k, err)
			return true
		}
		camp := c.cat.byID[r.Campaign]
		if camp == nil {
			c.add("redemption %s: unknown campaign %q", r.ID, r.Campaign)
			return true
		}
		cv := c.vec(camp.Num)
		if r.RolledBackAt != nil {
			cv[cRolledBack]++
			return true
		}
		cv[cRedeemed]++
		cv[cDiscount] += r.Discount
		cv[cOrders] += r.OrderAmount
		c.redUses[string(mustNormalize(r.Code))]++
		if r.CustomerID != "" {
			c.custUse[string(custKey(r.CustomerID, 'u', u32(camp.Num)))]++
		}
		return true
	})
	for key, n := range c.codeUses {
		if c.redUses[key] != n {
			c.add("code %s: record says %d redemptions in force, the redemptions say %d", key, n, c.redUses[key])
		}
	}
	return nil
}

// counters compares every campaign's stored counters with the recount.
func (c *checker) counters(_ context.Context, tx kv.Tx) error {
	for _, camp := range c.cat.byNum {
		stored, want := readVec(tx, camp.Num), c.vec(camp.Num)
		for i := 0; i < cAssignCursor; i++ {
			if stored[i] != want[i] {
				c.add("campaign %s: counter %s is %d, a recount gives %d", camp.ID, counterNames[i], stored[i], want[i])
			}
		}
		if stored[cUsedAssigned] != want[cUsedAssigned] {
			c.add("campaign %s: counter assigned_used is %d, a recount gives %d", camp.ID, stored[cUsedAssigned], want[cUsedAssigned])
		}
	}
	return nil
}

// indexes checks that each campaign's creation-order index lists its
// codes, without gaps.
func (c *checker) indexes(_ context.Context, tx kv.Tx) error {
	for _, camp := range c.cat.byNum {
		want := c.vec(camp.Num)
		idx := int64(0)
		err := walkIndex(tx, camp.Num, 0, func(seq uint64, key []byte) (bool, error) {
			if seq != uint64(idx) {
				c.add("campaign %s: code index has a gap at %d", camp.ID, idx)
			}
			if _, ok := c.codeUses[string(key)]; !ok {
				c.add("campaign %s: code index names a missing code %s", camp.ID, key)
			}
			idx++
			return true, nil
		})
		if err != nil {
			c.add("campaign %s: %v", camp.ID, err)
		}
		if idx != want[cGenerated]+want[cImported] {
			c.add("campaign %s: code index holds %d codes, the campaign has %d", camp.ID, idx, want[cGenerated]+want[cImported])
		}
	}
	return nil
}

// customerLimits compares each customer's one-per-customer counters with
// their redemptions in force.
func (c *checker) customerLimits(_ context.Context, tx kv.Tx) error {
	tx.Scan(bucketCustomers, kv.All, func(k, v []byte) bool {
		if i := bytes.IndexByte(k, 0); i >= 0 && i+1 < len(k) && k[i+1] == 'u' {
			if got := int64(binary.BigEndian.Uint32(v)); got != c.custUse[string(k)] {
				c.add("customer %s: limit counter %d, redemptions in force %d", k[:i], got, c.custUse[string(k)])
			}
			delete(c.custUse, string(k))
		}
		return true
	})
	for k, n := range c.custUse {
		c.add("customer %s: %d redemptions in force but no limit counter", k[:strings.IndexByte(k, 0)], n)
	}
	return nil
}

// events checks that the event log's sequence numbers run from 1 to the
// sequence without a gap.
func (c *checker) events(_ context.Context, tx kv.Tx) error {
	want := uint64(1)
	tx.Scan(bucketEvents, kv.All, func(k, _ []byte) bool {
		if got := binary.BigEndian.Uint64(k); got != want {
			c.add("events: expected seq %d, found %d", want, got)
			want = got
		}
		want++
		return true
	})
	if last := readSeq(tx, seqEvents); last != want-1 {
		c.add("events: the log ends at %d but the sequence is at %d", want-1, last)
	}
	return nil
}

var counterNames = [...]string{"generated", "imported", "assigned", "redeemed", "rolled_back", "voided",
	"discount_total", "order_total", "available", "assigned (state)", "redeemed (state)", "voided (state)"}

// idempotency checks that every idempotency record reads, and that a
// redemption's record names a redemption that exists.
func (c *checker) idempotency(_ context.Context, tx kv.Tx) error {
	tx.Scan(bucketIdem, kv.All, func(k, v []byte) bool {
		scope, key, _ := bytes.Cut(k, []byte{0})
		rec, err := decodeIdemRecord(v)
		switch {
		case err != nil:
			c.add("idempotency record %q of %q: %v", key, scope, err)
		case rec.Ref != 0 && tx.Get(bucketRedemptions, seqKey(rec.Ref)) == nil:
			c.add("idempotency record %q of %q: names redemption %s, which does not exist", key, scope, redemptionName(rec.Ref))
		}
		return true
	})
	return nil
}
