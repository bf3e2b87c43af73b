package httpapi

import (
	"bytes"
	"encoding/base64"
	stdhtml "html"
	"image/png"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"promo/httpapi/qr"
	"promo/store"
)

// The web pages are routes like any other: public pages and assets declare
// no role, the sheet and the QR images declare issuer.
func TestWeb_RoutesDeclareTheirRoles(t *testing.T) {
	e := newEnv(t, Options{})
	want := map[string]string{
		"GET /":                           "",
		"GET /pos":                        "",
		"GET /admin":                      "",
		"GET /assets/{file}":              "",
		"GET /admin/campaigns/{id}/sheet": issuer,
		"GET /v1/codes/{code}/qr.png":     issuer,
	}
	got := map[string]string{}
	for _, rt := range e.srv.routes {
		got[rt.method+" "+rt.path] = rt.role
	}
	for k, role := range want {
		r, ok := got[k]
		require.True(t, ok, "%s is not a route", k)
		require.Equal(t, role, r, k)
	}
}

// Every embedded file is served with its content type; pages are
// revalidated on each load and refer to assets by hash, and an asset asked
// for by its current hash is cached for a year; an ETag answers 304.
func TestWeb_AssetsAreServedWithTypesAndCacheHeaders(t *testing.T) {
	e := newEnv(t, Options{})
	site := loadWebSite()
	require.NotEmpty(t, site.assets)

	for _, page := range []struct{ path, file string }{{"/", "index.html"}, {"/pos", "pos.html"}, {"/admin", "admin.html"}} {
		status, h, body := e.req("", "GET", page.path, nil)
		require.Equal(t, 200, status, page.path)
		require.Equal(t, "text/html; charset=utf-8", h.Get("Content-Type"))
		require.Equal(t, "no-cache", h.Get("Cache-Control"))
		require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
		require.Contains(t, h.Get("Content-Security-Policy"), "script-src 'self'")
		require.Contains(t, h.Get("Content-Security-Policy"), "frame-ancestors 'none'")
		require.NotEmpty(t, h.Get("ETag"))
		// Every asset the page refers to is versioned and exists.
		refs := regexp.MustCompile(`"/assets/([^"?]+)(\?v=([0-9a-f]+))?"`).FindAllStringSubmatch(string(body), -1)
		require.NotEmpty(t, refs, page.path)
		for _, m := range refs {
			a := site.assets[m[1]]
			require.NotNil(t, a, "%s refers to a missing asset %s", page.path, m[1])
			require.Equal(t, a.hash, m[3], "%s refers to %s without its hash", page.path, m[1])
		}
		status, _, _ = e.req("", "GET", page.path, nil, "If-None-Match", h.Get("ETag"))
		require.Equal(t, 304, status)
	}

	wantType := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
	for name, a := range site.assets {
		ext := name[strings.LastIndexByte(name, '.'):]
		status, h, body := e.req("", "GET", "/assets/"+name+"?v="+a.hash, nil)
		require.Equal(t, 200, status, name)
		require.Equal(t, wantType[ext], h.Get("Content-Type"), name)
		require.Equal(t, "public, max-age=31536000, immutable", h.Get("Cache-Control"), name)
		require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
		require.Equal(t, a.body, body)

		status, h, _ = e.req("", "GET", "/assets/"+name, nil)
		require.Equal(t, 200, status)
		require.Equal(t, "no-cache", h.Get("Cache-Control"), "without the hash %s must be revalidated", name)
		status, h, _ = e.req("", "GET", "/assets/"+name+"?v=stale", nil, "If-None-Match", a.etag)
		require.Equal(t, 304, status, name)
		require.Equal(t, "no-cache", h.Get("Cache-Control"))
	}
	for _, bad := range []string{"/assets/nope.js", "/assets/..%2fweb.go", "/assets/pos.html"} {
		status, _, body := e.req("", "GET", bad, nil)
		require.Equal(t, 404, status, bad)
		require.Equal(t, store.ENotFound, errCode(t, body))
	}
	status, h, _ := e.req("", "POST", "/pos", nil)
	require.Equal(t, 405, status)
	require.Equal(t, "GET", h.Get("Allow"))
}

// GET /v1/codes/{code}/qr.png is the code's display form as a QR image;
// codes are looked up as a till would, and unknown ones are not_found.
func TestWeb_CodeQR(t *testing.T) {
	e := newEnv(t, Options{})
	e.campaign("qr", "")
	code := e.generate("qr", 1)[0]

	status, h, body := e.req(issuer, "GET", "/v1/codes/"+strings.ToLower(strings.ReplaceAll(code, "-", ""))+"/qr.png?size=300", nil)
	require.Equal(t, 200, status, string(body))
	require.Equal(t, "image/png", h.Get("Content-Type"))
	img, err := png.Decode(bytes.NewReader(body))
	require.NoError(t, err)
	want, err := qr.PNG(code, 300)
	require.NoError(t, err)
	require.Equal(t, want, body, "the display form %s is encoded", code)
	require.GreaterOrEqual(t, img.Bounds().Dx(), 300)

	status, _, body = e.req(issuer, "GET", "/v1/codes/ZZZZZZZZZZZZ/qr.png", nil)
	require.Contains(t, []int{404, 422}, status)
	require.Contains(t, []string{store.ENotFound, store.ETypo}, errCode(t, body))
	status, _, body = e.req(issuer, "GET", "/v1/codes/"+code+"/qr.png?size=10", nil)
	require.Equal(t, 400, status)
	require.Equal(t, store.EInvalid, errCode(t, body))
	status, _, _ = e.req(pos, "GET", "/v1/codes/"+code+"/qr.png", nil)
	require.Equal(t, 403, status)
}

// The printable sheet lists the campaign's available codes (by default),
// each with its QR code inline, pages through the rest with a cursor, and
// its one stylesheet is allowed by the dashboard's policy by hash.
func TestWeb_CodeSheet(t *testing.T) {
	e := newEnv(t, Options{})
	e.campaign("fair", `, "name": "Summer fair", "min_order": 1500, "benefit": {"type": "amount", "value": 500, "currency": "EUR"}`)
	codes := e.generate("fair", 5)
	e.must(201, pos, "POST", "/v1/redeem", map[string]any{"code": codes[0], "order_amount": 2000}, nil)

	status, h, body := e.req(issuer, "GET", "/admin/campaigns/fair/sheet", nil)
	require.Equal(t, 200, status, string(body))
	require.Equal(t, "text/html; charset=utf-8", h.Get("Content-Type"))
	require.Equal(t, "no-store", h.Get("Cache-Control"))
	require.Equal(t, sheetPolicy, h.Get("Content-Security-Policy"))
	html := string(body)
	require.Contains(t, html, "Summer fair")
	require.Contains(t, html, "5.00 EUR off")
	require.Contains(t, html, "on orders from 15.00 EUR")
	require.NotContains(t, html, codes[0], "a redeemed code is not available")
	for _, c := range codes[1:] {
		require.Contains(t, html, `<div class="code">`+c+`</div>`)
	}
	imgs := regexp.MustCompile(`<img src="data:image/png;base64,([^"]+)" alt="QR code of ([^"]+)"`).FindAllStringSubmatch(html, -1)
	require.Len(t, imgs, 4)
	for _, m := range imgs {
		b, err := base64.StdEncoding.DecodeString(stdhtml.UnescapeString(m[1]))
		require.NoError(t, err)
		want, err := qr.PNG(m[2], 160)
		require.NoError(t, err)
		require.Equal(t, want, b, "the image is the QR code of %s", m[2])
	}
	require.Empty(t, h.Get("X-Next-Cursor"))

	style := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(html)
	require.NotNil(t, style)
	require.Contains(t, pagePolicy, "'"+cspHash(style[1])+"'", "the dashboard's policy allows the sheet's stylesheet")
	require.Contains(t, sheetPolicy, "'"+cspHash(style[1])+"'")

	// Two codes a sheet: a cursor leads to the next.
	status, h, body = e.req(issuer, "GET", "/admin/campaigns/fair/sheet?state=all&limit=2", nil)
	require.Equal(t, 200, status)
	require.NotEmpty(t, h.Get("X-Next-Cursor"))
	require.Contains(t, string(body), codes[0], "state=all includes redeemed codes")
	status, _, body = e.req(issuer, "GET", "/admin/campaigns/fair/sheet?state=all&limit=2&cursor="+h.Get("X-Next-Cursor"), nil)
	require.Equal(t, 200, status)
	require.Contains(t, string(body), codes[2])

	for _, tc := range []struct {
		url    string
		status int
		code   string
	}{
		{"/admin/campaigns/nope/sheet", 404, store.ENotFound},
		{"/admin/campaigns/fair/sheet?limit=0", 400, store.EInvalid},
		{"/admin/campaigns/fair/sheet?limit=1001", 400, store.EInvalid},
		{"/admin/campaigns/fair/sheet?state=lost", 400, store.EInvalid},
	} {
		status, _, body := e.req(issuer, "GET", tc.url, nil)
		require.Equal(t, tc.status, status, tc.url)
		require.Equal(t, tc.code, errCode(t, body), tc.url)
	}
	status, _, _ = e.req("", "GET", "/admin/campaigns/fair/sheet", nil)
	require.Equal(t, 401, status, "the sheet needs a key")
}

// GET / is a small page leading to the till and the dashboard, and saying
// how to make their keys: a new user's browser lands somewhere useful.
func TestWeb_Index_LeadsToThePages(t *testing.T) {
	e := newEnv(t, Options{})
	status, h, body := e.req("", "GET", "/", nil)
	require.Equal(t, 200, status)
	require.Equal(t, "text/html; charset=utf-8", h.Get("Content-Type"))
	require.Contains(t, string(body), `href="/pos"`)
	require.Contains(t, string(body), `href="/admin"`)
	require.Contains(t, string(body), "keys create admin-1 --role admin")
	status, _, _ = e.req("", "GET", "/nowhere", nil)
	require.Equal(t, 404, status, "only / itself is the index")
}
