package httpapi

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/stretchr/testify/require"

	"promo/store"
)

// Walking the router proves every route is in the table, declares a role,
// and that the 401/403 matrix holds for every route and every role.
func TestRouter_EveryRouteDeclaresARole_AndTheMatrixHolds(t *testing.T) {
	e := newEnv(t, Options{})
	declared := map[string]string{}
	for _, rt := range e.srv.routes {
		declared[rt.method+" "+rt.path] = rt.role
	}
	walked := 0
	require.NoError(t, e.srv.router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		path, err := route.GetPathTemplate()
		require.NoError(t, err)
		methods, err := route.GetMethods()
		require.NoError(t, err)
		for _, m := range methods {
			role, ok := declared[m+" "+path]
			require.True(t, ok, "%s %s is served but not in the route table", m, path)
			require.Contains(t, []string{"", admin, issuer, pos}, role)
			if role == "" {
				require.Contains(t, []string{"/healthz", "/metrics", "/openapi.json", "/", "/pos", "/admin", "/assets/{file}"}, path,
					"only health, metrics, the OpenAPI document and the static web pages (whose data calls need a key) are open")
			}
			walked++
		}
		return nil
	}))
	require.Equal(t, len(e.srv.routes), walked)

	rank := map[string]int{"": 0, pos: 1, issuer: 2, admin: 3}
	for _, rt := range e.srv.routes {
		url := strings.NewReplacer("{id}", "x", "{code}", "x", "{name}", "x").Replace(rt.path)
		for _, caller := range []string{"", pos, issuer, admin} {
			status, _, b := e.req(caller, rt.method, url, nil)
			switch {
			case rt.role == "":
				require.NotContains(t, []int{401, 403}, status, "%s %s as %q", rt.method, url, caller)
			case caller == "":
				require.Equal(t, 401, status, "%s %s without a key: %s", rt.method, url, b)
			case rank[caller] < rank[rt.role]:
				require.Equal(t, 403, status, "%s %s as %s: %s", rt.method, url, caller, b)
			default:
				require.NotContains(t, []int{401, 403}, status, "%s %s as %s: %s", rt.method, url, caller, b)
			}
		}
	}
}

func TestAuth_RevokedAndMalformedKeys(t *testing.T) {
	e := newEnv(t, Options{})
	_, secret, err := e.st.CreateKey(t.Context(), "temp", admin)
	require.NoError(t, err)
	for _, h := range []string{"Bearer " + secret + "x", "Basic " + secret, "Bearer ", secret} {
		r, _ := http.NewRequest("GET", e.http.URL+"/v1/campaigns", nil)
		r.Header.Set("Authorization", h)
		resp, err := http.DefaultClient.Do(r)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, 401, resp.StatusCode, h)
	}
	require.NoError(t, e.st.RevokeKey(t.Context(), "temp"))
	r, _ := http.NewRequest("GET", e.http.URL+"/v1/campaigns", nil)
	r.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(r)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 401, resp.StatusCode, "a revoked key stops working at once")
}

// No API key appears in clear in the database file or the logs.
func TestKeys_NeverStoredOrLoggedInClear(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "promo.db")
	st, err := store.Open(path, store.Options{})
	require.NoError(t, err)
	var logs bytes.Buffer
	srv := New(st, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	h := srv.Handler()
	var secrets []string
	for _, role := range []string{admin, issuer, pos} {
		_, secret, err := st.CreateKey(t.Context(), role, role)
		require.NoError(t, err)
		secrets = append(secrets, secret)
		r, _ := http.NewRequest("GET", "/v1/campaigns", nil)
		r.Header.Set("Authorization", "Bearer "+secret)
		h.ServeHTTP(discardWriter{http.Header{}}, r)
	}
	require.NoError(t, st.Close())
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, s := range secrets {
		require.False(t, bytes.Contains(raw, []byte(s)), "a secret is in the database file")
		require.False(t, bytes.Contains(raw, []byte(s[3:])), "a secret's random part is in the database file")
		require.NotContains(t, logs.String(), s)
	}
	require.Contains(t, logs.String(), "key=pos", "the logs name the key")
}

type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}

// A client that sends its headers one byte at a time is dropped once the
// header timeout passes.
func TestServe_DropsSlowHeaderClients(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "promo.db"), store.Options{})
	require.NoError(t, err)
	defer st.Close()
	ready := make(chan string, 1)
	srv := New(st, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ReadHeaderTimeout: time.Second,
		OnReady: func(a net.Addr, _ string) { ready <- a.String() }})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Serve(ctx, "127.0.0.1:0", filepath.Join(dir, "promo.db.sock"))
	conn, err := net.Dial("tcp", <-ready)
	require.NoError(t, err)
	defer conn.Close()
	start := time.Now()
	req := "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 100)
	var writeErr error
	for i := 0; i < len(req) && writeErr == nil; i++ {
		_, writeErr = conn.Write([]byte{req[i]})
		time.Sleep(100 * time.Millisecond)
		if time.Since(start) > 5*time.Second {
			break
		}
	}
	// The server has given up on the request: reading shows the close.
	conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	b, _ := io.ReadAll(conn)
	require.Less(t, time.Since(start), 6*time.Second, "dropped within the timeout")
	require.NotContains(t, string(b), "200 OK")
}
