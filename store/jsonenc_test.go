package store

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// FuzzJSONEncoding holds the hand-written encoders byte-identical to
// encoding/json for events and redemptions.
func FuzzJSONEncoding(f *testing.F) {
	f.Add("code.redeemed", "7K3M-Q9XD-2RTM", "cust <42> & \"friends\"", "\u2028\x01\xff é", int64(4999), int64(-1), int64(1732200000123456789))
	f.Add("", "", "", "", int64(0), int64(0), int64(0))
	f.Fuzz(func(t *testing.T, typ, code, customer, text string, amount, discount, nanos int64) {
		ts := time.Unix(0, nanos).UTC()
		e := Event{Seq: uint64(amount), Time: ts, Type: typ, Campaign: text, Code: code, CustomerID: customer,
			Channel: text, Redemption: code, OrderID: customer, OrderAmount: amount, Currency: typ, Discount: discount,
			Terminal: text, RewardCode: code, Batch: typ, Count: discount, Status: text, Reason: customer, Key: code, Role: typ, Hold: text}
		want, err := json.Marshal(&e)
		if err != nil {
			return // a time json cannot write is not ours to encode either
		}
		require.Equal(t, string(want), string(e.appendJSON(nil)))
		var rolled *time.Time
		if amount%2 == 0 {
			rolled = &ts
		}
		r := Redemption{ID: code, Code: code, Campaign: typ, CustomerID: customer, OrderID: text, OrderAmount: amount,
			Currency: typ, Discount: discount, Benefit: Benefit{Type: typ, Value: amount, Currency: text, Text: customer},
			Terminal: text, Channel: typ, RedeemedAt: ts, RolledBackAt: rolled, RollbackReason: text, RewardCode: code, RewardError: customer, Hold: typ}
		want, err = json.Marshal(&r)
		require.NoError(t, err)
		require.Equal(t, string(want), string(r.appendJSON(nil)))
		v := Validation{Valid: amount%3 == 0, Reason: typ, Message: text, Code: code, Campaign: customer, Discount: discount, Currency: typ}
		if amount%2 == 0 {
			v.Benefit = &r.Benefit
			v.Hold = &HoldRef{ID: code, ExpiresAt: ts}
		}
		want, err = json.Marshal(&v)
		require.NoError(t, err)
		require.Equal(t, string(want), string(v.appendJSON(nil)))
	})
}
