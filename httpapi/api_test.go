package httpapi

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"promo/store"
)

const (
	admin  = store.RoleAdmin
	issuer = store.RoleIssuer
	pos    = store.RolePOS
)

// TestAPI_Scenarios runs the API as a table of requests against one real
// store; each row depends only on the rows before it.
func TestAPI_Scenarios(t *testing.T) {
	e := newEnv(t, Options{})
	e.campaign("shop", `, "min_order": 1000`)
	codes := e.generate("shop", 5)
	bigBody := `{"id": "x", "name": "` + strings.Repeat("a", 2<<20) + `"}`
	runReqCases(t, e, []reqCase{
		{"CreateCampaign", admin, "POST", "/v1/campaigns", `{"id": "w", "kind": "welcome", "benefit": {"type": "amount", "value": 500, "currency": "EUR"}}`, 201, `"bound_to_customer":true`},
		{"CreateTaken", admin, "POST", "/v1/campaigns", `{"id": "w", "benefit": {"type": "percent", "value": 5}}`, 409, `"code":"conflict"`},
		{"CreateMalformedJSON", admin, "POST", "/v1/campaigns", `{"id": "x",`, 400, `malformed JSON`},
		{"CreateEmptyBody", admin, "POST", "/v1/campaigns", ``, 400, `body is empty`},
		{"CreateUnknownField", admin, "POST", "/v1/campaigns", `{"id": "x", "colour": "red"}`, 400, `"field":"colour"`},
		{"CreateWrongType", admin, "POST", "/v1/campaigns", `{"id": "x", "min_order": "ten"}`, 400, `min_order: want a whole number, got string`},
		{"CreateNestedWrongType", admin, "POST", "/v1/campaigns", `{"id": "x", "benefit": {"type": "percent", "value": true}}`, 400, `benefit.value: want a whole number`},
		{"CreateBadDate", admin, "POST", "/v1/campaigns", `{"id": "x", "benefit": {"type": "percent", "value": 5}, "expires_at": "next week"}`, 400, `"field":"expires_at"`},
		{"CreateBadDuration", admin, "POST", "/v1/campaigns", `{"id": "x", "benefit": {"type": "percent", "value": 5}, "valid_for": "two days"}`, 400, `valid_for: want a duration`},
		{"CreateBadFormat", admin, "POST", "/v1/campaigns", `{"id": "x", "benefit": {"type": "percent", "value": 5}, "format": {"lenght": 8}}`, 400, `"field":"format.lenght"`},
		{"CreateBadID", admin, "POST", "/v1/campaigns", `{"id": "Black Friday", "benefit": {"type": "percent", "value": 5}}`, 400, `"field":"id"`},
		{"CreateTwoValues", admin, "POST", "/v1/campaigns", `{"id": "x"} {"id": "y"}`, 400, `more than one JSON value`},
		{"CreateTooLarge", admin, "POST", "/v1/campaigns", bigBody, 413, `"code":"too_large"`},
		{"CreateAsIssuer", issuer, "POST", "/v1/campaigns", `{"id": "x"}`, 403, `"code":"forbidden"`},
		{"CreateNoKey", "", "POST", "/v1/campaigns", `{"id": "x"}`, 401, `"code":"unauthorized"`},
		{"ListCampaigns", issuer, "GET", "/v1/campaigns", ``, 200, `"id":"shop"`},
		{"GetCampaign", issuer, "GET", "/v1/campaigns/shop", ``, 200, `"generated":5`},
		{"GetCampaignMissing", issuer, "GET", "/v1/campaigns/nope", ``, 404, `no campaign \"nope\"`},
		{"PatchCampaign", admin, "PATCH", "/v1/campaigns/w", `{"name": "Welcome!", "expires_at": "2030-01-01T00:00:00Z"}`, 200, `"name":"Welcome!"`},
		{"PatchBadStatus", admin, "PATCH", "/v1/campaigns/w", `{"status": "gone"}`, 400, `"field":"status"`},
		{"PatchUnknownField", admin, "PATCH", "/v1/campaigns/w", `{"kind": "vip"}`, 400, `"field":"kind"`},
		{"Generate", admin, "POST", "/v1/campaigns/w/generate", `{"count": 3}`, 201, `"generated":3`},
		{"GenerateZero", admin, "POST", "/v1/campaigns/w/generate", `{"count": 0}`, 400, `"field":"count"`},
		{"GenerateNegativeType", admin, "POST", "/v1/campaigns/w/generate", `{"count": "many"}`, 400, `count: want a whole number`},
		{"GenerateCapacity", admin, "POST", "/v1/campaigns/w/generate", `{"count": 99999999999}`, 400, `"field":"count"`},
		{"GenerateMissing", admin, "POST", "/v1/campaigns/nope/generate", `{"count": 1}`, 404, `not_found`},
		{"ListCodesBadState", issuer, "GET", "/v1/campaigns/shop/codes?state=lost", ``, 400, `"field":"state"`},
		{"ListCodesBadLimit", issuer, "GET", "/v1/campaigns/shop/codes?limit=x", ``, 400, `"field":"limit"`},
		{"Assign", issuer, "POST", "/v1/campaigns/w/assign", `{"customer_id": "ann", "channel": "app"}`, 200, `"customer_id":"ann"`},
		{"AssignNoCustomer", issuer, "POST", "/v1/campaigns/w/assign", `{"channel": "app"}`, 400, `"field":"customer_id"`},
		{"AssignAsPOS", pos, "POST", "/v1/campaigns/w/assign", `{"customer_id": "ann"}`, 403, `forbidden`},
		{"ValidateOK", pos, "POST", "/v1/validate", `{"code": "` + codes[0] + `", "order_amount": 1500}`, 200, `"valid":true`},
		{"ValidateMinOrder", pos, "POST", "/v1/validate", `{"code": "` + codes[0] + `", "order_amount": 500}`, 200, `"reason":"min_order"`},
		{"ValidateNotFound", pos, "POST", "/v1/validate", `{"code": "nope"}`, 200, `"reason":"not_found"`},
		{"ValidateNoCode", pos, "POST", "/v1/validate", `{}`, 400, `"field":"code"`},
		{"Redeem", pos, "POST", "/v1/redeem", `{"code": "` + strings.ToLower(codes[0]) + `", "order_amount": 1500, "terminal": "t1"}`, 201, `"discount":150`},
		{"RedeemAgain", pos, "POST", "/v1/redeem", `{"code": "` + codes[0] + `", "order_amount": 1500}`, 409, `"code":"already_redeemed"`},
		{"RedeemTypo", pos, "POST", "/v1/redeem", `{"code": "` + codes[1][:len(codes[1])-1] + flip(codes[1]) + `", "order_amount": 1500}`, 422, `"code":"typo"`},
		{"RedeemBadAmount", pos, "POST", "/v1/redeem", `{"code": "x", "order_amount": -5}`, 400, `"field":"order_amount"`},
		{"RedeemBadCurrency", pos, "POST", "/v1/redeem", `{"code": "` + codes[1] + `", "order_amount": 1500, "currency": "euro"}`, 400, `"field":"currency"`},
		{"GetCode", issuer, "GET", "/v1/codes/" + codes[0], ``, 200, `"state":"redeemed"`},
		{"GetCodeAsPOS", pos, "GET", "/v1/codes/" + codes[0], ``, 403, `forbidden`},
		{"Void", admin, "POST", "/v1/codes/" + codes[2] + "/void", `{"reason": "misprint"}`, 200, `"state":"voided"`},
		{"VoidNoBody", admin, "POST", "/v1/codes/" + codes[3] + "/void", ``, 200, `"state":"voided"`},
		{"RedeemVoided", pos, "POST", "/v1/redeem", `{"code": "` + codes[2] + `", "order_amount": 1500}`, 410, `"code":"voided"`},
		{"RollbackMissing", issuer, "POST", "/v1/redemptions/rd_999/rollback", `{}`, 404, `not_found`},
		{"Stats", issuer, "GET", "/v1/stats", ``, 200, `"rejected_lookups"`},
		{"CampaignStats", issuer, "GET", "/v1/campaigns/shop/stats", ``, 200, `"by_terminal":[{"name":"t1"`},
		{"Customer", issuer, "GET", "/v1/customers/ann", ``, 200, `"customer_id":"ann"`},
		{"CustomerUnknown", issuer, "GET", "/v1/customers/zed", ``, 404, `not_found`},
		{"Events", admin, "GET", "/v1/events?after=0&limit=2", ``, 200, `"seq":1`},
		{"EventsBadAfter", admin, "GET", "/v1/events?after=x", ``, 400, `"field":"after"`},
		{"EventsBadWait", admin, "GET", "/v1/events?wait=forever", ``, 400, `"field":"wait"`},
		{"EventsAsIssuer", issuer, "GET", "/v1/events", ``, 403, `forbidden`},
		{"KeysCreate", admin, "POST", "/v1/keys", `{"name": "till-9", "role": "pos"}`, 201, `"secret":"pk_`},
		{"KeysCreateBadRole", admin, "POST", "/v1/keys", `{"name": "x", "role": "root"}`, 400, `"field":"role"`},
		{"KeysList", admin, "GET", "/v1/keys", ``, 200, `"name":"till-9"`},
		{"KeysRevoke", admin, "DELETE", "/v1/keys/till-9", ``, 204, ``},
		{"KeysRevokeMissing", admin, "DELETE", "/v1/keys/till-9", ``, 404, `not_found`},
		{"Check", admin, "GET", "/v1/check", ``, 200, `"ok":true`},
		{"Healthz", "", "GET", "/healthz", ``, 200, `"status":"ok"`},
		{"UnknownRoute", admin, "GET", "/v1/nope", ``, 404, `no route GET /v1/nope`},
		{"WrongMethod", admin, "PUT", "/v1/campaigns", ``, 405, `"code":"method_not_allowed"`},
		{"BadKey", "", "GET", "/v1/campaigns", ``, 401, `unauthorized`},
	})
}

func flip(code string) string {
	if code[len(code)-1] == 'A' {
		return "B"
	}
	return "A"
}

func TestAPI_WrongMethod_SaysWhatIsAllowed(t *testing.T) {
	e := newEnv(t, Options{})
	_, h, _ := e.req(admin, "DELETE", "/v1/campaigns/x", nil)
	require.Equal(t, "GET, PATCH", h.Get("Allow"))
}

func TestAPI_Rollback(t *testing.T) {
	e := newEnv(t, Options{})
	e.campaign("c", "")
	codes := e.generate("c", 1)
	var red store.Redemption
	e.must(201, pos, "POST", "/v1/redeem", map[string]any{"code": codes[0], "order_amount": 1000}, &red)
	e.must(403, pos, "POST", "/v1/redemptions/"+red.ID+"/rollback", `{}`, nil)
	var rb store.Redemption
	e.must(200, issuer, "POST", "/v1/redemptions/"+red.ID+"/rollback", `{"reason": "refund"}`, &rb)
	require.Equal(t, "refund", rb.RollbackReason)
	b := e.must(409, issuer, "POST", "/v1/redemptions/"+red.ID+"/rollback", ``, nil)
	require.Equal(t, store.EConflict, errCode(t, b))
}

func TestAPI_Idempotency(t *testing.T) {
	e := newEnv(t, Options{})
	e.campaign("c", "")
	codes := e.generate("c", 2)
	body := `{"code": "` + codes[0] + `", "terminal": "till-1"}`
	s1, _, b1 := e.req(pos, "POST", "/v1/redeem", body, "Idempotency-Key", "sale-1")
	s2, _, b2 := e.req(pos, "POST", "/v1/redeem", body, "Idempotency-Key", "sale-1")
	require.Equal(t, 201, s1)
	require.Equal(t, s1, s2, "the retry replays the status")
	require.JSONEq(t, string(b1), string(b2), "and the body")
	s3, _, b3 := e.req(pos, "POST", "/v1/redeem", `{"code": "`+codes[1]+`"}`, "Idempotency-Key", "sale-1")
	require.Equal(t, 422, s3)
	require.Equal(t, store.EIdempotencyMismatch, errCode(t, b3))
	s4, _, b4 := e.req(pos, "POST", "/v1/redeem", body, "Idempotency-Key", strings.Repeat("k", 256))
	require.Equal(t, 400, s4, string(b4))
	// An empty key is a bad key, not no key (found by Portman's fuzzing:
	// it was taken as none, so a client whose key went missing lost its
	// protection without a word).
	s5, _, b5 := e.req(pos, "POST", "/v1/redeem", body, "Idempotency-Key", "")
	require.Equal(t, 400, s5, string(b5))
	d, _ := refusal(t, b5)
	require.Equal(t, "Idempotency-Key", d.Field)
	require.Contains(t, d.Message, "want 1 to 255 characters, got 0")
	// Generate and assign take keys too.
	var g1, g2 store.GenerateResult
	e.must(201, admin, "POST", "/v1/campaigns/c/generate", `{"count": 4}`, &g1, "Idempotency-Key", "gen-1")
	e.must(201, admin, "POST", "/v1/campaigns/c/generate", `{"count": 4}`, &g2, "Idempotency-Key", "gen-1")
	require.Equal(t, g1, g2)
	var c store.Campaign
	e.must(200, issuer, "GET", "/v1/campaigns/c", nil, &c)
	require.Equal(t, int64(6), c.Counts.Generated)
}

// 64 concurrent HTTP redemptions of one code: exactly one 201.
func TestAPI_Redeem_ConcurrentOneWinner(t *testing.T) {
	e := newEnv(t, Options{})
	e.campaign("c", "")
	codes := e.generate("c", 1)
	var created, conflict atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			status, _, _ := e.req(pos, "POST", "/v1/redeem", fmt.Sprintf(`{"code": %q, "terminal": "t%d"}`, codes[0], i))
			switch status {
			case 201:
				created.Add(1)
			case 409:
				conflict.Add(1)
			}
		}(i)
	}
	wg.Wait()
	require.Equal(t, int32(1), created.Load())
	require.Equal(t, int32(63), conflict.Load())
}

func TestAPI_CodesStreams(t *testing.T) {
	e := newEnv(t, Options{})
	e.campaign("c", "")
	codes := e.generate("c", 25)
	var page store.CodePage
	e.must(200, issuer, "GET", "/v1/campaigns/c/codes?limit=10", nil, &page)
	require.Len(t, page.Codes, 10)
	require.NotEmpty(t, page.NextCursor)
	var seen []string
	for cursor := ""; ; {
		var p store.CodePage
		e.must(200, issuer, "GET", "/v1/campaigns/c/codes?limit=10&cursor="+cursor, nil, &p)
		for _, c := range p.Codes {
			seen = append(seen, c.Code)
		}
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	require.Equal(t, codes, seen, "paging visits every code once, in order")

	status, h, b := e.req(issuer, "GET", "/v1/campaigns/c/codes", nil, "Accept", "text/csv")
	require.Equal(t, 200, status)
	require.Equal(t, "text/csv; charset=utf-8", h.Get("Content-Type"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	require.Len(t, lines, 26)
	require.Equal(t, strings.Join(store.CodeCSVHeader, ","), lines[0])
	require.True(t, strings.HasPrefix(lines[1], codes[0]+",c,available"), lines[1])

	status, _, b = e.req(issuer, "GET", "/v1/campaigns/c/codes?state=redeemed", nil, "Accept", "application/x-ndjson")
	require.Equal(t, 200, status)
	require.Empty(t, strings.TrimSpace(string(b)))
	status, _, b = e.req(issuer, "GET", "/v1/campaigns/nope/codes", nil, "Accept", "text/csv")
	require.Equal(t, 404, status, "a bad campaign is an error response, not a broken stream")
	require.Equal(t, store.ENotFound, errCode(t, b))
}

func TestAPI_ImportAndBulkAssign(t *testing.T) {
	e := newEnv(t, Options{})
	e.campaign("c", `, "kind": "welcome"`)
	status, _, b := e.req(admin, "POST", "/v1/campaigns/c/import", []byte("code\nSPRING-1\nSPRING_2\n"), "Content-Type", "text/csv")
	require.Equal(t, 400, status)
	_, problems := refusal(t, b)
	require.Equal(t, 3, problems[0].Line)
	var res store.ImportResult
	e.must(201, admin, "POST", "/v1/campaigns/c/import?skip_invalid=true", []byte("code\nSPRING-1\nSPRING_2\n"), &res, "Content-Type", "text/csv")
	require.Equal(t, 1, res.Imported)
	e.must(400, admin, "POST", "/v1/campaigns/c/import?skip_invalid=maybe", []byte("X\n"), nil, "Content-Type", "text/csv")

	in := "customer_id,email,name\nann,ann@example.com,Ann\nben,ben@example.com,Ben\n"
	status, _, b1 := e.req(issuer, "POST", "/v1/campaigns/c/assign?channel=mail", []byte(in), "Content-Type", "text/csv")
	require.Equal(t, 200, status, string(b1))
	lines := strings.Split(strings.TrimSpace(string(b1)), "\n")
	require.Equal(t, "customer_id,email,name,code", lines[0])
	require.True(t, strings.HasPrefix(lines[1], "ann,ann@example.com,Ann,SPRING-1"), lines[1])
	_, _, b2 := e.req(issuer, "POST", "/v1/campaigns/c/assign?channel=mail", []byte(in), "Content-Type", "text/csv")
	require.Equal(t, string(b1), string(b2), "re-running returns the same codes")
	status, _, b = e.req(issuer, "POST", "/v1/campaigns/c/assign", []byte("customer_id,channel\nx,pigeon\n"), "Content-Type", "text/csv")
	require.Equal(t, 400, status, string(b))
}

func TestAPI_Backup_OpensAndChecksClean(t *testing.T) {
	e := newEnv(t, Options{})
	e.campaign("c", "")
	e.generate("c", 100)
	status, _, b := e.req(admin, "GET", "/v1/backup", nil)
	require.Equal(t, 200, status)
	path := filepath.Join(t.TempDir(), "restored.db")
	require.NoError(t, os.WriteFile(path, b, 0o600))
	st, err := store.Open(path, store.Options{})
	require.NoError(t, err)
	defer st.Close()
	findings, err := st.Check(t.Context())
	require.NoError(t, err)
	require.Empty(t, findings)
	c, err := st.Campaign("c")
	require.NoError(t, err)
	require.Equal(t, int64(100), c.Counts.Generated)
}

func TestAPI_Metrics(t *testing.T) {
	e := newEnv(t, Options{})
	e.campaign("c", "")
	codes := e.generate("c", 2)
	e.must(201, pos, "POST", "/v1/redeem", map[string]string{"code": codes[0]}, nil)
	e.must(200, pos, "POST", "/v1/validate", map[string]string{"code": "NOPE"}, nil)
	_, _, b := e.req("", "GET", "/metrics", nil)
	m := string(b)
	for _, want := range []string{
		`promo_http_requests_total{method="POST",route="POST /v1/redeem",status="201"} 1`,
		`promo_http_request_duration_seconds_bucket{route="POST /v1/redeem"`,
		`promo_redemptions_total 1`,
		`promo_rejected_lookups_total{stage="filter"} 1`,
		`promo_codes{campaign="c",state="redeemed"} 1`,
		`promo_codes{campaign="c",state="available"} 1`,
		`promo_filter_keys{of="capacity"}`,
	} {
		require.Contains(t, m, want)
	}
}

func TestAPI_LogsOneLinePerRequest_NoSecrets(t *testing.T) {
	e := newEnv(t, Options{})
	_, h, _ := e.req(admin, "GET", "/v1/campaigns", nil, "X-Request-Id", "abc123")
	require.Equal(t, "abc123", h.Get("X-Request-Id"))
	logs := e.logged()
	require.Contains(t, logs, "id=abc123")
	require.Contains(t, logs, `route="GET /v1/campaigns"`)
	require.Contains(t, logs, "key=admin-key")
	for _, secret := range e.keys {
		require.NotContains(t, logs, secret)
	}
}

func TestAPI_FailedLookupsAreRateLimited(t *testing.T) {
	e := newEnv(t, Options{FailedLookupsPerMinute: 20, FailedLookupBurst: 5})
	e.campaign("c", "")
	codes := e.generate("c", 3)
	for i := 0; i < 5; i++ {
		e.must(200, pos, "POST", "/v1/validate", `{"code": "NOPE"}`, nil)
	}
	status, h, b := e.req(pos, "POST", "/v1/validate", `{"code": "NOPE"}`)
	require.Equal(t, http.StatusTooManyRequests, status)
	require.Equal(t, store.ERateLimited, errCode(t, b))
	require.Equal(t, "3", h.Get("Retry-After"), "one token comes back every 3 s at 20 a minute")
	status, _, _ = e.req(pos, "POST", "/v1/redeem", `{"code": "`+codes[0]+`"}`)
	require.Equal(t, http.StatusTooManyRequests, status, "the caller is slowed on every lookup route")
}
