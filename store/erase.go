package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"promo/store/kv"
)

// Erasure (a customer's right to be forgotten) replaces the customer's id
// by a pseudonym ("erased-" and 12 random hex digits) everywhere promo keeps
// it: assignments, redemptions, the event log, the customer index and
// limits, idempotency answers, and the refusals kept to spot leaks; the
// customer's live holds end. Counters do not change, except that the
// customer's codes that were not redeemed are voided: nobody can prove to
// hold them any more. The event customer.erased names only the pseudonym.
//
// It runs in steps of bounded transactions (the event log may be long):
// first the pseudonym is recorded under a hash of the id, so that a run cut
// short by a crash goes on with the same pseudonym when repeated; then the
// event log and the other records are rewritten chunk by chunk; last, one
// transaction moves the customer's index and codes and drops the record.

// erasingPrefix keys the pseudonym of an erasure under way, by the
// SHA-256 of the customer id.
var erasingPrefix = []byte("erasing/")

// ErasureResult reports an erasure.
type ErasureResult struct {
	Pseudonym   string `json:"pseudonym"`
	Codes       int    `json:"codes"`       // codes whose holder became the pseudonym
	Voided      int    `json:"voided"`      // of them, voided as not redeemed
	Redemptions int    `json:"redemptions"` // redemptions rewritten
	Events      int    `json:"events"`      // events rewritten
}

// eraseChunk bounds the records one transaction of an erasure rewrites.
const eraseChunk = 2000

// EraseCustomer forgets the customer (see above). It returns not_found when
// promo knows no such customer, or invalid_request for a bad id.
func (s *Store) EraseCustomer(ctx context.Context, id string) (ErasureResult, error) {
	if err := checkText("customer_id", id, 128, true); err != nil {
		return ErasureResult{}, err
	}
	var res ErasureResult
	hash := sha256.Sum256([]byte(id))
	pendingKey := append(bytes.Clone(erasingPrefix), hex.EncodeToString(hash[:])...)
	known := false
	err := s.update(ctx, func(tx *wtx) error {
		tx.Scan(bucketCustomers, kv.Prefix(append([]byte(id), 0)), func(_, _ []byte) bool {
			known = true
			return false
		})
		if v := tx.Get(bucketMeta, pendingKey); v != nil {
			res.Pseudonym = string(v)
			return nil
		}
		if !known {
			return nil
		}
		var b [6]byte
		if _, err := rand.Read(b[:]); err != nil {
			return internal(err, "draw a pseudonym")
		}
		res.Pseudonym = "erased-" + hex.EncodeToString(b[:])
		tx.Put(bucketMeta, pendingKey, []byte(res.Pseudonym))
		return nil
	})
	if err != nil {
		return res, err
	}
	if res.Pseudonym == "" {
		return res, Errorf(ENotFound, "no customer %q: no code was assigned to them and they redeemed none", truncate(id, 70))
	}
	n, err := s.rewriteEvents(ctx, id, res.Pseudonym)
	res.Events = n
	if err != nil {
		return res, err
	}
	if err := s.scrubRecords(ctx, id, res.Pseudonym); err != nil {
		return res, err
	}
	err = s.update(ctx, func(tx *wtx) error {
		r := res
		if err := s.moveCustomer(tx, id, &r); err != nil {
			return err
		}
		tx.Delete(bucketMeta, pendingKey)
		if err := appendEvent(tx, s.now(), &Event{Type: EventCustomerErased, CustomerID: r.Pseudonym,
			Count: int64(r.Codes)}); err != nil {
			return err
		}
		tx.onCommit(func() { res = r })
		return nil
	})
	return res, err
}

// rewriteEvents replaces id by pseudonym in the event log, in chunks, and
// returns how many events it rewrote.
func (s *Store) rewriteEvents(ctx context.Context, id, pseudonym string) (int, error) {
	needle := appendJSONString(nil, id)
	total := 0
	s.settleEvents()                // pending events are rewritten once numbered
	chunk := s.perTx(eraseChunk, 1) // each event seen may be rewritten
	for from := uint64(1); ; {
		n, next, more := 0, from, false
		err := s.update(ctx, func(tx *wtx) error {
			n, next, more = 0, from, false
			var err error
			seen := 0
			tx.Scan(bucketEvents, kv.From(seqKey(from)), func(k, v []byte) bool {
				if seen == chunk {
					next, more = binary.BigEndian.Uint64(k), true
					return false
				}
				seen++
				next = binary.BigEndian.Uint64(k) + 1
				if !bytes.Contains(v, needle) {
					return true
				}
				var e Event
				if err = json.Unmarshal(v, &e); err != nil {
					err = internal(err, "read event")
					return false
				}
				if e.CustomerID != id {
					return true
				}
				e.CustomerID = pseudonym
				tx.Put(bucketEvents, bytes.Clone(k), e.appendJSON(nil))
				n++
				return true
			})
			return err
		})
		if err != nil {
			return total, err
		}
		total += n
		if !more {
			return total, nil
		}
		from = next
	}
}

// scrubRecords replaces id by pseudonym in idempotency answers, deletes
// the customer's live holds, and drops the refusals noted against them.
func (s *Store) scrubRecords(ctx context.Context, id, pseudonym string) error {
	needle, with := appendJSONString(nil, id), appendJSONString(nil, pseudonym)
	return s.update(ctx, func(tx *wtx) error {
		type kvp struct{ k, v []byte }
		var idem []kvp
		tx.Scan(bucketIdem, kv.All, func(k, v []byte) bool {
			if bytes.Contains(v, needle) {
				if rec, err := decodeIdemRecord(v); err == nil {
					rec.Result = bytes.ReplaceAll(rec.Result, needle, with)
					idem = append(idem, kvp{bytes.Clone(k), rec.encode()})
				}
			}
			return true
		})
		for _, p := range idem {
			tx.Put(bucketIdem, p.k, p.v)
		}
		type hold struct {
			id uint64
			h  holdRec
		}
		var holds []hold
		tx.Scan(bucketHolds, kv.All, func(k, v []byte) bool {
			var h holdRec
			if json.Unmarshal(v, &h) == nil && h.Customer == id {
				holds = append(holds, hold{binary.BigEndian.Uint64(k), h})
			}
			return true
		})
		for _, h := range holds {
			deleteHold(tx, h.id, h.h)
		}
		suffix := append([]byte{0}, id...)
		var refusals [][]byte
		tx.Scan(bucketRefusers, kv.All, func(k, _ []byte) bool {
			if bytes.HasSuffix(k, suffix) {
				refusals = append(refusals, bytes.Clone(k))
			}
			return true
		})
		for _, k := range refusals {
			tx.Delete(bucketRefusers, k)
		}
		return nil
	})
}

// moveCustomer moves the customer's index entries to the pseudonym,
// rewrites their codes and redemptions, and voids their codes that were
// not redeemed.
func (s *Store) moveCustomer(tx *wtx, id string, res *ErasureResult) error {
	pfx := append([]byte(id), 0)
	type entry struct{ k, v []byte }
	var entries []entry
	tx.Scan(bucketCustomers, kv.Prefix(pfx), func(k, v []byte) bool {
		entries = append(entries, entry{bytes.Clone(k), bytes.Clone(v)})
		return true
	})
	now := s.now().UTC()
	cat := s.cat.Load()
	for _, e := range entries {
		tag, rest := e.k[len(pfx)], e.k[len(pfx)+1:]
		tx.Delete(bucketCustomers, e.k)
		tx.Put(bucketCustomers, custKey(res.Pseudonym, tag, rest), e.v)
		switch tag {
		case 'c':
			rec, err := decodeCodeRec(tx.Get(bucketCodes, rest))
			if err != nil {
				return internal(fmt.Errorf("code %s: %w", rest, err), "read code")
			}
			if rec.customer != id {
				continue
			}
			c := cat.byNum[rec.camp]
			if c == nil {
				return internal(fmt.Errorf("code %s: campaign %d missing", rest, rec.camp), "read code")
			}
			rec.customer = res.Pseudonym
			res.Codes++
			if rec.state != stateRedeemed && rec.state != stateVoided {
				old := rec.state
				rec.state, rec.voidedAt = stateVoided, now.UnixMilli()
				if err := bump(tx, counterKey(c.Num, dimTotal, nil), nCounters, cVoided, 1, stateCounter(old), -1, cStVoided, 1); err != nil {
					return err
				}
				res.Voided++
			}
			tx.Put(bucketCodes, rest, rec.encode())
		case 'r':
			n := binary.BigEndian.Uint64(rest)
			r, err := getRedemption(tx, n)
			if err != nil {
				return err
			}
			if r.CustomerID == id {
				r.CustomerID = res.Pseudonym
				if err := putRedemption(tx, n, &r); err != nil {
					return err
				}
				res.Redemptions++
			}
		}
	}
	return nil
}
