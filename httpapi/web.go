package httpapi

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/gorilla/mux"

	"promo/store"
)

// The web pages are plain HTML, CSS and JavaScript in web/, embedded in the
// binary: nothing is built and nothing is fetched at run time. The pages
// themselves are public; every call they make for data sends the API key
// the person entered once (kept in the browser's localStorage).
//
//go:embed web
var webFiles embed.FS

// webAsset is one embedded file, ready to serve.
type webAsset struct {
	name  string
	body  []byte
	ctype string
	etag  string // strong, from the content
	hash  string // the ?v= that makes a URL immutable
}

// webSite is every embedded file: the pages (HTML, with their asset URLs
// versioned) and the assets under /assets/.
type webSite struct {
	pages  map[string]*webAsset
	assets map[string]*webAsset
}

var loadWebSite = sync.OnceValue(func() *webSite {
	site, err := newWebSite(webFiles)
	if err != nil {
		panic(err) // the embedded files are part of the binary: a test catches this
	}
	return site
})

// contentTypes are the types of the files in web/, set here rather than
// from the system's MIME tables, which vary.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
}

func newWebSite(files fs.FS) (*webSite, error) {
	site := &webSite{pages: map[string]*webAsset{}, assets: map[string]*webAsset{}}
	entries, err := fs.ReadDir(files, "web")
	if err != nil {
		return nil, err
	}
	var pages []string
	for _, e := range entries {
		if e.IsDir() {
			return nil, fmt.Errorf("web/%s: sub-folders are not served", e.Name())
		}
		ctype, ok := contentTypes[path.Ext(e.Name())]
		if !ok {
			return nil, fmt.Errorf("web/%s: no content type for %q", e.Name(), path.Ext(e.Name()))
		}
		b, err := fs.ReadFile(files, "web/"+e.Name())
		if err != nil {
			return nil, err
		}
		if ctype == contentTypes[".html"] {
			pages = append(pages, e.Name())
			continue
		}
		site.assets[e.Name()] = newWebAsset(e.Name(), ctype, b)
	}
	// Pages refer to assets as "/assets/NAME"; each reference gets the
	// asset's hash, so a new binary's pages load its new assets at once
	// while unchanged assets stay cached.
	var pairs []string
	for name, a := range site.assets {
		pairs = append(pairs, `"/assets/`+name+`"`, `"/assets/`+name+`?v=`+a.hash+`"`)
	}
	versioned := strings.NewReplacer(pairs...)
	for _, name := range pages {
		b, _ := fs.ReadFile(files, "web/"+name)
		site.pages[name] = newWebAsset(name, contentTypes[".html"], []byte(versioned.Replace(string(b))))
	}
	return site, nil
}

func newWebAsset(name, ctype string, body []byte) *webAsset {
	sum := sha256.Sum256(body)
	h := hex.EncodeToString(sum[:])[:16]
	return &webAsset{name: name, body: body, ctype: ctype, etag: `"` + h + `"`, hash: h}
}

// pagePolicy is the Content-Security-Policy of the pages: scripts, styles
// and connections to this server only, nothing inline but the code sheet's
// stylesheet (a sheet opened from the dashboard as a blob: document
// inherits the dashboard's policy), images also as data: and blob: URLs.
var pagePolicy = "default-src 'self'; script-src 'self'; connect-src 'self'; " +
	"style-src 'self' '" + sheetStyleHash + "'; img-src 'self' data: blob:; " +
	"object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// servePage serves an HTML page: public, revalidated on every load (its
// asset URLs change with each build), and under a strict policy.
func (s *Server) servePage(name string) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		page := loadWebSite().pages[name]
		h := w.Header()
		h.Set("Content-Security-Policy", pagePolicy)
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		serveWebAsset(w, r, page, "no-cache")
		return nil
	}
}

// serveAsset serves /assets/{file}: cached for a year as immutable when
// asked for with its current hash (?v=, as the pages ask), else
// revalidated.
func (s *Server) serveAsset(w http.ResponseWriter, r *http.Request) error {
	name := mux.Vars(r)["file"]
	a := loadWebSite().assets[name]
	if a == nil {
		return store.Errorf(store.ENotFound, "no asset %q", name)
	}
	cache := "no-cache"
	if r.URL.Query().Get("v") == a.hash {
		cache = "public, max-age=31536000, immutable"
	}
	serveWebAsset(w, r, a, cache)
	return nil
}

func serveWebAsset(w http.ResponseWriter, r *http.Request, a *webAsset, cache string) {
	h := w.Header()
	h.Set("Cache-Control", cache)
	h.Set("ETag", a.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	if etagMatches(r.Header.Get("If-None-Match"), a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", a.ctype)
	h.Set("Content-Length", fmt.Sprint(len(a.body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(a.body)
}

// etagMatches reports whether an If-None-Match header names etag (weak
// comparison, as RFC 9110 asks for If-None-Match).
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// cspHash is the CSP source expression allowing one inline <style>.
func cspHash(style string) string {
	sum := sha256.Sum256([]byte(style))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}
