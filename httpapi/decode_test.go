package httpapi

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"promo/store"
)

// The fast path takes what tills send and leaves everything else to
// encoding/json, whose answers (and error messages) stay the contract's.
func TestDecodeRedeemFast_TakesTillBodiesOnly(t *testing.T) {
	for body, want := range map[string]store.RedeemRequest{
		`{"code":"7K3MQ9XD2RTM"}`: {Code: "7K3MQ9XD2RTM"},
		` { "code" : "7K3M-Q9XD" , "order_amount" : 4999 , "currency":"eur"}` + "\n": {Code: "7K3M-Q9XD", OrderAmount: 4999, Currency: "eur"},
		`{"code":"A","customer_id":"c-1","order_id":"o-9","terminal":"till 3","hold_id":"h_1","order_amount":0}`: {
			Code: "A", CustomerID: "c-1", OrderID: "o-9", Terminal: "till 3", HoldID: "h_1"},
		`{"code":"A","code":"B"}`: {Code: "B"},
		`{}`:                      {},
	} {
		var got store.RedeemRequest
		require.True(t, decodeRedeemFast([]byte(body), &got), body)
		assert.Equal(t, want, got, body)
	}
	for _, body := range []string{
		`{"Code":"A"}`, `{"code":"\u0041"}`, `{"code":"é"}`, `{"code":null}`, `{"hold":"5m"}`, `{"order_amount":012}`,
		`{"order_amount":1.5}`, `{"order_amount":-1}`, `{"order_amount":9999999999999999999}`, `{"code":"A"} x`,
		`{"code":"A",}`, `{"code":"A"`, `{"code":"A","unknown":"x"}`, `[]`, `{"code":5}`,
	} {
		var got store.RedeemRequest
		assert.False(t, decodeRedeemFast([]byte(body), &got), body)
	}
	// A body the fast path leaves gets encoding/json's answer, whole.
	var req store.RedeemRequest
	err := decodeJSON([]byte(`{"code":"A","order_amount":"12"}`), &req, false)
	require.Error(t, err)
	assert.Equal(t, "order_amount: want a whole number, got string", store.ErrorMessage(err))
	require.NoError(t, decodeJSON([]byte(`{"code":"\u0041","hold":"5m"}`), &req, false))
	assert.Equal(t, "A", req.Code)
}
