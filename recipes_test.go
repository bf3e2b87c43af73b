//go:build unix

package main

// The campaign kinds as a shop runs them: admin work with the CLI (through
// the server's socket), the checkout and the till over HTTP.

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRecipe_Welcome: one code per new customer, bound to them. The web
// shop assigns it at sign-up (asking twice gives the same code); another
// customer cannot use it; once redeemed, a second welcome code for the
// same customer is refused with customer_limit.
func TestRecipe_Welcome(t *testing.T) {
	t.Parallel()
	e := startEnv(t)
	srv := e.srv
	e.mustCLI("campaign", "create", "welcome", "--name", "Welcome offer", "--kind", "welcome", "--percent", "10",
		"--expires", future(365*24*time.Hour))
	e.mustCLI("generate", "welcome", "--count", "100")
	shop, checkout := e.key("webshop", "issuer"), e.key("checkout", "pos")

	signUp := func(customer string) codeJSON {
		t.Helper()
		r := srv.do(t, "POST", "/v1/campaigns/welcome/assign", shop, map[string]string{"customer_id": customer, "channel": "account"})
		require.Equal(t, http.StatusOK, r.status, "assign %s: %s", customer, r)
		var c codeJSON
		r.decode(t, &c)
		require.Equal(t, customer, c.CustomerID)
		return c
	}
	alice := signUp("alice")
	require.Equal(t, "assigned", alice.State)
	require.Equal(t, alice.Code, signUp("alice").Code, "asking again gives the same code")
	bob := signUp("bob")
	require.NotEqual(t, alice.Code, bob.Code)
	// A sign-up form submitted 32 times at once still gives one code.
	var wg sync.WaitGroup
	carol := make([]response, 32)
	for i := range carol {
		wg.Add(1)
		go func() {
			defer wg.Done()
			carol[i], _ = srv.send(context.Background(), "POST", "/v1/campaigns/welcome/assign", shop, map[string]string{"customer_id": "carol"})
		}()
	}
	wg.Wait()
	var carolCode codeJSON
	carol[0].decode(t, &carolCode)
	for _, r := range carol {
		require.Equal(t, http.StatusOK, r.status, "%s", r)
		var c codeJSON
		r.decode(t, &c)
		require.Equal(t, carolCode.Code, c.Code, "concurrent sign-ups of one customer get one code")
	}

	srv.refused(t, checkout, redeemReq{Code: alice.Code, CustomerID: "bob", OrderAmount: 5000}, http.StatusForbidden, "wrong_customer")
	srv.refused(t, checkout, redeemReq{Code: alice.Code, OrderAmount: 5000}, http.StatusForbidden, "wrong_customer")
	v := srv.validate(t, checkout, redeemReq{Code: alice.Code, CustomerID: "alice", OrderAmount: 5000})
	require.True(t, v.Valid, "%+v", v)
	require.Equal(t, int64(500), v.Discount)
	red := srv.mustRedeem(t, checkout, redeemReq{Code: alice.Code, CustomerID: "alice", OrderID: "o-1", OrderAmount: 5000})
	require.Equal(t, int64(500), red.Discount)

	// Alice asks again: her (used) code, not a second one.
	again := signUp("alice")
	require.Equal(t, alice.Code, again.Code)
	require.Equal(t, "redeemed", again.State)
	// A welcome code nobody was given (one printed in a leaflet, say) is
	// refused for her: one welcome per customer.
	unassigned := e.codes("welcome", "--state", "available")[0].Code
	v = srv.validate(t, checkout, redeemReq{Code: unassigned, CustomerID: "alice", OrderAmount: 5000})
	require.False(t, v.Valid)
	require.Equal(t, "customer_limit", v.Reason)
	srv.refused(t, checkout, redeemReq{Code: unassigned, CustomerID: "alice", OrderAmount: 5000}, http.StatusConflict, "customer_limit")
	res := e.cli("redeem", unassigned, "--customer", "alice")
	require.Equal(t, 1, res.code, "%s", res)
	// Bob's code still works for Bob.
	srv.mustRedeem(t, checkout, redeemReq{Code: bob.Code, CustomerID: "bob", OrderID: "o-2", OrderAmount: 2000})

	s := e.stats("welcome")
	require.Equal(t, int64(100), s.Counts.Generated, "sign-ups used the generated codes")
	require.Equal(t, int64(3), s.Counts.Assigned)
	require.Equal(t, int64(2), s.Counts.Redeemed)
	require.Equal(t, int64(700), s.Counts.DiscountTotal)
}

// TestRecipe_Loyalty: a code is assigned at each milestone, made on the
// spot (no pre-generation), and the next milestone gets a fresh one once
// the last was used.
func TestRecipe_Loyalty(t *testing.T) {
	t.Parallel()
	e := startEnv(t)
	srv := e.srv
	e.mustCLI("campaign", "create", "loyal", "--name", "10 orders", "--kind", "loyalty", "--amount", "1000", "--currency", "EUR")
	till := e.key("till", "pos")
	require.Equal(t, int64(0), e.stats("loyal").Counts.Codes, "nothing generated in advance")

	var first codeJSON
	e.cliJSON(&first, "assign", "loyal", "--customer", "cust-7", "--channel", "app")
	require.Equal(t, "assigned", first.State)
	require.Equal(t, "app", first.Channel)
	var same codeJSON
	e.cliJSON(&same, "assign", "loyal", "--customer", "cust-7")
	require.Equal(t, first.Code, same.Code, "an unused code is given again")
	n := e.stats("loyal").Counts
	require.Equal(t, int64(1), n.Generated, "made on demand")
	require.Equal(t, int64(1), n.Assigned)

	red := srv.mustRedeem(t, till, redeemReq{Code: first.Code, CustomerID: "cust-7", OrderID: "o-10", OrderAmount: 4000, Currency: "EUR"})
	require.Equal(t, int64(1000), red.Discount)

	var second codeJSON
	e.cliJSON(&second, "assign", "loyal", "--customer", "cust-7", "--channel", "app")
	require.NotEqual(t, first.Code, second.Code, "the next milestone gets a fresh code")
	require.Equal(t, "assigned", second.State)
	srv.refused(t, till, redeemReq{Code: first.Code, CustomerID: "cust-7", OrderAmount: 4000}, http.StatusConflict, "already_redeemed")
	srv.mustRedeem(t, till, redeemReq{Code: second.Code, CustomerID: "cust-7", OrderID: "o-20", OrderAmount: 800, Currency: "EUR"})

	var other codeJSON
	e.cliJSON(&other, "assign", "loyal", "--customer", "cust-8")
	srv.refused(t, till, redeemReq{Code: other.Code, CustomerID: "cust-7", OrderAmount: 4000}, http.StatusForbidden, "wrong_customer")

	n = e.stats("loyal").Counts
	require.Equal(t, int64(3), n.Generated)
	require.Equal(t, int64(3), n.Assigned)
	require.Equal(t, int64(2), n.Redeemed)
	require.Equal(t, int64(1800), n.DiscountTotal, "an amount off never exceeds the order (8.00 of 10.00)")
	var cust customerJSON
	e.cliJSON(&cust, "customer", "cust-7")
	require.Len(t, cust.Codes, 2)
	require.Len(t, cust.Redemptions, 2)
}

// TestRecipe_Referral: a referrer's code is redeemed by anyone but its
// owner, each referee once, up to max_redemptions_per_code; each referral
// gives the referrer a fresh reward code; rolling a referral back voids an
// unused reward (a used one stays used); the top referrers show in stats.
func TestRecipe_Referral(t *testing.T) {
	t.Parallel()
	e := startEnv(t)
	srv := e.srv
	e.mustCLI("campaign", "create", "ref-thanks", "--name", "Thanks for referring", "--kind", "loyalty", "--free-shipping")
	e.mustCLI("campaign", "create", "refer", "--name", "Refer a friend", "--kind", "referral", "--percent", "15",
		"--reward-campaign", "ref-thanks", "--max-redemptions", "4")
	till := e.key("till", "pos")

	var alice, frank codeJSON
	e.cliJSON(&alice, "assign", "refer", "--customer", "alice")
	e.cliJSON(&frank, "assign", "refer", "--customer", "frank")
	require.Equal(t, 4, alice.MaxRedemptions)

	srv.refused(t, till, redeemReq{Code: alice.Code, CustomerID: "alice", OrderAmount: 4000}, http.StatusForbidden, "wrong_customer")
	srv.refused(t, till, redeemReq{Code: alice.Code, OrderAmount: 4000}, http.StatusBadRequest, "invalid_request")

	referrals := map[string]redemptionJSON{}
	var rewards []string
	for _, referee := range []string{"bob", "carol", "dave", "erin"} {
		red := srv.mustRedeem(t, till, redeemReq{Code: alice.Code, CustomerID: referee, OrderID: "o-" + referee, OrderAmount: 4000})
		require.Equal(t, int64(600), red.Discount)
		require.NotEmpty(t, red.RewardCode, "a referral gives the referrer a reward code")
		require.Empty(t, red.RewardError)
		require.NotContains(t, rewards, red.RewardCode, "each reward is a fresh code")
		rewards = append(rewards, red.RewardCode)
		referrals[referee] = red
		if referee == "bob" {
			srv.refused(t, till, redeemReq{Code: alice.Code, CustomerID: "bob", OrderAmount: 4000}, http.StatusConflict, "customer_limit")
		}
	}
	srv.refused(t, till, redeemReq{Code: alice.Code, CustomerID: "henry", OrderAmount: 4000}, http.StatusConflict, "already_redeemed")
	gina := srv.mustRedeem(t, till, redeemReq{Code: frank.Code, CustomerID: "gina", OrderAmount: 1000})

	var cust customerJSON
	e.cliJSON(&cust, "customer", "alice")
	var got []string
	for _, c := range cust.Rewards {
		require.Equal(t, "ref-thanks", c.Campaign)
		require.Equal(t, "alice", c.CustomerID)
		require.Equal(t, "referral", c.Channel)
		require.Equal(t, "assigned", c.State)
		got = append(got, c.Code)
	}
	require.ElementsMatch(t, rewards, got)

	// Alice uses her first reward; then bob's and erin's orders are cancelled.
	srv.mustRedeem(t, till, redeemReq{Code: rewards[0], CustomerID: "alice", OrderID: "o-alice", OrderAmount: 3000})
	out := e.mustCLI("rollback", referrals["erin"].ID, "--reason", "order cancelled")
	require.Contains(t, out, "rolled back "+referrals["erin"].ID)
	require.Equal(t, "voided", e.code(rewards[3]).State, "an unused reward is voided with its referral")
	e.mustCLI("rollback", referrals["bob"].ID)
	require.Equal(t, "redeemed", e.code(rewards[0]).State, "a used reward stays used")
	require.Equal(t, "assigned", e.code(rewards[1]).State)

	s := e.stats("refer")
	require.GreaterOrEqual(t, len(s.TopReferrers), 2, "%+v", s.TopReferrers)
	require.Equal(t, "alice", s.TopReferrers[0].CustomerID)
	require.Equal(t, alice.Code, s.TopReferrers[0].Code)
	require.Equal(t, int64(2), s.TopReferrers[0].Redemptions, "carol's and dave's referrals stand")
	require.Equal(t, "frank", s.TopReferrers[1].CustomerID)
	require.Equal(t, int64(1), s.TopReferrers[1].Redemptions)
	require.Equal(t, int64(3), s.Counts.Redeemed)
	require.Equal(t, int64(2), s.Counts.RolledBack)
	thanks := e.stats("ref-thanks").Counts
	require.Equal(t, int64(5), thanks.Assigned, "four rewards for alice, one for frank")
	require.Equal(t, int64(1), thanks.Voided)
	require.Equal(t, int64(1), thanks.Redeemed)
	require.NotEmpty(t, gina.RewardCode)

	// Once the reward campaign has ended, a referral still succeeds and
	// says why there is no reward.
	e.mustCLI("campaign", "archive", "ref-thanks")
	ivy := srv.mustRedeem(t, till, redeemReq{Code: frank.Code, CustomerID: "ivy", OrderAmount: 1000})
	require.Empty(t, ivy.RewardCode)
	require.NotEmpty(t, ivy.RewardError)
	require.Equal(t, int64(5), e.stats("ref-thanks").Counts.Assigned)
}

// TestRecipe_CartRecovery: a code valid for a while after it is assigned.
// The README's recipe uses --valid-for 48h; here it is 3s so the test sees
// it expire. Valid before its expiry, expired (410) after.
func TestRecipe_CartRecovery(t *testing.T) {
	t.Parallel()
	e := startEnv(t)
	srv := e.srv
	e.mustCLI("campaign", "create", "cart", "--name", "Come back", "--kind", "cart_recovery", "--amount", "500",
		"--currency", "EUR", "--valid-for", "3s")
	e.mustCLI("generate", "cart", "--count", "10")
	till := e.key("checkout", "pos")

	var quick, slow codeJSON
	e.cliJSON(&quick, "assign", "cart", "--customer", "cust-1")
	e.cliJSON(&slow, "assign", "cart", "--customer", "cust-2")
	for _, c := range []codeJSON{quick, slow} {
		require.NotNil(t, c.AssignedAt)
		require.NotNil(t, c.ExpiresAt, "valid_for gives an assigned code its expiry")
		require.Equal(t, 3*time.Second, c.ExpiresAt.Sub(*c.AssignedAt), "expiry counted from the assignment")
	}
	// Assignment times are whole seconds, so at least 2 s of the 3 remain.
	require.True(t, time.Now().Before(slow.ExpiresAt.Add(-time.Second)), "the test reached the checkout too late")
	v := srv.validate(t, till, redeemReq{Code: slow.Code, CustomerID: "cust-2", OrderAmount: 3000})
	require.True(t, v.Valid, "%+v", v)
	srv.mustRedeem(t, till, redeemReq{Code: quick.Code, CustomerID: "cust-1", OrderAmount: 3000})

	eventually(t, 10*time.Second, "the code to expire", func() bool {
		return !srv.validate(t, till, redeemReq{Code: slow.Code, CustomerID: "cust-2", OrderAmount: 3000}).Valid
	})
	require.False(t, time.Now().Before(*slow.ExpiresAt), "valid until its expiry, and not after")
	v = srv.validate(t, till, redeemReq{Code: slow.Code, CustomerID: "cust-2", OrderAmount: 3000})
	require.Equal(t, "expired", v.Reason)
	srv.refused(t, till, redeemReq{Code: slow.Code, CustomerID: "cust-2", OrderAmount: 3000}, http.StatusGone, "expired")
	res := e.cli("validate", slow.Code, "--customer", "cust-2")
	require.Equal(t, 1, res.code, "%s", res)
	require.Contains(t, res.stderr, "expired")
	require.Equal(t, "redeemed", e.code(quick.Code).State, "a code used in time stays used")
}

// TestRecipe_VIP: a date window, codes bound to their customer, and a
// minimum order. Not started yet (422 not_started) until an admin moves the
// start into the past with PATCH; then below the minimum is min_order, and
// above it the code is redeemed.
func TestRecipe_VIP(t *testing.T) {
	t.Parallel()
	e := startEnv(t)
	srv := e.srv
	e.mustCLI("campaign", "create", "vip", "--name", "VIP night", "--kind", "vip", "--amount", "2000", "--currency", "EUR",
		"--min-order", "10000", "--starts", future(24*time.Hour), "--expires", future(30*24*time.Hour))
	e.mustCLI("generate", "vip", "--count", "20")
	admin, till := e.key("admin", "admin"), e.key("till", "pos")
	var vip codeJSON
	e.cliJSON(&vip, "assign", "vip", "--customer", "vip-1", "--channel", "event")

	order := redeemReq{Code: vip.Code, CustomerID: "vip-1", OrderID: "o-vip", OrderAmount: 15000, Currency: "EUR", Terminal: "bar"}
	srv.refused(t, till, order, http.StatusUnprocessableEntity, "not_started")

	start := past(time.Hour)
	r := srv.do(t, "PATCH", "/v1/campaigns/vip", admin, map[string]string{"starts_at": start})
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	var camp struct {
		StartsAt *time.Time `json:"starts_at"`
	}
	r.decode(t, &camp)
	require.NotNil(t, camp.StartsAt)
	require.Equal(t, start, camp.StartsAt.UTC().Format(time.RFC3339))
	r = srv.do(t, "PATCH", "/v1/campaigns/vip", till, map[string]string{"starts_at": start})
	require.Equal(t, http.StatusForbidden, r.status, "a till may not change a campaign: %s", r)

	srv.refused(t, till, redeemReq{Code: vip.Code, CustomerID: "guest-9", OrderAmount: 15000, Currency: "EUR"}, http.StatusForbidden, "wrong_customer")
	srv.refused(t, till, redeemReq{Code: vip.Code, CustomerID: "vip-1", OrderAmount: 9999, Currency: "EUR"}, http.StatusUnprocessableEntity, "min_order")
	srv.refused(t, till, redeemReq{Code: vip.Code, CustomerID: "vip-1", OrderAmount: 15000, Currency: "USD"}, http.StatusBadRequest, "invalid_request")
	red := srv.mustRedeem(t, till, order)
	require.Equal(t, int64(2000), red.Discount)
	require.Equal(t, "EUR", red.Currency)
	require.Equal(t, "bar", red.Terminal)
}

// TestRecipe_BulkPublishing assigns a code to each of 100,000 customers in
// one `promo assign --customers FILE.csv --out merged.csv` call through the
// socket: the mail-merge CSV has every customer with their email, name and
// code, and running the same file again gives the same file. Then the same
// over HTTP (POST text/csv) for a smaller file.
func TestRecipe_BulkPublishing(t *testing.T) {
	t.Parallel()
	e := startEnv(t)
	srv := e.srv
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	e.mustCLI("campaign", "create", "newsletter", "--name", "Spring newsletter", "--kind", "welcome", "--percent", "15")
	e.mustCLI("generate", "newsletter", "--count", fmt.Sprint(n+2_000))

	in := filepath.Join(e.dir, "customers.csv")
	customers := writeCustomers(t, in, "cust", n)

	merged1, merged2 := filepath.Join(e.dir, "merged1.csv"), filepath.Join(e.dir, "merged2.csv")
	began := time.Now()
	out := e.mustCLI("assign", "newsletter", "--customers", in, "--out", merged1)
	first := time.Since(began)
	require.Contains(t, out, merged1)
	began = time.Now()
	e.mustCLI("assign", "newsletter", "--customers", in, "--out", merged2)
	second := time.Since(began)
	t.Logf("promo assign --customers with %d customers through the socket: %s; the same file again: %s", n, first, second)

	b1, err := os.ReadFile(merged1)
	require.NoError(t, err)
	b2, err := os.ReadFile(merged2)
	require.NoError(t, err)
	require.True(t, bytes.Equal(b1, b2), "a re-run gives every customer the same code")

	recs, err := csv.NewReader(bytes.NewReader(b1)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"customer_id", "email", "name", "code"}, recs[0])
	require.Len(t, recs, n+1)
	seen := make(map[string]bool, n)
	for i, rec := range recs[1:] {
		require.Equal(t, customers[i][:3], rec[:3], "row %d keeps the customer's columns, in order", i+1)
		require.NotEmpty(t, rec[3], "row %d has a code", i+1)
		require.False(t, seen[rec[3]], "code %s given twice", rec[3])
		seen[rec[3]] = true
	}
	c := e.code(recs[n][3])
	require.Equal(t, recs[n][0], c.CustomerID)
	require.Equal(t, "assigned", c.State)
	require.Equal(t, "email", c.Channel)
	s := e.stats("newsletter").Counts
	require.Equal(t, int64(n), s.Assigned)
	require.Equal(t, int64(n), s.ByState.Assigned)
	require.Equal(t, int64(n+2_000), s.Generated, "the generated codes were used; none made on the spot")

	// Over HTTP: 1,000 customers, 10 of whom already have their code.
	issuer := e.key("mailer", "issuer")
	var body bytes.Buffer
	w := csv.NewWriter(&body)
	_ = w.Write([]string{"customer_id", "email", "name"})
	for i := range 10 {
		_ = w.Write(customers[i][:3])
	}
	for i := range 990 {
		_ = w.Write([]string{fmt.Sprintf("web-%04d", i), fmt.Sprintf("web%d@example.com", i), fmt.Sprintf("Web %d", i)})
	}
	w.Flush()
	post := func() response {
		r := srv.do(t, "POST", "/v1/campaigns/newsletter/assign?channel=app", issuer, body.Bytes(), "Content-Type", "text/csv", "Accept", "text/csv")
		require.Equal(t, http.StatusOK, r.status, "%s", r)
		return r
	}
	r1, r2 := post(), post()
	require.Equal(t, string(r1.body), string(r2.body), "a re-post gives the same codes")
	got, err := csv.NewReader(bytes.NewReader(r1.body)).ReadAll()
	require.NoError(t, err)
	require.Len(t, got, 1001)
	require.Equal(t, []string{"customer_id", "email", "name", "code"}, got[0])
	for i := range 10 {
		require.Equal(t, recs[i+1], got[i+1], "a customer who has a code keeps it")
	}
	for _, rec := range got[11:] {
		require.False(t, seen[rec[3]], "a new customer gets a new code")
		seen[rec[3]] = true
	}
	require.Equal(t, "app", e.code(got[1000][3]).Channel, "?channel= sets the channel of the rows")
	require.Equal(t, int64(n+990), e.stats("newsletter").Counts.Assigned)
}

// writeCustomers writes a customers CSV (customer_id,email,name) of n
// rows, with names that need quoting, and returns the rows.
func writeCustomers(t *testing.T, path, prefix string, n int) [][]string {
	t.Helper()
	rows := make([][]string, n)
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	require.NoError(t, w.Write([]string{"customer_id", "email", "name"}))
	for i := range n {
		name := fmt.Sprintf("Customer %d", i)
		switch i % 7 {
		case 3:
			name = fmt.Sprintf("Doe, Jane %d", i)
		case 5:
			name = fmt.Sprintf(`Zoë "Z" Ñúñez %d`, i)
		}
		rows[i] = []string{fmt.Sprintf("%s-%06d", prefix, i), fmt.Sprintf("%s%d@example.com", prefix, i), name}
		require.NoError(t, w.Write(rows[i]))
	}
	w.Flush()
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o600))
	return rows
}

// TestRecipe_ImportFromWebShop imports a web shop's export (header
// Code,Discount,Expiry); a file with a malformed line is refused (exit 2)
// naming the line, nothing imported; --skip-invalid imports the rest; a
// re-run imports nothing twice.
func TestRecipe_ImportFromWebShop(t *testing.T) {
	t.Parallel()
	e := startEnv(t)
	srv := e.srv
	e.mustCLI("campaign", "create", "legacy", "--name", "Old shop codes", "--kind", "generic", "--amount", "1000", "--currency", "EUR")
	till := e.key("till", "pos")

	var good strings.Builder
	good.WriteString("Code,Discount,Expiry\n")
	var codes []string
	for i := range 20 {
		c := fmt.Sprintf("SHOP-%04d-XMAS", 100+i)
		codes = append(codes, c)
		fmt.Fprintf(&good, "%s,10%%,2027-01-31\n", c)
	}
	file := filepath.Join(e.dir, "shop-export.csv")
	require.NoError(t, os.WriteFile(file, []byte(good.String()), 0o600))
	var res struct {
		Imported       int  `json:"imported"`
		AlreadyPresent int  `json:"already_present"`
		Header         bool `json:"header"`
		Skipped        []struct {
			Line int `json:"line"`
		} `json:"skipped"`
	}
	e.cliJSON(&res, "import", "legacy", file)
	require.Equal(t, 20, res.Imported)
	require.True(t, res.Header)
	require.Empty(t, res.Skipped)

	// Imported codes keep their shape and are found however they are typed.
	v := srv.validate(t, till, redeemReq{Code: strings.ToLower(codes[3]), OrderAmount: 5000})
	require.True(t, v.Valid, "%+v", v)
	require.Equal(t, int64(1000), v.Discount)
	require.Equal(t, codes[3], v.Code)
	srv.mustRedeem(t, till, redeemReq{Code: codes[3], OrderID: "o-1", OrderAmount: 5000})

	bad := "Code,Discount,Expiry\nSHOP-0200-XMAS,10%,2027-01-31\nSHOP-0201-XMAS,10%,2027-01-31\nSAVE$20,20%,2027-01-31\nSHOP-0202-XMAS,10%,2027-01-31\n"
	badFile := filepath.Join(e.dir, "with-a-bad-line.csv")
	require.NoError(t, os.WriteFile(badFile, []byte(bad), 0o600))
	r := e.cli("import", "legacy", badFile)
	require.Equal(t, 2, r.code, "%s", r)
	require.Contains(t, r.stderr, "line 4")
	require.Contains(t, r.stderr, "SAVE$20")
	require.Equal(t, int64(20), e.stats("legacy").Counts.Imported, "nothing of a refused file is imported")

	e.cliJSON(&res, "import", "legacy", badFile, "--skip-invalid")
	require.Equal(t, 3, res.Imported)
	require.Len(t, res.Skipped, 1)
	require.Equal(t, 4, res.Skipped[0].Line)
	out := e.mustCLI("import", "legacy", badFile, "--skip-invalid")
	require.Contains(t, out, "imported 0 codes")
	require.Contains(t, out, "line 4")
	e.cliJSON(&res, "import", "legacy", file)
	require.Equal(t, 0, res.Imported)
	require.Equal(t, 20, res.AlreadyPresent)

	n := e.stats("legacy").Counts
	require.Equal(t, int64(23), n.Imported)
	require.Equal(t, int64(23), n.Codes)
	require.Equal(t, int64(0), n.Generated)
	require.Equal(t, int64(1), n.Redeemed)
}

// TestRecipe_Export writes a campaign's redeemed codes and its redemptions
// to files with `promo export`.
func TestRecipe_Export(t *testing.T) {
	t.Parallel()
	e := startEnv(t)
	srv := e.srv
	e.mustCLI("campaign", "create", "exp", "--kind", "generic", "--percent", "10")
	e.mustCLI("generate", "exp", "--count", "10")
	till := e.key("till", "pos")
	codes := e.codes("exp")
	var reds []redemptionJSON
	for i, c := range codes[:3] {
		reds = append(reds, srv.mustRedeem(t, till, redeemReq{Code: c.Code, CustomerID: fmt.Sprintf("c-%d", i),
			OrderID: fmt.Sprintf("o-%d", i), OrderAmount: int64(1000 * (i + 1)), Terminal: "till-1"}))
	}
	e.mustCLI("rollback", reds[1].ID, "--reason", "refund")
	e.mustCLI("void", codes[9].Code)

	f := filepath.Join(e.dir, "f.csv")
	out := e.mustCLI("export", "exp", "--state", "redeemed", "--out", f)
	require.Contains(t, out, "exported 2 codes to "+f)
	b, err := os.ReadFile(f)
	require.NoError(t, err)
	rows := parseCodeCSV(t, string(b))
	require.Len(t, rows, 2)
	for i, want := range []int{0, 2} {
		require.Equal(t, codes[want].Code, rows[i].Code)
		require.Equal(t, "redeemed", rows[i].State)
		require.Equal(t, 1, rows[i].RedemptionCount)
	}

	rf := filepath.Join(e.dir, "r.csv")
	out = e.mustCLI("export", "exp", "--redemptions", "--out", rf)
	require.Contains(t, out, "exported 3 redemptions to "+rf)
	b, err = os.ReadFile(rf)
	require.NoError(t, err)
	rrows := parseRedemptionCSV(t, string(b))
	require.Len(t, rrows, 3)
	for i, r := range rrows {
		require.Equal(t, reds[i].ID, r.ID)
		require.Equal(t, codes[i].Code, r.Code)
		require.Equal(t, fmt.Sprintf("o-%d", i), r.OrderID)
		require.Equal(t, int64(1000*(i+1)), r.OrderAmount)
		require.Equal(t, int64(100*(i+1)), r.Discount)
		require.Equal(t, i == 1, r.RolledBack, "row %d", i)
	}
	voided := e.codes("exp", "--state", "voided")
	require.Len(t, voided, 1)
	require.Equal(t, codes[9].Code, voided[0].Code)
	require.Len(t, e.codes("exp", "--state", "available"), 7, "the rolled back code is available again")
}

// TestRecipe_TrackingEventsMatchStats runs a mixed workload over several
// campaigns (assign, redeem, rollback, void, import, referral rewards),
// then recounts every campaign's counters from `promo events --json` and
// compares them with `promo stats ID --json`: they are equal. A follower
// (`promo events --follow --json`) sees a redemption made afterwards within
// two seconds, and no event twice.
func TestRecipe_TrackingEventsMatchStats(t *testing.T) {
	t.Parallel()
	e := startEnv(t)
	srv := e.srv
	e.mustCLI("campaign", "create", "welcome", "--kind", "welcome", "--percent", "10")
	e.mustCLI("campaign", "create", "loyal", "--kind", "loyalty", "--amount", "500", "--currency", "EUR")
	e.mustCLI("campaign", "create", "thanks", "--kind", "loyalty", "--free-shipping")
	e.mustCLI("campaign", "create", "refer", "--kind", "referral", "--percent", "20", "--reward-campaign", "thanks")
	e.mustCLI("campaign", "create", "flyer", "--kind", "generic", "--amount", "300", "--currency", "EUR")
	e.mustCLI("generate", "welcome", "--count", "30")
	var imp strings.Builder
	imp.WriteString("code\n")
	for i := range 10 {
		fmt.Fprintf(&imp, "FLYER-%03d\n", 500+i)
	}
	flyerFile := filepath.Join(e.dir, "flyer.csv")
	require.NoError(t, os.WriteFile(flyerFile, []byte(imp.String()), 0o600))
	e.mustCLI("import", "flyer", flyerFile)
	issuer, till := e.key("office", "issuer"), e.key("till", "pos")

	assign := func(campaign, customer string) string {
		t.Helper()
		r := srv.do(t, "POST", "/v1/campaigns/"+campaign+"/assign", issuer, map[string]string{"customer_id": customer})
		require.Equal(t, http.StatusOK, r.status, "%s", r)
		var c codeJSON
		r.decode(t, &c)
		return c.Code
	}
	rollback := func(id string) {
		t.Helper()
		r := srv.do(t, "POST", "/v1/redemptions/"+id+"/rollback", issuer, map[string]string{"reason": "cancelled"})
		require.Equal(t, http.StatusOK, r.status, "%s", r)
	}
	// welcome: 8 assigned, 5 redeemed, 2 rolled back (one redeemed again), voids.
	w := map[string]string{}
	for i := 1; i <= 8; i++ {
		c := fmt.Sprintf("c%d", i)
		w[c] = assign("welcome", c)
	}
	wr := map[string]redemptionJSON{}
	for i := 1; i <= 5; i++ {
		c := fmt.Sprintf("c%d", i)
		wr[c] = srv.mustRedeem(t, till, redeemReq{Code: w[c], CustomerID: c, OrderID: "w-" + c, OrderAmount: int64(1999 + 1000*i), Terminal: "web"})
	}
	rollback(wr["c2"].ID)
	e.mustCLI("rollback", wr["c4"].ID)
	srv.mustRedeem(t, till, redeemReq{Code: w["c2"], CustomerID: "c2", OrderID: "w-c2-again", OrderAmount: 1234})
	e.mustCLI("void", w["c6"])
	e.mustCLI("void", e.codes("welcome", "--state", "available")[0].Code)
	srv.refused(t, till, redeemReq{Code: w["c1"], CustomerID: "c1"}, http.StatusConflict, "already_redeemed")
	// loyal: codes made on demand, two milestones, one rolled back.
	l1 := assign("loyal", "c1")
	srv.mustRedeem(t, till, redeemReq{Code: l1, CustomerID: "c1", OrderAmount: 300, Currency: "EUR"})
	l2 := assign("loyal", "c1")
	lr := srv.mustRedeem(t, till, redeemReq{Code: l2, CustomerID: "c1", OrderAmount: 5000, Currency: "EUR"})
	rollback(lr.ID)
	assign("loyal", "c2")
	// refer: rewards in thanks; a rollback voids an unused reward; a reward used.
	r1 := assign("refer", "r1")
	var rr []redemptionJSON
	for _, referee := range []string{"c2", "c3", "c4"} {
		rr = append(rr, srv.mustRedeem(t, till, redeemReq{Code: r1, CustomerID: referee, OrderAmount: 2500}))
	}
	e.mustCLI("rollback", rr[1].ID)
	srv.mustRedeem(t, till, redeemReq{Code: rr[0].RewardCode, CustomerID: "r1", OrderAmount: 1000})
	// flyer: imported codes redeemed by whoever has them.
	srv.mustRedeem(t, till, redeemReq{Code: "FLYER-500", OrderAmount: 2000})
	fr := srv.mustRedeem(t, till, redeemReq{Code: "FLYER-501", OrderAmount: 200, CustomerID: "c9"})
	srv.mustRedeem(t, till, redeemReq{Code: "flyer 502", OrderAmount: 4000})
	rollback(fr.ID)
	e.mustCLI("void", "FLYER-509")

	events := readEvents(t, e.mustCLI("--json", "events"))
	for i, ev := range events {
		require.Equal(t, uint64(i+1), ev.Seq, "event numbers have no gaps")
	}
	recount := map[string]*countsJSON{}
	redemption := map[string]eventJSON{}
	for _, ev := range events {
		if ev.Campaign == "" {
			continue
		}
		n := recount[ev.Campaign]
		if n == nil {
			n = &countsJSON{}
			recount[ev.Campaign] = n
		}
		switch ev.Type {
		case "codes.generated":
			n.Generated += ev.Count
		case "codes.imported":
			n.Imported += ev.Count
		case "code.assigned":
			n.Assigned++
		case "code.redeemed":
			n.Redeemed++
			n.DiscountTotal += ev.Discount
			n.OrderTotal += ev.OrderAmount
			redemption[ev.Redemption] = ev
		case "redemption.rolled_back":
			require.Contains(t, redemption, ev.Redemption, "a rollback follows its redemption")
			n.Redeemed--
			n.RolledBack++
			n.DiscountTotal -= ev.Discount
			n.OrderTotal -= ev.OrderAmount
		case "code.voided":
			n.Voided++
		case "campaign.created", "campaign.updated":
		default:
			t.Fatalf("event of an unknown type with a campaign: %+v", ev)
		}
	}
	var overview overviewJSON
	e.cliJSON(&overview, "stats")
	require.Len(t, overview.Campaigns, 5)
	require.Equal(t, uint64(len(events)), overview.Events)
	for _, cs := range overview.Campaigns {
		got := e.stats(cs.Campaign).Counts
		want := recount[cs.Campaign]
		require.NotNil(t, want, cs.Campaign)
		for _, f := range []struct {
			name      string
			got, want int64
		}{
			{"generated", got.Generated, want.Generated}, {"imported", got.Imported, want.Imported},
			{"assigned", got.Assigned, want.Assigned}, {"redeemed", got.Redeemed, want.Redeemed},
			{"rolled_back", got.RolledBack, want.RolledBack}, {"voided", got.Voided, want.Voided},
			{"discount_total", got.DiscountTotal, want.DiscountTotal}, {"order_total", got.OrderTotal, want.OrderTotal},
		} {
			require.Equal(t, f.want, f.got, "campaign %s: %s from stats vs from the event log", cs.Campaign, f.name)
		}
		require.Equal(t, cs.Counts, got, "campaign %s: stats and the overview agree", cs.Campaign)
	}
	// A few absolute numbers, so a recount that drifts with the counters is caught.
	require.Equal(t, int64(4), recount["welcome"].Redeemed)
	require.Equal(t, int64(2), recount["welcome"].Voided)
	require.Equal(t, int64(3), recount["loyal"].Generated, "codes made on demand count as generated")
	require.Equal(t, int64(3), recount["thanks"].Assigned)
	require.Equal(t, int64(1), recount["thanks"].Voided)
	require.Equal(t, int64(10), recount["flyer"].Imported)

	// Follow the log from the start, then redeem.
	follower := promoCmd(context.Background(), "--db", e.db, "--json", "events", "--follow")
	var followOut, followErr syncBuffer
	follower.Stdout, follower.Stderr = &followOut, &followErr
	require.NoError(t, follower.Start())
	followDone := make(chan struct{})
	var followWait error
	go func() {
		followWait = follower.Wait()
		close(followDone)
	}()
	t.Cleanup(func() {
		select {
		case <-followDone:
		default:
			_ = follower.Process.Kill()
			<-followDone
		}
	})
	eventually(t, 10*time.Second, "the follower to print the earlier events", func() bool {
		return len(lines(followOut.String())) >= len(events)
	})
	code := w["c7"]
	red := srv.mustRedeem(t, till, redeemReq{Code: code, CustomerID: "c7", OrderAmount: 1000})
	redeemedAt := time.Now()
	eventually(t, 2*time.Second, "the follower to show the redemption", func() bool {
		return strings.Contains(followOut.String(), `"redemption":"`+red.ID+`"`)
	})
	t.Logf("the follower showed the redemption %s after it was answered", time.Since(redeemedAt).Round(time.Millisecond))
	require.NoError(t, follower.Process.Signal(syscall.SIGTERM))
	select {
	case <-followDone:
		require.NoError(t, followWait, "events --follow ends with status 0 when interrupted: %s", followErr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("events --follow did not stop on SIGTERM")
	}
	followed := readEvents(t, followOut.String())
	require.Len(t, followed, len(events)+1, "every event once, the new one last")
	for i, ev := range followed {
		require.Equal(t, uint64(i+1), ev.Seq)
	}
	last := followed[len(followed)-1]
	require.Equal(t, "code.redeemed", last.Type)
	require.Equal(t, red.ID, last.Redemption)
}

// readEvents parses `promo --json events` output: one JSON event a line.
func readEvents(t *testing.T, out string) []eventJSON {
	t.Helper()
	var events []eventJSON
	for _, l := range lines(out) {
		var ev eventJSON
		require.NoError(t, json.Unmarshal([]byte(l), &ev), "event line %s", l)
		events = append(events, ev)
	}
	return events
}
