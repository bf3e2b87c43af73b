package store

import (
	"encoding/binary"
	"time"

	"promo/store/kv"
)

// Counts are a campaign's counters. They change in the same transaction as
// the data they count, so they always equal a recount (see Check).
type Counts struct {
	Codes         int64       `json:"codes"`       // generated + imported
	Generated     int64       `json:"generated"`   // made by Generate (and on demand by Assign)
	Imported      int64       `json:"imported"`    // brought in by Import
	Assigned      int64       `json:"assigned"`    // codes given to a customer, ever (same as EverAssigned)
	Redeemed      int64       `json:"redeemed"`    // redemptions in force (not rolled back)
	RolledBack    int64       `json:"rolled_back"` // redemptions undone
	Voided        int64       `json:"voided"`      // codes voided
	DiscountTotal int64       `json:"discount_total"`
	OrderTotal    int64       `json:"order_total"`
	ByState       StateCounts `json:"by_state"`
	// EverAssigned is the number of codes ever given to a customer (also
	// after they were redeemed or voided): the same figure as Assigned,
	// under a name that cannot be read as a state.
	EverAssigned int64 `json:"ever_assigned"`
	// AssignedNow is the number of codes in state assigned now: given to a
	// customer and not used up nor voided (ByState.Assigned).
	AssignedNow int64 `json:"assigned_now"`
	// AssignedUsed is the number of codes given to a customer that have
	// at least one redemption in force.
	AssignedUsed int64 `json:"assigned_used"`
}

// StateCounts counts a campaign's codes by state; they sum to Codes.
type StateCounts struct {
	Available int64 `json:"available"`
	Assigned  int64 `json:"assigned"`
	Redeemed  int64 `json:"redeemed"`
	Voided    int64 `json:"voided"`
}

// Indexes into a campaign's counter vector.
const (
	cGenerated = iota
	cImported
	cAssigned
	cRedeemed
	cRolledBack
	cVoided
	cDiscount
	cOrders
	cStAvailable
	cStAssigned
	cStRedeemed
	cStVoided
	cAssignCursor // internal: campaign_codes seq from which Assign looks for a free code
	cUsedAssigned // codes assigned to a customer with at least one redemption in force
	nCounters
)

// Indexes into a dimension's vector (by day, channel, terminal).
const (
	dAssigned = iota
	dRedeemed
	dRolledBack
	dDiscount
	dOrders
	nDim
)

// Dimension tags in counter keys.
const (
	dimTotal    = 0
	dimDay      = 'd'
	dimChannel  = 'c'
	dimTerminal = 't'
	dimReject   = 'r' // refusals by reason: a vector of one
)

func counterKey(num uint32, dim byte, sub []byte) []byte {
	k := make([]byte, 0, 5+len(sub))
	k = binary.BigEndian.AppendUint32(k, num)
	k = append(k, dim)
	return append(k, sub...)
}

func dayKey(num uint32, t time.Time) []byte {
	y, m, d := t.UTC().Date()
	return counterKey(num, dimDay, binary.BigEndian.AppendUint32(nil, uint32(y*10000+int(m)*100+d)))
}

func decodeVec(v []byte, n int) []int64 {
	out := make([]int64, n)
	for i := 0; i < n && 8*i+8 <= len(v); i++ {
		out[i] = int64(binary.LittleEndian.Uint64(v[8*i:]))
	}
	return out
}

func encodeVec(v []int64) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
	}
	return b
}

func readVec(tx kv.Tx, num uint32) []int64 {
	return readCounter(tx, counterKey(num, dimTotal, nil), nCounters)
}

func readCounts(tx kv.Tx, num uint32) Counts {
	return countsOf(readVec(tx, num))
}

func countsOf(v []int64) Counts {
	return Counts{
		Codes: v[cGenerated] + v[cImported], Generated: v[cGenerated], Imported: v[cImported],
		Assigned: v[cAssigned], Redeemed: v[cRedeemed], RolledBack: v[cRolledBack], Voided: v[cVoided],
		DiscountTotal: v[cDiscount], OrderTotal: v[cOrders],
		ByState:      StateCounts{Available: v[cStAvailable], Assigned: v[cStAssigned], Redeemed: v[cStRedeemed], Voided: v[cStVoided]},
		EverAssigned: v[cAssigned], AssignedNow: v[cStAssigned], AssignedUsed: v[cUsedAssigned],
	}
}

// stateCounter is the counter index of a code state.
func stateCounter(state byte) int64 {
	switch state {
	case stateAssigned:
		return cStAssigned
	case stateRedeemed:
		return cStRedeemed
	case stateVoided:
		return cStVoided
	}
	return cStAvailable
}
