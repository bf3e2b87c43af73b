package httpapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The examples of openapi.json are real answers, written by
// TestOpenAPI_Examples -update-examples and checked on every run to still
// have the shape of a fresh answer.

var updateExamples = flag.Bool("update-examples", false, "rewrite the examples of openapi.json from real answers")

// exampleKey names where an example goes: an operation's answer with a
// status and media type, or a shared error response ("E404").
type exampleKey struct{ path, method, status, media string }

// TestOpenAPI_Examples runs one store through every operation and takes
// each JSON answer as the example of its operation and status (and one
// error answer per status as the shared error response's example). With
// -update-examples it writes them into openapi.json; otherwise it checks
// that every documented JSON success answer has an example and that each
// example still has the shape of the fresh answer (every field of the
// example is in the answer with the same JSON type), so an example can
// never describe fields the server no longer sends.
func TestOpenAPI_Examples(t *testing.T) {
	real := map[exampleKey]any{}
	record := func(path, method string, status int, h http.Header, body []byte) {
		if !strings.HasPrefix(h.Get("Content-Type"), "application/json") || len(body) == 0 {
			return
		}
		var v any
		require.NoError(t, json.Unmarshal(body, &v))
		k := exampleKey{path, strings.ToLower(method), fmt.Sprint(status), "application/json"}
		if status >= 400 {
			k = exampleKey{status: fmt.Sprint(status)}
		}
		if _, ok := real[k]; !ok {
			real[k] = v
		}
	}
	runExampleScenario(t, record)

	_, doc := docOperations(t)
	paths := doc["paths"].(map[string]any)
	errResponses := doc["components"].(map[string]any)["responses"].(map[string]any)
	mediaOf := func(k exampleKey) map[string]any {
		var resp map[string]any
		if k.path == "" {
			resp, _ = errResponses["E"+k.status].(map[string]any)
		} else {
			op, _ := paths[k.path].(map[string]any)[k.method].(map[string]any)
			require.NotNil(t, op, "%s %s", k.method, k.path)
			resp, _ = op["responses"].(map[string]any)[k.status].(map[string]any)
		}
		require.NotNil(t, resp, "no response %s for %s %s in openapi.json", k.status, k.method, k.path)
		if ref, ok := resp["$ref"].(string); ok {
			resp = errResponses[strings.TrimPrefix(ref, "#/components/responses/")].(map[string]any)
		}
		content, _ := resp["content"].(map[string]any)
		media, _ := content["application/json"].(map[string]any)
		require.NotNil(t, media, "%s %s %s has no application/json", k.method, k.path, k.status)
		return media
	}
	if *updateExamples {
		for k, v := range real {
			mediaOf(k)["example"] = v
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		require.NoError(t, enc.Encode(doc))
		require.NoError(t, os.WriteFile("openapi.json", buf.Bytes(), 0o644))
		t.Logf("wrote %d examples into openapi.json", len(real))
		return
	}
	for k, v := range real {
		ex, ok := mediaOf(k)["example"]
		if !ok {
			t.Errorf("%s %s %s: no example in openapi.json; run go test ./httpapi -run TestOpenAPI_Examples -update-examples", k.method, k.path, k.status)
			continue
		}
		if err := sameShape(ex, v, ""); err != nil {
			t.Errorf("%s %s %s: the example is not what the server answers (%v); run go test ./httpapi -run TestOpenAPI_Examples -update-examples", k.method, k.path, k.status, err)
		}
	}
	// Every JSON success answer of the document has an example, so the
	// scenario must reach them all.
	for path, item := range paths {
		for method, op := range item.(map[string]any) {
			for status, resp := range op.(map[string]any)["responses"].(map[string]any) {
				r, _ := resp.(map[string]any)
				content, _ := r["content"].(map[string]any)
				media, _ := content["application/json"].(map[string]any)
				if !strings.HasPrefix(status, "2") || media == nil || path == "/openapi.json" {
					continue
				}
				if _, ok := real[exampleKey{path, method, status, "application/json"}]; !ok {
					t.Errorf("%s %s %s: the example scenario does not reach it", method, path, status)
				}
			}
		}
	}
}

// sameShape reports a field of the example that the answer lacks or has
// with another JSON type. Arrays compare their first elements.
func sameShape(example, answer any, at string) error {
	switch ex := example.(type) {
	case map[string]any:
		an, ok := answer.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: an object in the example, %T in the answer", firstOr(at, "."), answer)
		}
		for k, v := range ex {
			av, ok := an[k]
			if !ok {
				return fmt.Errorf("%s.%s: in the example, not in the answer", at, k)
			}
			if err := sameShape(v, av, at+"."+k); err != nil {
				return err
			}
		}
	case []any:
		an, ok := answer.([]any)
		if !ok {
			return fmt.Errorf("%s: an array in the example, %T in the answer", firstOr(at, "."), answer)
		}
		if len(ex) > 0 && len(an) > 0 {
			return sameShape(ex[0], an[0], at+"[0]")
		}
	case nil:
	default:
		if answer != nil && fmt.Sprintf("%T", ex) != fmt.Sprintf("%T", answer) {
			return fmt.Errorf("%s: %T in the example, %T in the answer", firstOr(at, "."), ex, answer)
		}
	}
	return nil
}

// runExampleScenario calls every operation of the document once or more
// on a fresh store, in an order where each has something to act on, and
// hands each answer to record.
func runExampleScenario(t *testing.T, record func(path, method string, status int, h http.Header, body []byte)) {
	e := newEnv(t, Options{FailedLookupBurst: 3, FailedLookupsPerMinute: 1})
	do := func(want int, role, method, tmpl, path string, body any, headers ...string) []byte {
		t.Helper()
		status, h, b := e.req(role, method, path, body, headers...)
		require.Equal(t, want, status, "%s %s: %s", method, path, b)
		record(tmpl, method, status, h, b)
		return b
	}
	const C = "/v1/campaigns/{id}"
	do(201, admin, "POST", "/v1/campaigns", "/v1/campaigns", `{"id": "welcome-2026", "name": "Welcome offer", "kind": "welcome",
		"benefit": {"type": "percent", "value": 10}, "expires_at": "2030-01-31T23:59:59Z", "valid_for": "48h", "min_order": 2000,
		"budget": {"redemptions": 1000}, "metadata": {"owner": "crm"}}`)
	do(201, admin, "POST", "/v1/campaigns", "/v1/campaigns", `{"id": "events", "name": "Event flyers", "benefit": {"type": "amount", "value": 500, "currency": "EUR"}}`)
	do(409, admin, "POST", "/v1/campaigns", "/v1/campaigns", `{"id": "events", "benefit": {"type": "percent", "value": 5}}`)
	do(400, admin, "POST", "/v1/campaigns", "/v1/campaigns", `{"id": "Black Friday", "benefit": {"type": "percent", "value": 5}}`)
	do(401, "", "GET", "/v1/campaigns", "/v1/campaigns", nil)
	do(403, pos, "GET", "/v1/campaigns", "/v1/campaigns", nil)
	do(200, issuer, "GET", "/v1/campaigns", "/v1/campaigns", nil)
	do(404, issuer, "GET", C, "/v1/campaigns/nope", nil)
	do(200, issuer, "GET", C, "/v1/campaigns/welcome-2026", nil)
	do(200, admin, "PATCH", C, "/v1/campaigns/welcome-2026", `{"name": "Welcome offer 2026"}`)
	do(201, admin, "POST", C+"/generate", "/v1/campaigns/welcome-2026/generate", `{"count": 5}`, "Idempotency-Key", "gen-1")
	do(201, admin, "POST", C+"/generate", "/v1/campaigns/events/generate", `{"count": 3}`)
	do(422, admin, "POST", C+"/generate", "/v1/campaigns/welcome-2026/generate", `{"count": 6}`, "Idempotency-Key", "gen-1")
	csv := func(h ...string) []string { return append([]string{"Content-Type", "text/csv"}, h...) }
	do(201, admin, "POST", C+"/import", "/v1/campaigns/events/import", "code\nFLYER0001\nFLYER0002\n", csv()...)
	do(400, admin, "POST", C+"/import", "/v1/campaigns/events/import", "code\nFLYER0003\nbad code!\n", csv()...)
	var page struct {
		Codes []struct {
			Code string `json:"code"`
		} `json:"codes"`
	}
	require.NoError(t, json.Unmarshal(do(200, issuer, "GET", C+"/codes", "/v1/campaigns/welcome-2026/codes?limit=5", nil), &page))
	require.Len(t, page.Codes, 5)
	var assigned struct {
		Code string `json:"code"`
	}
	require.NoError(t, json.Unmarshal(do(200, issuer, "POST", C+"/assign", "/v1/campaigns/welcome-2026/assign",
		`{"customer_id": "ann", "channel": "email"}`, "Idempotency-Key", "assign-ann"), &assigned))
	do(200, issuer, "GET", "/v1/codes/{code}", "/v1/codes/"+assigned.Code, nil)
	do(404, issuer, "GET", "/v1/codes/{code}", "/v1/codes/NOPE", nil)
	var valid struct {
		Hold struct {
			ID string `json:"id"`
		} `json:"hold"`
	}
	require.NoError(t, json.Unmarshal(do(200, pos, "POST", "/v1/validate", "/v1/validate",
		`{"code": "`+assigned.Code+`", "customer_id": "ann", "order_amount": 2500, "currency": "EUR", "hold": "15m"}`), &valid))
	var red struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(do(201, pos, "POST", "/v1/redeem", "/v1/redeem",
		`{"code": "`+assigned.Code+`", "customer_id": "ann", "order_id": "o-1001", "order_amount": 2500, "currency": "EUR", "terminal": "web", "hold_id": "`+valid.Hold.ID+`"}`,
		"Idempotency-Key", "o-1001"), &red))
	do(409, pos, "POST", "/v1/redeem", "/v1/redeem", `{"code": "`+assigned.Code+`", "customer_id": "ann", "order_amount": 2500}`)
	do(400, pos, "POST", "/v1/redeem", "/v1/redeem", `{"code": "`+assigned.Code+`", "order_amount": -1}`)
	do(200, issuer, "POST", "/v1/redemptions/{id}/rollback", "/v1/redemptions/"+red.ID+"/rollback", `{"reason": "refund"}`, "Idempotency-Key", "refund-o-1001")
	require.NoError(t, json.Unmarshal(do(200, pos, "POST", "/v1/validate", "/v1/validate",
		`{"code": "`+page.Codes[1].Code+`", "customer_id": "bob", "order_amount": 3000, "hold": "10m"}`), &valid))
	do(200, pos, "POST", "/v1/holds/{id}/release", "/v1/holds/"+valid.Hold.ID+"/release", nil)
	do(200, admin, "POST", "/v1/codes/{code}/void", "/v1/codes/"+page.Codes[2].Code+"/void", `{"reason": "printed twice"}`)
	do(410, pos, "POST", "/v1/redeem", "/v1/redeem", `{"code": "`+page.Codes[2].Code+`", "order_amount": 2500}`)
	do(200, issuer, "GET", C+"/stats", "/v1/campaigns/welcome-2026/stats", nil)
	do(200, issuer, "GET", "/v1/stats", "/v1/stats", nil)
	do(200, issuer, "GET", "/v1/customers/{id}", "/v1/customers/ann", nil)
	do(200, admin, "GET", "/v1/events", "/v1/events?after=0&limit=3", nil)
	do(201, admin, "POST", "/v1/keys", "/v1/keys", `{"name": "till-3", "role": "pos"}`)
	do(200, admin, "GET", "/v1/keys", "/v1/keys", nil)
	do(204, admin, "DELETE", "/v1/keys/{name}", "/v1/keys/till-3", nil)
	var hook struct {
		Webhook struct {
			ID string `json:"id"`
		} `json:"webhook"`
	}
	require.NoError(t, json.Unmarshal(do(201, admin, "POST", "/v1/webhooks", "/v1/webhooks",
		`{"url": "https://crm.example.com/promo", "events": ["code.redeemed", "redemption.rolled_back"], "description": "CRM"}`), &hook))
	do(200, admin, "GET", "/v1/webhooks", "/v1/webhooks", nil)
	do(200, admin, "GET", "/v1/webhooks/{id}/deliveries", "/v1/webhooks/"+hook.Webhook.ID+"/deliveries", nil)
	do(204, admin, "DELETE", "/v1/webhooks/{id}", "/v1/webhooks/"+hook.Webhook.ID, nil)
	do(200, admin, "POST", C+"/void", "/v1/campaigns/events/void", `{"batch": "b2", "reason": "leaked"}`)
	do(200, admin, "DELETE", "/v1/customers/{id}", "/v1/customers/ann", nil)
	do(200, admin, "GET", "/v1/check", "/v1/check", nil)
	do(200, "", "GET", "/healthz", "/healthz", nil)
	do(413, admin, "POST", "/v1/campaigns", "/v1/campaigns", `{"id": "x", "name": "`+strings.Repeat("a", 2<<20)+`"}`)
	for i := 0; ; i++ { // the failed-lookup limit (a burst of 3 here)
		status, h, b := e.req(pos, "POST", "/v1/redeem", `{"code": "NOPE`+fmt.Sprint(i)+`"}`)
		if status == 429 {
			record("/v1/redeem", "POST", status, h, b)
			break
		}
		require.Less(t, i, 10, "never slowed")
	}
}
