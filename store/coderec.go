package store

import (
	"encoding/binary"
	"errors"
	"strconv"
	"time"
)

// Code states.
const (
	stateAvailable byte = iota
	stateAssigned
	stateRedeemed
	stateVoided
)

var stateNames = [...]string{"available", "assigned", "redeemed", "voided"}

// States lists the code states in their life order.
var States = stateNames[:]

func parseState(s string) (byte, bool) {
	for i, n := range stateNames {
		if n == s {
			return byte(i), true
		}
	}
	return 0, false
}

// codeRec is a code as stored: a few bytes for an available code, more once
// it is assigned, voided or redeemed.
type codeRec struct {
	state       byte
	camp        uint32
	batch       uint64
	customer    string
	channel     string
	assignedAt  int64  // unix milliseconds; 0 = never assigned
	voidedAt    int64  // unix milliseconds
	display     string // imported codes keep the form they came in
	redemptions uint32 // in force
	redIDs      []uint64
}

const (
	recVersion  = 1 << 4
	flagAssign  = 1 << 0
	flagVoid    = 1 << 1
	flagDisplay = 1 << 2
	flagRedeem  = 1 << 3
)

func (r *codeRec) encode() []byte {
	var flags byte = recVersion
	if r.customer != "" || r.assignedAt != 0 {
		flags |= flagAssign
	}
	if r.voidedAt != 0 {
		flags |= flagVoid
	}
	if r.display != "" {
		flags |= flagDisplay
	}
	if len(r.redIDs) > 0 || r.redemptions > 0 {
		flags |= flagRedeem
	}
	b := make([]byte, 0, 8+len(r.customer)+len(r.channel)+len(r.display)+4*len(r.redIDs))
	b = append(b, flags, r.state)
	b = binary.AppendUvarint(b, uint64(r.camp))
	b = binary.AppendUvarint(b, r.batch)
	if flags&flagAssign != 0 {
		b = appendString(b, r.customer)
		b = appendString(b, r.channel)
		b = binary.AppendVarint(b, r.assignedAt)
	}
	if flags&flagVoid != 0 {
		b = binary.AppendVarint(b, r.voidedAt)
	}
	if flags&flagDisplay != 0 {
		b = appendString(b, r.display)
	}
	if flags&flagRedeem != 0 {
		b = binary.AppendUvarint(b, uint64(r.redemptions))
		b = binary.AppendUvarint(b, uint64(len(r.redIDs)))
		for _, id := range r.redIDs {
			b = binary.AppendUvarint(b, id)
		}
	}
	return b
}

var errBadRecord = errors.New("corrupt code record")

// decodeCodeRec parses a stored record, copying every string out of b.
func decodeCodeRec(b []byte) (codeRec, error) {
	var r codeRec
	if len(b) < 4 || b[0]&0xF0 != recVersion || b[1] > stateVoided {
		return r, errBadRecord
	}
	flags := b[0]
	r.state = b[1]
	d := decoder{b: b[2:]}
	r.camp = uint32(d.uvarint())
	r.batch = d.uvarint()
	if flags&flagAssign != 0 {
		r.customer = d.string()
		r.channel = d.string()
		r.assignedAt = d.varint()
	}
	if flags&flagVoid != 0 {
		r.voidedAt = d.varint()
	}
	if flags&flagDisplay != 0 {
		r.display = d.string()
	}
	if flags&flagRedeem != 0 {
		r.redemptions = uint32(d.uvarint())
		n := d.uvarint()
		if n > uint64(len(d.b)) {
			return r, errBadRecord
		}
		r.redIDs = make([]uint64, n)
		for i := range r.redIDs {
			r.redIDs[i] = d.uvarint()
		}
	}
	if d.err || len(d.b) != 0 {
		return r, errBadRecord
	}
	return r, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

type decoder struct {
	b   []byte
	err bool
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.err, d.b = true, nil
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// Code is a promo code as callers see it.
type Code struct {
	Code            string       `json:"code"`
	Campaign        string       `json:"campaign"`
	State           string       `json:"state"`
	Batch           string       `json:"batch,omitempty"`
	CustomerID      string       `json:"customer_id,omitempty"`
	Channel         string       `json:"channel,omitempty"`
	AssignedAt      *time.Time   `json:"assigned_at,omitempty"`
	ExpiresAt       *time.Time   `json:"expires_at,omitempty"`
	VoidedAt        *time.Time   `json:"voided_at,omitempty"`
	RedemptionCount int          `json:"redemption_count"`
	MaxRedemptions  int          `json:"max_redemptions"`
	Redemptions     []Redemption `json:"redemptions,omitempty"`
}

func batchName(n uint64) string {
	if n == 0 {
		return ""
	}
	return "b" + strconv.FormatUint(n, 10)
}

// unixMilli is the time of a record's unix milliseconds, nil for 0.
func unixMilli(ms int64) *time.Time {
	if ms == 0 {
		return nil
	}
	t := time.UnixMilli(ms).UTC()
	return &t
}

func unixTime(sec int64) *time.Time {
	if sec == 0 {
		return nil
	}
	t := time.Unix(sec, 0).UTC()
	return &t
}

// codeView turns a stored record into a Code.
func codeView(key string, r codeRec, c *Campaign) Code {
	out := Code{
		Code: r.display, Campaign: c.ID, State: stateNames[r.state], Batch: batchName(r.batch),
		CustomerID: r.customer, Channel: r.channel, AssignedAt: unixMilli(r.assignedAt),
		VoidedAt: unixMilli(r.voidedAt), RedemptionCount: int(r.redemptions), MaxRedemptions: c.MaxRedemptionsPerCode,
	}
	if out.Code == "" {
		out.Code = c.Format.Display(key)
	}
	out.ExpiresAt = codeExpiry(r, c)
	return out
}

// codeExpiry is the earlier of the campaign's end and, for a campaign with
// valid_for, the assignment time plus valid_for.
func codeExpiry(r codeRec, c *Campaign) *time.Time {
	exp := c.ExpiresAt
	if c.ValidFor > 0 && r.assignedAt != 0 {
		t := time.UnixMilli(r.assignedAt).UTC().Add(time.Duration(c.ValidFor))
		if exp == nil || t.Before(*exp) {
			exp = &t
		}
	}
	return exp
}
