//go:build unix

package main

// The campaign controls against the built binary, over HTTP and the CLI:
// a budget that holds under racing tills, a cart's hold, a leaked batch
// voided, a shared code flagged, and a customer erased from every record,
// backups included. Webhooks deliver the events to a real receiver.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBinary_CampaignControls(t *testing.T) {
	t.Parallel()
	e := startEnv(t)
	srv := e.srv
	till := e.key("till-1", "pos")
	till2 := e.key("till-2", "pos")

	// A webhook for every event, to a real receiver.
	var mu sync.Mutex
	var got []string
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct {
			Seq  uint64 `json:"seq"`
			Type string `json:"type"`
		}
		require.NoError(t, json.Unmarshal(body, &ev))
		require.True(t, strings.HasPrefix(r.Header.Get("Promo-Signature"), "t="))
		mu.Lock()
		got = append(got, ev.Type)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()
	require.Contains(t, e.mustCLI("webhooks", "add", rcv.URL, "--events", "*"), "added webhook")

	// A budget of 25 redemptions; 40 tills race for 40 codes.
	e.mustCLI("campaign", "create", "bf", "--amount", "500", "--currency", "EUR", "--budget-redemptions", "25")
	e.mustCLI("generate", "bf", "--count", "60")
	codes := e.codes("bf")
	var wins, refused atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := srv.redeem(t, till, redeemReq{Code: codes[i].Code, OrderAmount: 3000, Currency: "EUR"})
			switch r.status {
			case http.StatusCreated:
				wins.Add(1)
			case http.StatusConflict:
				require.Equal(t, "budget_exhausted", r.errorCode(t))
				refused.Add(1)
			default:
				t.Errorf("unexpected %s", r)
			}
		}()
	}
	wg.Wait()
	require.Equal(t, int32(25), wins.Load())
	require.Equal(t, int32(15), refused.Load())
	out := e.mustCLI("stats", "bf")
	require.Contains(t, out, "BUDGET")
	require.Regexp(t, `redemptions\s+25\s+25\s+0\s+0`, out)

	// A cart holds a code; another customer is refused held; the holder
	// redeems with the hold; a released hold frees the code.
	e.mustCLI("campaign", "create", "cart", "--percent", "10")
	e.mustCLI("generate", "cart", "--count", "3")
	cart := e.codes("cart")
	r := srv.do(t, "POST", "/v1/validate", till, map[string]any{"code": cart[0].Code, "customer_id": "ann", "hold": "15m"})
	require.Equal(t, 200, r.status, r.String())
	var v struct {
		Valid bool `json:"valid"`
		Hold  struct {
			ID string `json:"id"`
		} `json:"hold"`
	}
	r.decode(t, &v)
	require.True(t, v.Valid)
	srv.refused(t, till2, redeemReq{Code: cart[0].Code, CustomerID: "ben"}, 409, "held")
	r = srv.do(t, "POST", "/v1/holds/"+v.Hold.ID+"/release", till2, nil)
	require.Equal(t, 404, r.status, "another till cannot release it: %s", r)
	r = srv.do(t, "POST", "/v1/redeem", till, map[string]any{"code": cart[0].Code, "customer_id": "ann", "hold_id": v.Hold.ID})
	require.Equal(t, 201, r.status, r.String())
	r = srv.do(t, "POST", "/v1/validate", till, map[string]any{"code": cart[1].Code, "customer_id": "cat", "hold": "1h"})
	r.decode(t, &v)
	require.Contains(t, e.mustCLI("hold", "release", v.Hold.ID), "released hold")
	srv.mustRedeem(t, till2, redeemReq{Code: cart[1].Code, CustomerID: "dan"})

	// A code refused to 5 distinct customers is a suspected leak.
	for i := 0; i < 5; i++ {
		srv.refused(t, till, redeemReq{Code: cart[1].Code, CustomerID: fmt.Sprint("c", i)}, 409, "already_redeemed")
	}
	eventually(t, 10*time.Second, "the leak is flagged", func() bool {
		return strings.Contains(e.mustCLI("stats", "cart"), "SUSPECTED LEAKS")
	})

	// The leaked batch of bf is voided: its unredeemed codes only.
	out = e.mustCLI("void", "--campaign", "bf", "--batch", "b1", "--reason", "posted on a coupon site")
	require.Contains(t, out, "voided 35 codes of batch b1 of campaign bf")
	srv.refused(t, till, redeemReq{Code: codes[59].Code}, 410, "voided")

	// Erasure: the id leaves every record and event, and backups.
	e.mustCLI("campaign", "create", "loyal", "--kind", "loyalty", "--percent", "15")
	const who = "cust-9f3k-erin@example.org"
	var a codeJSON
	e.cliJSON(&a, "assign", "loyal", "--customer", who)
	srv.mustRedeem(t, till, redeemReq{Code: a.Code, CustomerID: who, OrderAmount: 2000})
	e.cliJSON(&a, "assign", "loyal", "--customer", who)
	out = e.mustCLI("customer", "erase", who)
	require.Contains(t, out, "1 of them voided")
	res := e.cli("customer", who)
	require.Equal(t, 1, res.code, res.String())
	require.NotContains(t, e.mustCLI("--json", "events", "--limit", "10000"), who)
	backup := e.dir + "/after-erasure.db"
	e.mustCLI("backup", backup)
	b, err := os.ReadFile(backup)
	require.NoError(t, err)
	require.False(t, bytes.Contains(b, []byte(who)), "the backup holds no trace of the erased id")
	require.Equal(t, "ok\n", e.mustCLI("check"))

	// The webhook got the controls' events, in order, and deliveries show.
	eventually(t, 20*time.Second, "the webhook catches up", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) > 0 && got[len(got)-1] == "customer.erased"
	})
	mu.Lock()
	joined := strings.Join(got, " ")
	mu.Unlock()
	for _, typ := range []string{"hold.placed", "hold.released", "code.suspected_leak", "codes.voided", "customer.erased"} {
		require.Contains(t, joined, typ)
	}
	var hooks struct {
		Webhooks []struct {
			ID string `json:"id"`
		} `json:"webhooks"`
	}
	e.cliJSON(&hooks, "webhooks", "list")
	require.Contains(t, e.mustCLI("webhooks", "deliveries", hooks.Webhooks[0].ID), "204")
}
