package httpapi

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAPI_Controls runs the campaign controls and webhooks as a table of
// requests against one real store; each row depends on the rows before.
func TestAPI_Controls(t *testing.T) {
	e := newEnv(t, Options{})
	e.campaign("b", `, "budget": {"redemptions": 2}`)
	codes := e.generate("b", 6)
	e.campaign("w", `, "kind": "welcome"`)
	e.generate("w", 2)
	_, secret, err := e.st.CreateKey(context.Background(), "pos2-key", pos)
	require.NoError(t, err)
	e.keys["pos2"] = secret // another till
	runReqCases(t, e, []reqCase{
		{"BudgetShown", issuer, "GET", "/v1/campaigns/b", ``, 200, `"budget":{"redemptions":2}`},
		{"BudgetNegative", admin, "PATCH", "/v1/campaigns/b", `{"budget": {"redemptions": -1}}`, 400, `"field":"budget.redemptions"`},
		{"Hold", pos, "POST", "/v1/validate", `{"code": "` + codes[0] + `", "customer_id": "ann", "hold": "15m"}`, 200, `"hold":{"id":"hd_1"`},
		{"HoldNoCustomer", pos, "POST", "/v1/validate", `{"code": "` + codes[0] + `", "hold": "15m"}`, 400, `"field":"customer_id"`},
		{"HoldTooLong", pos, "POST", "/v1/validate", `{"code": "` + codes[0] + `", "customer_id": "ann", "hold": "25h"}`, 400, `"field":"hold"`},
		{"HeldForAnother", pos, "POST", "/v1/redeem", `{"code": "` + codes[0] + `", "customer_id": "ben"}`, 409, `"code":"held"`},
		{"HeldValidate", pos, "POST", "/v1/validate", `{"code": "` + codes[0] + `", "customer_id": "ben"}`, 200, `"reason":"held"`},
		{"RedeemWithHold", pos, "POST", "/v1/redeem", `{"code": "` + codes[0] + `", "customer_id": "ann", "hold_id": "hd_1"}`, 201, `"hold":"hd_1"`},
		{"RedeemUnknownHold", pos, "POST", "/v1/redeem", `{"code": "` + codes[1] + `", "customer_id": "ann", "hold_id": "hd_77"}`, 404, `"field":"hold_id"`},
		{"RedeemWithHoldField", pos, "POST", "/v1/redeem", `{"code": "` + codes[1] + `", "hold": "1m"}`, 400, `"field":"hold"`},
		{"Redeem2", pos, "POST", "/v1/redeem", `{"code": "` + codes[1] + `"}`, 201, `"id":"rd_2"`},
		{"BudgetExhausted", pos, "POST", "/v1/redeem", `{"code": "` + codes[2] + `"}`, 409, `"code":"budget_exhausted"`},
		{"BudgetUse", issuer, "GET", "/v1/campaigns/b/stats", ``, 200, `"budget":{"redemptions":2,"discount":0,"redemptions_used":2`},
		{"BudgetRaised", admin, "PATCH", "/v1/campaigns/b", `{"budget": {"redemptions": 10}}`, 200, `"redemptions":10`},
		{"HoldForRelease", pos, "POST", "/v1/validate", `{"code": "` + codes[3] + `", "customer_id": "cat", "hold": "1h"}`, 200, `"hold":{"id":"hd_2"`},
		{"ReleaseAnothersHold", "pos2", "POST", "/v1/holds/hd_2/release", ``, 404, `not_found`},
		{"ReleaseHold", pos, "POST", "/v1/holds/hd_2/release", ``, 200, `"customer_id":"cat"`},
		{"ReleaseAgain", pos, "POST", "/v1/holds/hd_2/release", ``, 404, `not_found`},
		{"ReleaseBadID", pos, "POST", "/v1/holds/nonsense/release", ``, 404, `"field":"id"`},
		{"VoidBatch", admin, "POST", "/v1/campaigns/b/void", `{"batch": "b1", "reason": "leaked"}`, 200, `"voided":4`},
		{"VoidBatchUnknown", admin, "POST", "/v1/campaigns/b/void", `{"batch": "b9"}`, 404, `"field":"batch"`},
		{"VoidBatchAsIssuer", issuer, "POST", "/v1/campaigns/b/void", `{}`, 403, `forbidden`},
		{"Assign", issuer, "POST", "/v1/campaigns/w/assign", `{"customer_id": "dora"}`, 200, `"customer_id":"dora"`},
		{"Erase", admin, "DELETE", "/v1/customers/dora", ``, 200, `"pseudonym":"erased-`},
		{"ErasedGone", issuer, "GET", "/v1/customers/dora", ``, 404, `not_found`},
		{"EraseUnknown", admin, "DELETE", "/v1/customers/zed", ``, 404, `not_found`},
		{"EraseAsIssuer", issuer, "DELETE", "/v1/customers/ann", ``, 403, `forbidden`},
		{"WebhookCreate", admin, "POST", "/v1/webhooks", `{"url": "https://crm.example.com/promo", "events": ["code.redeemed"], "description": "CRM"}`, 201, `"secret":"whsec_`},
		{"WebhookBadEvent", admin, "POST", "/v1/webhooks", `{"url": "https://crm.example.com/promo", "events": ["code.eaten"]}`, 400, `"field":"events"`},
		{"WebhookBadURL", admin, "POST", "/v1/webhooks", `{"url": "ftp://x", "events": ["*"]}`, 400, `"field":"url"`},
		{"WebhookNoEvents", admin, "POST", "/v1/webhooks", `{"url": "https://x.example"}`, 400, `"field":"events"`},
		{"WebhookControlChars", admin, "POST", "/v1/webhooks", `{"url": "https://x.example", "events": ["*"], "description": "a\u001bb"}`, 400, `"field":"description"`},
		{"WebhookList", admin, "GET", "/v1/webhooks", ``, 200, `"url":"https://crm.example.com/promo"`},
		{"WebhookListAsIssuer", issuer, "GET", "/v1/webhooks", ``, 403, `forbidden`},
	})
	// The listing never shows a secret; deliveries and removal.
	_, _, b := e.req(admin, "GET", "/v1/webhooks", nil)
	require.NotContains(t, string(b), "whsec_")
	id := b[strings.Index(string(b), `"id":"`)+6:]
	id = id[:strings.IndexByte(string(id), '"')]
	status, _, d := e.req(admin, "GET", "/v1/webhooks/"+string(id)+"/deliveries", nil)
	require.Equal(t, 200, status, string(d))
	require.Contains(t, string(d), `"deliveries":[]`)
	status, _, _ = e.req(admin, "DELETE", "/v1/webhooks/"+string(id), nil)
	require.Equal(t, 204, status)
	status, _, d = e.req(admin, "GET", "/v1/webhooks/"+string(id)+"/deliveries", nil)
	require.Equal(t, 404, status, string(d))
}
