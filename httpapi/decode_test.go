package httpapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
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

func TestReadBody_KnownAndUnknownLengths(t *testing.T) {
	req := func(body string, length int64) *http.Request {
		r := httptest.NewRequest("POST", "/v1/redeem", strings.NewReader(body))
		r.ContentLength = length
		return r
	}
	b, err := readBody(req(`{"code":"A"}`, 12), 1<<20)
	require.NoError(t, err)
	assert.Equal(t, `{"code":"A"}`, string(b))

	// A body shorter than its Content-Length is a bad request, not a hang or a short read.
	short := httptest.NewRequest("POST", "/v1/redeem", io.LimitReader(strings.NewReader(`{"code":"A"}`), 5))
	short.ContentLength = 12
	_, err = readBody(short, 1<<20)
	require.Error(t, err)
	assert.Equal(t, store.EInvalid, store.ErrorCode(err))
	assert.Contains(t, store.ErrorMessage(err), "unexpected EOF")

	big := strings.Repeat("x", smallBody+1)
	for _, length := range []int64{int64(len(big)), -1} { // past the small size, and unknown
		b, err = readBody(req(big, length), 1<<20)
		require.NoError(t, err)
		assert.Len(t, b, len(big))
		_, err = readBody(req(big, length), smallBody)
		assert.Equal(t, store.ETooLarge, store.ErrorCode(err))
	}
	_, err = readBody(req(`{"code":"A"}`, 12), 5)
	assert.Equal(t, store.ETooLarge, store.ErrorCode(err))
}
