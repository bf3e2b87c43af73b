package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/mux"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	liberrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
	"github.com/stretchr/testify/require"
)

// The OpenAPI document is kept true three ways: every response the
// package's tests receive through env.req is validated against it
// (status, content type, JSON schema, headers); the router's routes and
// the document's operations must be the same set (both here); and its
// examples are real answers (openapi_examples_test.go).

// notInOpenAPI are the routes that are not part of the API the document
// describes: the web pages, their assets, and Go's profiles.
var notInOpenAPI = map[string]bool{
	"GET /": true, "GET /pos": true, "GET /admin": true, "GET /assets/{file}": true,
	"GET /admin/campaigns/{id}/sheet": true, "GET /debug/pprof/{profile}": true,
}

var oas struct {
	once  sync.Once
	mu    sync.Mutex // the validator's caches are not documented as safe for concurrent use
	v     validator.Validator
	lines schema_validation.SchemaValidator // for the lines of NDJSON answers
	model *v3.Document
	raw   map[string]any // the document as JSON, for x-promo-line-schemas
	err   error
}

func openAPIValidator(t testing.TB) validator.Validator {
	t.Helper()
	oas.once.Do(func() {
		doc, err := libopenapi.NewDocument(openAPIDoc)
		if err != nil {
			oas.err = err
			return
		}
		v, errs := validator.NewValidator(doc)
		if len(errs) > 0 {
			oas.err = fmt.Errorf("openapi.json: %v", errs)
			return
		}
		if ok, verrs := v.ValidateDocument(); !ok {
			oas.err = fmt.Errorf("openapi.json is not a valid OpenAPI document: %v", verrs)
			return
		}
		model, err := doc.BuildV3Model()
		if err != nil {
			oas.err = err
			return
		}
		oas.v, oas.model, oas.lines = v, &model.Model, schema_validation.NewSchemaValidator()
		oas.err = json.Unmarshal(openAPIDoc, &oas.raw)
	})
	require.NoError(t, oas.err)
	return oas.v
}

// checkOpenAPI validates one answer against the document. Requests that
// matched no route (404, 405) get the error body the document gives every
// error; routes that are not the API's (notInOpenAPI) are not checked.
func (e *env) checkOpenAPI(req *http.Request, resp *http.Response, body []byte) {
	e.t.Helper()
	var m mux.RouteMatch
	if !e.srv.router.Match(req, &m) || m.MatchErr != nil {
		require.Contains(e.t, []int{404, 405}, resp.StatusCode, "%s %s matched no route", req.Method, req.URL.Path)
		errCode(e.t, body)
		return
	}
	tmpl, _ := m.Route.GetPathTemplate()
	if notInOpenAPI[req.Method+" "+tmpl] {
		return
	}
	v := openAPIValidator(e.t)
	r := resp
	clone := *r
	clone.Body = io.NopCloser(bytes.NewReader(body))
	oas.mu.Lock()
	ok, errs := v.ValidateHttpResponse(req, &clone)
	oas.mu.Unlock()
	if ok && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/x-ndjson") {
		errs = checkLines(tmpl, req.Method, resp.StatusCode, body)
		ok = len(errs) == 0
	}
	if !ok {
		var msgs []string
		for _, err := range errs {
			msgs = append(msgs, err.Error())
		}
		e.t.Errorf("%s %s answered %d (%s) against openapi.json:\n  %s\nbody: %.600s", req.Method, req.URL.Path,
			resp.StatusCode, resp.Header.Get("Content-Type"), strings.Join(msgs, "\n  "), body)
	}
}

// checkLines validates each line of an NDJSON answer against the schemas
// its media type names in x-promo-line-schemas: every line must match one.
func checkLines(path, method string, status int, body []byte) []*liberrors.ValidationError {
	op, _ := oas.raw["paths"].(map[string]any)[path].(map[string]any)[strings.ToLower(method)].(map[string]any)
	resp, _ := op["responses"].(map[string]any)[fmt.Sprint(status)].(map[string]any)
	content, _ := resp["content"].(map[string]any)
	media, _ := content["application/x-ndjson"].(map[string]any)
	names, _ := media["x-promo-line-schemas"].([]any)
	if len(names) == 0 {
		return []*liberrors.ValidationError{{Message: "an NDJSON answer without x-promo-line-schemas in openapi.json"}}
	}
	var out []*liberrors.ValidationError
	for i, line := range bytes.Split(bytes.TrimSpace(body), []byte("\n")) {
		var lineErrs []*liberrors.ValidationError
		matched := false
		for _, n := range names {
			name := strings.TrimPrefix(n.(string), "#/components/schemas/")
			proxy := oas.model.Components.Schemas.GetOrZero(name)
			if proxy == nil {
				return []*liberrors.ValidationError{{Message: "x-promo-line-schemas names no schema " + name}}
			}
			oas.mu.Lock()
			ok, errs := oas.lines.ValidateSchemaBytes(proxy.Schema(), line)
			oas.mu.Unlock()
			if ok {
				matched = true
				break
			}
			lineErrs = append(lineErrs, errs...)
		}
		if !matched {
			out = append(out, &liberrors.ValidationError{Message: fmt.Sprintf("NDJSON line %d matches none of %v", i+1, names)})
			out = append(out, lineErrs...)
		}
	}
	return out
}

// docOperations returns "METHOD /path" of every operation in the document.
func docOperations(t *testing.T) (map[string]bool, map[string]any) {
	var doc map[string]any
	require.NoError(t, json.Unmarshal(openAPIDoc, &doc))
	out := map[string]bool{}
	for path, item := range doc["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options":
				out[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	return out, doc
}

// TestOpenAPI_RoutesMatchTheDocument fails when the router has a route
// that the document lacks, or the document an operation the router does
// not serve.
func TestOpenAPI_RoutesMatchTheDocument(t *testing.T) {
	e := newEnv(t, Options{})
	documented, _ := docOperations(t)
	routed := map[string]bool{}
	require.NoError(t, e.srv.router.Walk(func(r *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tmpl, err := r.GetPathTemplate()
		if err != nil {
			return err
		}
		methods, err := r.GetMethods()
		if err != nil {
			return err
		}
		for _, m := range methods {
			if !notInOpenAPI[m+" "+tmpl] {
				routed[m+" "+tmpl] = true
			}
		}
		return nil
	}))
	var missing, extra []string
	for op := range routed {
		if !documented[op] {
			missing = append(missing, op)
		}
	}
	for op := range documented {
		if !routed[op] {
			extra = append(extra, op)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	require.Empty(t, missing, "routes the router serves that openapi.json lacks: add them to httpapi/openapi.json")
	require.Empty(t, extra, "operations in openapi.json that the router does not serve")
	require.Greater(t, len(routed), 30)
}

// TestOpenAPI_DocumentRoles checks that each operation names the role its
// route needs (x-promo-role) and asks for the API key exactly when it
// needs one.
func TestOpenAPI_DocumentRoles(t *testing.T) {
	e := newEnv(t, Options{})
	_, doc := docOperations(t)
	paths := doc["paths"].(map[string]any)
	for _, rt := range e.srv.routes {
		if notInOpenAPI[rt.method+" "+rt.path] {
			continue
		}
		item, _ := paths[rt.path].(map[string]any)
		op, _ := item[strings.ToLower(rt.method)].(map[string]any)
		require.NotNil(t, op, "%s %s", rt.method, rt.path)
		role := firstOr(rt.role, "none")
		require.Equal(t, role, op["x-promo-role"], "%s %s", rt.method, rt.path)
		sec, _ := op["security"].([]any)
		require.Equal(t, rt.role != "", len(sec) > 0, "%s %s: security", rt.method, rt.path)
	}
}

func TestOpenAPI_Served(t *testing.T) {
	e := newEnv(t, Options{})
	status, h, body := e.req("", "GET", "/openapi.json", nil)
	require.Equal(t, 200, status)
	require.Equal(t, "application/json", h.Get("Content-Type"))
	require.Equal(t, openAPIDoc, body)
	var doc struct {
		OpenAPI string `json:"openapi"`
	}
	require.NoError(t, json.Unmarshal(body, &doc))
	require.Equal(t, "3.1.0", doc.OpenAPI)
}

// TestOpenAPI_ValidatorCatchesLies makes sure the hook in env.req can
// fail: an answer that breaks the document is reported.
func TestOpenAPI_ValidatorCatchesLies(t *testing.T) {
	e := newEnv(t, Options{})
	v := openAPIValidator(t)
	req, err := http.NewRequest("GET", e.http.URL+"/v1/campaigns", nil)
	require.NoError(t, err)
	for _, tc := range []struct {
		status int
		ctype  string
		body   string
	}{
		{200, "application/json", `{"campaigns": "none"}`},                    // wrong type
		{200, "application/json", `{}`},                                       // a required field left out
		{200, "text/html", `<p>hi</p>`},                                       // a content type not documented
		{418, "application/json", `{"error": {"code": "x", "message": "y"}}`}, // a status not documented
		{401, "application/json", `{"error": {"code": "unauthorized"}}`},      // an error body without its message
	} {
		resp := &http.Response{StatusCode: tc.status, Header: http.Header{"Content-Type": {tc.ctype}},
			Body: io.NopCloser(strings.NewReader(tc.body))}
		ok, _ := v.ValidateHttpResponse(req, resp)
		require.False(t, ok, "%d %s %s passed", tc.status, tc.ctype, tc.body)
	}
	// NDJSON answers are checked line by line against their line schemas.
	good := `{"code":"7K3M-Q9XD-2RTM","campaign":"c","state":"available","redemption_count":0,"max_redemptions":1}`
	require.Empty(t, checkLines("/v1/campaigns/{id}/codes", "GET", 200, []byte(good+"\n"+good+"\n")))
	require.NotEmpty(t, checkLines("/v1/campaigns/{id}/codes", "GET", 200, []byte(good+"\n"+`{"code": 5}`+"\n")))
	require.NotEmpty(t, checkLines("/v1/campaigns/{id}/redemptions", "GET", 200, []byte(good+"\n")), "a code is no redemption")
}
