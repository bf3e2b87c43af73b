package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"promo/store"
)

// env is a server over a real store in a temporary directory, with one key
// per role.
type env struct {
	t    *testing.T
	st   *store.Store
	srv  *Server
	http *httptest.Server
	keys map[string]string // role → secret
	logs *bytes.Buffer
	lw   *lockedWriter
}

func (e *env) logMu() *sync.Mutex { return &e.lw.mu }

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "promo.db")
	st, err := store.Open(path, store.Options{})
	require.NoError(t, err)
	logs := &bytes.Buffer{}
	lw := &lockedWriter{w: logs}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(lw, nil))
	}
	srv := New(st, opts)
	hs := httptest.NewServer(srv.Handler())
	e := &env{t: t, st: st, srv: srv, http: hs, keys: map[string]string{}, logs: logs, lw: lw}
	t.Cleanup(func() {
		hs.Close()
		findings, err := st.Check(context.Background())
		require.NoError(t, err)
		require.Empty(t, findings)
		require.NoError(t, st.Close())
	})
	for _, role := range []string{store.RoleAdmin, store.RoleIssuer, store.RolePOS} {
		_, secret, err := st.CreateKey(context.Background(), role+"-key", role)
		require.NoError(t, err)
		e.keys[role] = secret
	}
	return e
}

// lockedWriter lets concurrent requests log into one buffer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (lw *lockedWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.w.Write(p)
}

// String returns what was logged so far.
func (e *env) logged() string {
	e.logMu().Lock()
	defer e.logMu().Unlock()
	return e.logs.String()
}

// req sends a request as role ("" for none) and returns status, headers
// and body.
func (e *env) req(role, method, path string, body any, headers ...string) (int, http.Header, []byte) {
	e.t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
		ctype = "application/json"
	case []byte:
		rd = bytes.NewReader(b)
		ctype = "application/json"
	default:
		j, err := json.Marshal(b)
		require.NoError(e.t, err)
		rd = bytes.NewReader(j)
		ctype = "application/json"
	}
	r, err := http.NewRequest(method, e.http.URL+path, rd)
	require.NoError(e.t, err)
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	if role != "" {
		r.Header.Set("Authorization", "Bearer "+e.keys[role])
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(r)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	e.checkOpenAPI(r, resp, b) // every answer of the API tests against openapi.json
	return resp.StatusCode, resp.Header, b
}

// must sends a request and requires the status, decoding JSON into out.
func (e *env) must(status int, role, method, path string, body, out any, headers ...string) []byte {
	e.t.Helper()
	got, _, b := e.req(role, method, path, body, headers...)
	require.Equal(e.t, status, got, "%s %s: %s", method, path, b)
	if out != nil {
		require.NoError(e.t, json.Unmarshal(b, out), string(b))
	}
	return b
}

func (e *env) campaign(id string, extra string) {
	e.t.Helper()
	e.must(201, store.RoleAdmin, "POST", "/v1/campaigns", `{"id": "`+id+`", "benefit": {"type": "percent", "value": 10}`+extra+`}`, nil)
}

func (e *env) generate(id string, n int) []string {
	e.t.Helper()
	e.must(201, store.RoleAdmin, "POST", "/v1/campaigns/"+id+"/generate", map[string]int{"count": n}, nil)
	var page store.CodePage
	e.must(200, store.RoleIssuer, "GET", "/v1/campaigns/"+id+"/codes?limit=10000", nil, &page)
	var out []string
	for _, c := range page.Codes {
		out = append(out, c.Code)
	}
	return out
}

// refusal decodes an error body into the one ErrorBody type, as the
// Client does, with the bad lines of an upload it lists.
func refusal(t *testing.T, b []byte) (ErrorDetail, []store.ImportProblem) {
	t.Helper()
	body, err := readErrorBody(b)
	require.NoError(t, err, string(b))
	problems, _ := body.Error.problems()
	return body.Error, problems
}

func errCode(t *testing.T, b []byte) string {
	t.Helper()
	var body ErrorBody
	require.NoError(t, json.Unmarshal(b, &body), string(b))
	require.NotEmpty(t, body.Error.Message, string(b))
	return body.Error.Code
}

// reqCase is one row of a table of requests and what each must answer.
type reqCase struct {
	name       string
	role       string
	method     string
	url        string
	body       string // "" for none
	wantStatus int
	wantBody   string // a substring of the body
}

// runReqCases sends each case as a subtest, in order; every error answer
// must carry the error body.
func runReqCases(t *testing.T, e *env, cases []reqCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			status, _, b := e.req(tc.role, tc.method, tc.url, body)
			require.Equal(t, tc.wantStatus, status, string(b))
			require.Contains(t, string(b), tc.wantBody)
			if status >= 400 {
				errCode(t, b)
			}
		})
	}
}
