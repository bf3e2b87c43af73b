package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// addKey creates a pos key named name and makes it callable as e.req(name, …).
func (e *env) addKey(name, role string) {
	e.t.Helper()
	_, secret, err := e.st.CreateKey(e.t.Context(), name, role)
	require.NoError(e.t, err)
	e.keys[name] = secret
}

// One key flooding guesses from an address never slows another key at the
// same address: tills behind one NAT or one reverse proxy keep working.
func TestLimits_OneKeyNeverSlowsAnother(t *testing.T) {
	e := newEnv(t, Options{FailedLookupsPerMinute: 20, FailedLookupBurst: 5})
	e.addKey("till-a", pos)
	e.addKey("till-b", pos)
	e.campaign("c", "")
	codes := e.generate("c", 25)
	for i := range 5 {
		e.must(200, "till-a", "POST", "/v1/validate", fmt.Sprintf(`{"code": "GUESS%03d"}`, i), nil)
	}
	status, _, b := e.req("till-a", "POST", "/v1/validate", `{"code": "GUESS999"}`)
	require.Equal(t, http.StatusTooManyRequests, status, "%s", b)
	require.Contains(t, string(b), `API key \"till-a\"`)

	// Both come from 127.0.0.1; till-b redeems all its codes while till-a
	// keeps guessing between them.
	for _, code := range codes {
		status, _, _ := e.req("till-a", "POST", "/v1/redeem", `{"code": "NOPE-NOPE"}`)
		require.Equal(t, http.StatusTooManyRequests, status)
		e.must(201, "till-b", "POST", "/v1/redeem", map[string]string{"code": code}, nil)
	}
	// till-b's own failures come out of its own bucket only.
	for i := range 5 {
		e.must(200, "till-b", "POST", "/v1/validate", fmt.Sprintf(`{"code": "MISS%03d"}`, i), nil)
	}
	status, _, _ = e.req("till-b", "POST", "/v1/validate", `{"code": "MISS999"}`)
	require.Equal(t, http.StatusTooManyRequests, status)
	status, _, _ = e.req(issuer, "GET", "/v1/codes/"+codes[0], nil)
	require.Equal(t, http.StatusOK, status, "the issuer key has its own bucket")
}

// A 429 for too many failed lookups is held back for LimitedDelay, so a
// guesser that ignores Retry-After gets one answer per delay per
// connection; meanwhile other keys are answered at once.
func TestLimits_RefusalsAreHeldBack(t *testing.T) {
	const delay = 300 * time.Millisecond
	e := newEnv(t, Options{FailedLookupsPerMinute: 1, FailedLookupBurst: 1, LimitedDelay: delay})
	e.addKey("till-a", pos)
	e.addKey("till-b", pos)
	e.campaign("c", "")
	codes := e.generate("c", 1)
	t0 := time.Now()
	e.must(200, "till-a", "POST", "/v1/validate", `{"code": "GUESS001"}`, nil)
	require.Less(t, time.Since(t0), delay, "a lookup within the burst is answered at once")
	t0 = time.Now()
	status, h, _ := e.req("till-a", "POST", "/v1/validate", `{"code": "GUESS002"}`)
	require.Equal(t, http.StatusTooManyRequests, status)
	require.NotEmpty(t, h.Get("Retry-After"))
	require.GreaterOrEqual(t, time.Since(t0), delay, "the refusal waited")

	// While till-a's refusal is held (for a long delay here), till-b's
	// redemption is answered.
	e.srv.limits.delay = time.Hour
	held := make(chan int, 1)
	go func() {
		r, _ := http.NewRequest("POST", e.http.URL+"/v1/validate", strings.NewReader(`{"code": "GUESS003"}`))
		r.Header.Set("Authorization", "Bearer "+e.keys["till-a"])
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		resp, err := http.DefaultClient.Do(r.WithContext(ctx))
		if err != nil {
			held <- 0 // the client gave up: the refusal was still held
			return
		}
		resp.Body.Close()
		held <- resp.StatusCode
	}()
	e.must(201, "till-b", "POST", "/v1/redeem", map[string]string{"code": codes[0]}, nil)
	select {
	case code := <-held:
		t.Fatalf("till-a's refusal was answered (%d) before its delay", code)
	default:
	}
	require.Equal(t, 0, <-held, "till-a's refusal was held until its client gave up")
}

// Rotating X-Forwarded-For, even through a trusted proxy, gives a guesser
// no fresh bucket, and sharing a forwarded address with a guesser costs an
// honest till nothing.
func TestLimits_ForwardedForChangesNothing(t *testing.T) {
	e := newEnv(t, Options{FailedLookupsPerMinute: 20, FailedLookupBurst: 5,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	e.addKey("till-a", pos)
	e.addKey("till-b", pos)
	e.campaign("c", "")
	codes := e.generate("c", 3)
	refused := 0
	for i := range 30 {
		xff := fmt.Sprintf("203.0.113.%d", i)
		status, _, _ := e.req("till-a", "POST", "/v1/validate", fmt.Sprintf(`{"code": "GUESS%03d"}`, i), "X-Forwarded-For", xff)
		if status == http.StatusTooManyRequests {
			refused++
		}
	}
	require.Equal(t, 25, refused, "a fresh X-Forwarded-For on every guess still spends one bucket")
	for _, code := range codes {
		e.must(201, "till-b", "POST", "/v1/redeem", map[string]string{"code": code}, nil, "X-Forwarded-For", "203.0.113.1")
	}
	require.Contains(t, e.logged(), "remote=203.0.113.29", "a trusted proxy's X-Forwarded-For names the client in the logs")
}

func TestClientAddr_TrustsOnlyTheProxiesItIsTold(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, tc := range []struct {
		name, peer string
		xff        []string
		trusted    []netip.Prefix
		want       string
	}{
		{"NoProxiesConfigured", "10.0.0.1:5", []string{"1.2.3.4"}, nil, "10.0.0.1"},
		{"UntrustedPeerIgnoresHeader", "192.0.2.7:5", []string{"1.2.3.4"}, trusted, "192.0.2.7"},
		{"TrustedPeerWithoutHeader", "10.0.0.1:5", nil, trusted, "10.0.0.1"},
		{"TrustedPeerOneHop", "10.0.0.1:5", []string{"1.2.3.4"}, trusted, "1.2.3.4"},
		{"RightmostUntrustedHop", "10.0.0.1:5", []string{"6.6.6.6, 1.2.3.4, 10.9.9.9"}, trusted, "1.2.3.4"},
		{"SeveralHeaderLines", "10.0.0.1:5", []string{"6.6.6.6", "1.2.3.4", "10.9.9.9"}, trusted, "1.2.3.4"},
		{"GarbageStopsAtTheLastProxy", "10.0.0.1:5", []string{"1.2.3.4, evil\x1b[2J, 10.9.9.9"}, trusted, "10.9.9.9"},
		{"AllTrusted", "10.0.0.1:5", []string{"10.1.1.1, 10.2.2.2"}, trusted, "10.1.1.1"},
		{"IPv6", "[fd00::1]:5", []string{"2001:db8::7"}, trusted, "2001:db8::7"},
		{"MappedIPv4Peer", "[::ffff:10.0.0.1]:5", []string{"1.2.3.4"}, trusted, "1.2.3.4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Server{opts: Options{TrustedProxies: tc.trusted}}
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			require.Equal(t, tc.want, s.clientAddr(r))
		})
	}
}

func TestParseTrustedProxy(t *testing.T) {
	for in, want := range map[string]string{"10.0.0.0/8": "10.0.0.0/8", "10.1.2.3/8": "10.0.0.0/8", "192.0.2.5": "192.0.2.5/32", "::1": "::1/128"} {
		p, err := ParseTrustedProxy(in)
		require.NoError(t, err, in)
		require.Equal(t, want, p.String())
	}
	for _, bad := range []string{"", "10.0.0.0/33", "proxy.local", "10.0.0"} {
		_, err := ParseTrustedProxy(bad)
		require.ErrorContains(t, err, "want an address range", bad)
	}
}

// Request logs name the route's pattern, never the path: paths carry codes.
func TestLogs_NameTheRouteNeverTheCode(t *testing.T) {
	e := newEnv(t, Options{})
	e.campaign("c", "")
	code := e.generate("c", 1)[0]
	e.must(200, issuer, "GET", "/v1/codes/"+code, nil, nil)
	e.must(200, issuer, "GET", "/v1/codes/"+code+"/qr.png", nil, nil)
	e.must(404, issuer, "GET", "/v1/codes/"+strings.ToLower(code)+"X", nil, nil)
	e.must(200, admin, "POST", "/v1/codes/"+code+"/void", `{"reason": "leaked"}`, nil)
	e.must(404, issuer, "GET", "/v1/nope/"+code, nil, nil)
	e.must(405, issuer, "PUT", "/v1/codes/"+code, nil, nil)
	e.must(404, issuer, "GET", "/v1/customers/cust-secret-42", nil, nil)
	logs := e.logged()
	for _, s := range []string{code, strings.ToLower(code), strings.ReplaceAll(code, "-", ""), "cust-secret-42", "/v1/nope"} {
		require.NotContains(t, logs, s)
	}
	require.Contains(t, logs, `route="GET /v1/codes/{code}"`)
	require.Contains(t, logs, `route="POST /v1/codes/{code}/void"`)
	require.Contains(t, logs, `route="GET /v1/codes/{code}/qr.png"`)
	require.Contains(t, logs, "route=unmatched")
	for _, secret := range e.keys {
		require.NotContains(t, logs, secret)
	}
}
