package store

import (
	"bytes"
	"encoding/json"
	"sort"
	"sync/atomic"
	"time"

	"promo/store/kv"
)

// Suspected leaks: a real code refused to LeakCustomers or more distinct
// customers (already redeemed, someone else's, over a customer's limit,
// held for another cart) has most likely been shared, e.g. on a coupon
// site. Such a code is flagged once, with the event code.suspected_leak,
// and listed in its campaign's stats.
//
// Refusals are noted by an operation of their own, queued without waiting
// (a refusal's answer never waits for a write); a guess of a code that
// does not exist is never noted, as it is refused before any code is found.
//
//	leaks     num(4) code key          → leakRec JSON
//	refusers  code key 0 customer      → nothing, until the code is flagged
const (
	bucketLeaks    kv.Bucket = "leaks"
	bucketRefusers kv.Bucket = "refusers"
)

// LeakCustomers is how many distinct customers a code must be refused to
// before it is a suspected leak.
const LeakCustomers = 5

// leakReasons are the refusals that say someone else had the code.
var leakReasons = map[string]bool{EAlreadyRedeemed: true, EWrongCustomer: true, ECustomerLimit: true, EHeld: true}

// Leak is a code suspected of having leaked.
type Leak struct {
	Code      string    `json:"code"`
	Refusals  int64     `json:"refusals"`
	Customers int       `json:"distinct_customers"`
	FlaggedAt time.Time `json:"flagged_at"`
	// State is the code's state now (voided once someone voided it).
	State string `json:"state"`
}

type leakRec struct {
	Refusals  int64 `json:"r"`
	Customers int   `json:"c"`
	Flagged   int64 `json:"f,omitempty"` // unix ms
}

// leakNotesDropped counts refusals not noted because the writer's queue
// was full.
var leakNotesDropped atomic.Int64

// noteRefusal queues a note that customer was refused f's code for reason.
func (s *Store) noteRefusal(f found, customer, reason string) {
	if !leakReasons[reason] || customer == "" || s.opts.ReadOnly {
		return
	}
	key, camp := bytes.Clone(f.key), f.camp
	o := &op{fn: func(tx *wtx) error { return s.noteRefusalTx(tx, camp, key, customer) }, done: make(chan struct{})}
	if !s.submitNoWait(o) {
		leakNotesDropped.Add(1)
	}
}

func (s *Store) noteRefusalTx(tx *wtx, c *Campaign, key []byte, customer string) error {
	lk := append(u32(c.Num), key...)
	var rec leakRec
	if v := tx.Get(bucketLeaks, lk); v != nil {
		if err := json.Unmarshal(v, &rec); err != nil {
			return internal(err, "read leak record")
		}
	}
	rec.Refusals++
	if rec.Flagged == 0 {
		rk := append(append(bytes.Clone(key), 0), customer...)
		if tx.Get(bucketRefusers, rk) == nil {
			tx.Put(bucketRefusers, rk, nil)
			rec.Customers++
		}
		if rec.Customers >= LeakCustomers {
			now := s.now().UTC()
			rec.Flagged = now.UnixMilli()
			var done [][]byte
			tx.Scan(bucketRefusers, kv.Prefix(append(bytes.Clone(key), 0)), func(k, _ []byte) bool {
				done = append(done, bytes.Clone(k))
				return true
			})
			for _, k := range done {
				tx.Delete(bucketRefusers, k)
			}
			if err := appendEvent(tx, now, &Event{Type: EventSuspectedLeak, Campaign: c.ID,
				Code: c.Format.Display(string(key)), Count: int64(rec.Customers)}); err != nil {
				return err
			}
		}
	}
	v, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	tx.Put(bucketLeaks, lk, v)
	return nil
}

// suspectedLeaks lists the campaign's flagged codes, most refused first.
func suspectedLeaks(tx kv.Tx, c *Campaign) ([]Leak, error) {
	out := []Leak{}
	var err error
	pfx := u32(c.Num)
	tx.Scan(bucketLeaks, kv.Prefix(pfx), func(k, v []byte) bool {
		var rec leakRec
		if err = json.Unmarshal(v, &rec); err != nil {
			return false
		}
		if rec.Flagged != 0 {
			code, state := c.Format.Display(string(k[len(pfx):])), ""
			if cv, ok := codeDisplay(tx, k[len(pfx):], c); ok {
				code, state = cv.Code, cv.State
			}
			out = append(out, Leak{Code: code, Refusals: rec.Refusals, Customers: rec.Customers, FlaggedAt: time.UnixMilli(rec.Flagged).UTC(), State: state})
		}
		return true
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Refusals > out[j].Refusals })
	return out, err
}

// codeDisplay is how the code of key is shown (an imported code keeps its
// own form).
func codeDisplay(tx kv.Tx, key []byte, c *Campaign) (Code, bool) {
	rec, err := decodeCodeRec(tx.Get(bucketCodes, key))
	if err != nil {
		return Code{}, false
	}
	return codeView(string(key), rec, c), true
}
