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

// Holds: a cart reserves a code's next use for one customer for a while
// (validate with "hold"). While the hold lives the use it reserves is
// taken: another customer is refused with held, and a campaign's budget
// counts it. It ends when the customer redeems (the redemption uses it),
// when it is released, or when it expires: an expired hold simply stops
// counting, so no sweep is needed for correctness (maintenance deletes
// expired records now and then).
//
// A hold is kept three times, each keyed for one question:
//
//	holds           id(8)                 → holdRec JSON
//	code_holds      code key 0 id(8)      → expiry ms(8) customer   (is this code held, by whom?)
//	campaign_holds  num(4) id(8)          → expiry ms(8) discount(8) (what do live holds take of the budget?)
const (
	bucketHolds     kv.Bucket = "holds"
	bucketCodeHolds kv.Bucket = "code_holds"
	bucketCampHolds kv.Bucket = "campaign_holds"
	seqHolds                  = "holds"
)

// Bounds of a hold's duration.
const (
	MinHold = time.Second
	MaxHold = 24 * time.Hour
)

// Hold is a live reservation of a code's next use, as callers see it.
type Hold struct {
	ID         string    `json:"id"`
	Code       string    `json:"code"`
	Campaign   string    `json:"campaign"`
	CustomerID string    `json:"customer_id"`
	Discount   int64     `json:"discount"`
	ExpiresAt  time.Time `json:"expires_at"`
	CreatedAt  time.Time `json:"created_at"`
}

// HoldRef is the hold a valid validation placed.
type HoldRef struct {
	ID        string    `json:"id"`
	ExpiresAt time.Time `json:"expires_at"`
}

type holdRec struct {
	Key      string `json:"k"` // the code's key
	Num      uint32 `json:"n"`
	Customer string `json:"c"`
	Scope    string `json:"s"` // the API key that placed it
	Discount int64  `json:"d"`
	Expires  int64  `json:"e"` // unix ms
	Created  int64  `json:"t"`
}

func holdName(n uint64) string { return "hd_" + strconv.FormatUint(n, 10) }

func parseHoldName(s string) (uint64, bool) {
	n, err := strconv.ParseUint(strings.TrimPrefix(s, "hd_"), 10, 64)
	return n, err == nil && strings.HasPrefix(s, "hd_") && n > 0
}

func codeHoldKey(key []byte, id uint64) []byte {
	return binary.BigEndian.AppendUint64(codeHoldPrefix(key), id)
}

// codeHoldPrefix starts the code_holds keys of a code.
func codeHoldPrefix(key []byte) []byte { return append(append([]byte(nil), key...), 0) }

func campHoldKey(num uint32, id uint64) []byte {
	return binary.BigEndian.AppendUint64(u32(num), id)
}

// liveHold is a hold of a code that has not expired.
type liveHold struct {
	id       uint64
	customer string
	expires  int64
}

// codeHolds returns the code's live holds at now.
func codeHolds(tx kv.Tx, key []byte, now time.Time) []liveHold {
	var out []liveHold
	pfx := codeHoldPrefix(key)
	ms := now.UnixMilli()
	tx.Scan(bucketCodeHolds, kv.Prefix(pfx), func(k, v []byte) bool {
		if len(k) != len(pfx)+8 || len(v) < 8 {
			return true
		}
		if exp := int64(binary.BigEndian.Uint64(v)); exp > ms {
			out = append(out, liveHold{id: binary.BigEndian.Uint64(k[len(pfx):]), customer: string(v[8:]), expires: exp})
		}
		return true
	})
	return out
}

// campaignHeld returns how many live holds the campaign has at now, and
// the discount they reserve, leaving out the hold except.
func campaignHeld(tx kv.Tx, num uint32, now time.Time, except uint64) (int64, int64) {
	var n, discount int64
	ms := now.UnixMilli()
	tx.Scan(bucketCampHolds, kv.Prefix(u32(num)), func(k, v []byte) bool {
		if len(k) != 12 || len(v) != 16 || binary.BigEndian.Uint64(k[4:]) == except {
			return true
		}
		if int64(binary.BigEndian.Uint64(v)) > ms {
			n++
			discount += int64(binary.BigEndian.Uint64(v[8:]))
		}
		return true
	})
	return n, discount
}

func getHold(tx kv.Tx, id uint64) (holdRec, bool, error) {
	var h holdRec
	v := tx.Get(bucketHolds, seqKey(id))
	if v == nil {
		return h, false, nil
	}
	if err := json.Unmarshal(v, &h); err != nil {
		return h, false, internal(err, "read hold")
	}
	return h, true, nil
}

func putHold(tx *wtx, id uint64, h holdRec) error {
	v, err := json.Marshal(h)
	if err != nil {
		return err
	}
	tx.Put(bucketHolds, seqKey(id), v)
	exp := binary.BigEndian.AppendUint64(nil, uint64(h.Expires))
	tx.Put(bucketCodeHolds, codeHoldKey([]byte(h.Key), id), append(exp, h.Customer...))
	tx.Put(bucketCampHolds, campHoldKey(h.Num, id), binary.BigEndian.AppendUint64(exp, uint64(h.Discount)))
	return nil
}

func deleteHold(tx *wtx, id uint64, h holdRec) {
	tx.Delete(bucketHolds, seqKey(id))
	tx.Delete(bucketCodeHolds, codeHoldKey([]byte(h.Key), id))
	tx.Delete(bucketCampHolds, campHoldKey(h.Num, id))
}

// checkHoldRequest validates a validation's hold fields.
func (r *RedeemRequest) checkHold() error {
	if r.Hold == 0 {
		return nil
	}
	d := time.Duration(r.Hold)
	switch {
	case d < MinHold || d > MaxHold:
		return fieldErr("hold", "want 1s to 24h, got %s", r.Hold)
	case r.CustomerID == "":
		return fieldErr("customer_id", "required with hold: a hold reserves the code for one customer's cart")
	}
	return nil
}

// placeHold reserves f's next use for req's customer until now+hold, or
// renews the customer's own live hold of the code. The rules have passed.
func (s *Store) placeHold(tx *wtx, req *RedeemRequest, f found, discount int64, now time.Time) (HoldRef, error) {
	exp := now.Add(time.Duration(req.Hold))
	h := holdRec{Key: string(f.key), Num: f.camp.Num, Customer: req.CustomerID, Scope: req.Scope,
		Discount: discount, Expires: exp.UnixMilli(), Created: now.UnixMilli()}
	id := uint64(0)
	if f.hold != nil {
		id = f.hold.id
	} else {
		id = tx.nextSeq(seqHolds)
	}
	if err := putHold(tx, id, h); err != nil {
		return HoldRef{}, err
	}
	ref := HoldRef{ID: holdName(id), ExpiresAt: time.UnixMilli(h.Expires).UTC()}
	code := codeView(string(f.key), f.rec, f.camp).Code
	return ref, appendEvent(tx, now, &Event{Type: EventHoldPlaced, Campaign: f.camp.ID, Code: code,
		CustomerID: req.CustomerID, Hold: ref.ID, Discount: discount})
}

// ReleaseHold frees a live hold. A hold is released by the API key that
// placed it (the scope), or by an admin (scope ""); to anyone else, and
// for an unknown or expired hold, it returns not_found.
func (s *Store) ReleaseHold(ctx context.Context, id, scope string) (Hold, error) {
	n, ok := parseHoldName(id)
	if !ok {
		return Hold{}, &Error{Code: ENotFound, Field: "id", Message: fmt.Sprintf("no hold %q: ids look like hd_123", truncate(id, 40))}
	}
	var out Hold
	err := s.update(ctx, func(tx *wtx) error {
		h, found, err := getHold(tx, n)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		if !found || h.Expires <= now.UnixMilli() || (scope != "" && h.Scope != scope) {
			return &Error{Code: ENotFound, Field: "id", Message: fmt.Sprintf("no live hold %s (it was released, was used, expired, or was placed by another key)", id)}
		}
		c := s.cat.Load().byNum[h.Num]
		if c == nil {
			return internal(fmt.Errorf("hold %d: campaign %d missing", n, h.Num), "read hold")
		}
		out = holdView(n, h, c)
		deleteHold(tx, n, h)
		return appendEvent(tx, now, &Event{Type: EventHoldReleased, Campaign: c.ID, Code: out.Code, CustomerID: h.Customer, Hold: id})
	})
	return out, err
}

func holdView(id uint64, h holdRec, c *Campaign) Hold {
	return Hold{ID: holdName(id), Code: c.Format.Display(h.Key), Campaign: c.ID, CustomerID: h.Customer,
		Discount: h.Discount, ExpiresAt: time.UnixMilli(h.Expires).UTC(), CreatedAt: time.UnixMilli(h.Created).UTC()}
}

// purgeHolds deletes the records of expired holds.
func (s *Store) purgeHolds(ctx context.Context) error {
	type old struct {
		id uint64
		h  holdRec
	}
	var expired []old
	ms := s.now().UnixMilli()
	err := s.view(func(tx kv.Tx) error {
		tx.Scan(bucketHolds, kv.All, func(k, v []byte) bool {
			var h holdRec
			if json.Unmarshal(v, &h) == nil && h.Expires <= ms {
				expired = append(expired, old{binary.BigEndian.Uint64(k), h})
			}
			return len(expired) < 10_000
		})
		return nil
	})
	if err != nil || len(expired) == 0 {
		return err
	}
	per := s.perTx(len(expired), 4) // a hold is 3 keys; within any engine's limits
	for len(expired) > 0 {
		part := expired[:min(len(expired), per)]
		expired = expired[len(part):]
		if err := s.update(ctx, func(tx *wtx) error {
			for _, o := range part {
				deleteHold(tx, o.id, o.h)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}
