package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"promo/store"
)

// FuzzDecodeJSON feeds arbitrary bodies to the strict JSON decoder for
// every request type: it never panics, refuses with invalid_request and a
// message, and what it accepts survives a round trip.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"code": "7K3M-Q9XD-2RTM", "order_amount": 4999, "currency": "EUR"}`,
		`{"id": "w", "benefit": {"type": "percent", "value": 10}, "format": {"length": 8}, "valid_for": "48h"}`,
		`{"name": "x", "starts_at": null, "expires_at": "2027-01-31T23:59:59Z", "status": "paused"}`,
		`{"format": {"lenght": 1}}`, `{"expires_at": "soon"}`, `[]`, `null`, `{} {}`, `{"a":`, "\xff",
	} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		targets := []func() any{
			func() any { return &store.RedeemRequest{} },
			func() any { return &store.CampaignSpec{} },
			func() any { return &store.CampaignPatch{} },
			func() any { return &store.GenerateRequest{} },
			func() any { return &store.AssignRequest{} },
		}
		dst := targets[int(which)%len(targets)]()
		err := decodeJSON(body, dst, false)
		if err != nil {
			if store.ErrorCode(err) != store.EInvalid || store.ErrorMessage(err) == "" {
				t.Fatalf("body %q: %v", body, err)
			}
			return
		}
		again, err := json.Marshal(dst)
		if err != nil {
			return // e.g. a metadata value JSON cannot write back; not the decoder's concern
		}
		if err := json.Unmarshal(again, targets[int(which)%len(targets)]()); err != nil {
			t.Fatalf("accepted %q but its encoding %q does not decode: %v", body, again, err)
		}
	})
}

// FuzzIdempotencyHeader: the same key and body always hash the same, a
// different body never does, and bad keys are refused, never a panic.
func FuzzIdempotencyHeader(f *testing.F) {
	f.Add("sale-1", []byte(`{"code":"A"}`), []byte(`{"code":"B"}`))
	f.Add("", []byte(`{}`), []byte(`{}`))
	f.Fuzz(func(t *testing.T, key string, body, other []byte) {
		r := httptest.NewRequest("POST", "/v1/redeem", nil)
		r.Header.Set("Idempotency-Key", key)
		a, errA := idempotency(r, body)
		b, errB := idempotency(r, body)
		c, _ := idempotency(r, other)
		if (errA == nil) != (errB == nil) {
			t.Fatal("the same key is accepted once and refused once")
		}
		if errA != nil || a == nil {
			return
		}
		if a.Hash != b.Hash {
			t.Fatal("the same request hashed differently")
		}
		if c != nil && !bytes.Equal(body, other) && a.Hash == c.Hash {
			t.Fatalf("bodies %q and %q share a hash", body, other)
		}
	})
}

// FuzzClientAddr feeds arbitrary X-Forwarded-For headers through a trusted
// and an untrusted peer: it never panics, an untrusted peer is always
// logged as itself, and what a trusted peer forwards is always a plain
// address (never the header's other text, which could forge a log line).
func FuzzClientAddr(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "6.6.6.6, 1.2.3.4, 10.0.0.9", "", ",,,", "evil\n level=ERROR", "::ffff:1.2.3.4", "2001:db8::1, fd00::1", "10.0.0.1, x"} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, xff string, trustedPeer bool) {
		s := &Server{opts: Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}}}
		r := &http.Request{RemoteAddr: "192.0.2.1:5", Header: http.Header{"X-Forwarded-For": {xff}}}
		if trustedPeer {
			r.RemoteAddr = "10.0.0.1:5"
		}
		got := s.clientAddr(r)
		if !trustedPeer && got != "192.0.2.1" {
			t.Fatalf("untrusted peer logged as %q", got)
		}
		if _, err := netip.ParseAddr(got); err != nil {
			t.Fatalf("logged address %q is not an address", got)
		}
	})
}

// FuzzDecodeRedeemFast holds the tills' fast decoder to encoding/json:
// whatever it accepts, encoding/json accepts too, into the same request.
func FuzzDecodeRedeemFast(f *testing.F) {
	for _, s := range []string{
		`{"code":"7K3M-Q9XD-2RTM"}`, ` { "code" : "A" , "order_amount" : 4999 , "currency":"eur"} `,
		`{"code":"A","customer_id":"c-1","order_id":"o-9","terminal":"till 3","hold_id":"h_1","order_amount":0}`,
		`{}`, `{"code":"A","code":"B"}`, `{"Code":"A"}`, `{"code":"\u0041"}`, `{"code":"é"}`, `{"order_amount":012}`,
		`{"order_amount":1.5}`, `{"order_amount":-1}`, `{"order_amount":999999999999999999}`, `{"order_amount":9999999999999999999}`,
		`{"code":null}`, `{"hold":"5m"}`, `{"code":"A"} x`, `{"code":"A",}`, `{"code":"A"`, "{\"code\":\"A\"}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast store.RedeemRequest
		if !decodeRedeemFast(body, &fast) {
			return
		}
		var slow store.RedeemRequest
		if err := decodeStrict(body, &slow); err != nil {
			t.Fatalf("fast path accepted %q, encoding/json refuses it: %v", body, err)
		}
		if fast != slow {
			t.Fatalf("%q: fast path decoded %+v, encoding/json %+v", body, fast, slow)
		}
	})
}
