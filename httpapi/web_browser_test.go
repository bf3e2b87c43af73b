package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"promo/gen"
	"promo/store"
)

// The browser tests drive the till page and the dashboard in headless
// Chromium (Debian's chromium; .ci/install-chromium.sh installs it). They
// skip, saying why, when no browser is found. Screenshots go to
// $PROMO_ARTIFACTS (default <repo>/test-artifacts/).

// chromiumPath finds a Chromium: $PROMO_CHROMIUM, then the usual names.
func chromiumPath() string {
	if p := os.Getenv("PROMO_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// artifactsDir is where screenshots are kept.
func artifactsDir(t *testing.T) string {
	dir := os.Getenv("PROMO_ARTIFACTS")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(file), "..", "test-artifacts")
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// webEnv is the API and pages over a real store with a settable clock,
// served through a recorder that notes every request and can lose the
// answers of redemptions (after the server made them).
type webEnv struct {
	t    *testing.T
	st   *store.Store
	url  string
	keys map[string]string // role → secret
	now  atomic.Int64      // the store's clock, Unix nanoseconds

	mu          sync.Mutex
	seen        []seenRequest
	loseRedeems int // answers of POST /v1/redeem still to lose
}

type seenRequest struct {
	method, path, idemKey, accept string
	lost                          bool
}

func newWebEnv(t *testing.T) *webEnv {
	t.Helper()
	e := &webEnv{t: t, keys: map[string]string{}}
	e.now.Store(time.Now().UnixNano())
	st, err := store.Open(filepath.Join(t.TempDir(), "promo.db"), store.Options{
		Now: func() time.Time { return time.Unix(0, e.now.Load()) },
	})
	require.NoError(t, err)
	e.st = st
	srv := New(st, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	hs := httptest.NewUnstartedServer(e.record(srv.Handler()))
	// A fresh connection for every request: Chromium resends a request
	// by itself when a reused connection closes, which would hide the
	// page's own retry.
	hs.Config.SetKeepAlivesEnabled(false)
	hs.Start()
	e.url = hs.URL
	t.Cleanup(func() {
		hs.Close()
		findings, err := st.Check(context.Background())
		require.NoError(t, err)
		require.Empty(t, findings)
		require.NoError(t, st.Close())
	})
	for _, role := range []string{admin, issuer, pos} {
		_, secret, err := st.CreateKey(context.Background(), role+"-key", role)
		require.NoError(t, err)
		e.keys[role] = secret
	}
	return e
}

// record notes each request; for a redemption whose answer is to be lost
// it lets the server finish (the redemption is on disk) and then closes
// the connection without a byte of the answer.
func (e *webEnv) record(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seenRequest{method: r.Method, path: r.URL.Path, idemKey: r.Header.Get("Idempotency-Key"), accept: r.Header.Get("Accept")}
		e.mu.Lock()
		if r.Method == "POST" && r.URL.Path == "/v1/redeem" && e.loseRedeems > 0 {
			e.loseRedeems--
			s.lost = true
		}
		e.seen = append(e.seen, s)
		e.mu.Unlock()
		if !s.lost {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		require.Equal(e.t, 201, rec.Code, "the lost redemption was made: %s", rec.Body)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	})
}

// requests returns the requests seen for method and path.
func (e *webEnv) requests(method, path string) []seenRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []seenRequest
	for _, s := range e.seen {
		if s.method == method && s.path == path {
			out = append(out, s)
		}
	}
	return out
}

func (e *webEnv) campaign(spec string) {
	e.t.Helper()
	var s store.CampaignSpec
	require.NoError(e.t, json.Unmarshal([]byte(spec), &s))
	_, err := e.st.CreateCampaign(context.Background(), s)
	require.NoError(e.t, err)
}

func (e *webEnv) codes(campaign string, n int) []string {
	e.t.Helper()
	_, err := e.st.Generate(context.Background(), campaign, store.GenerateRequest{Count: n})
	require.NoError(e.t, err)
	page, err := e.st.Codes(campaign, store.CodeQuery{State: "available", Limit: n})
	require.NoError(e.t, err)
	var out []string
	for _, c := range page.Codes {
		out = append(out, c.Code)
	}
	return out
}

func (e *webEnv) redemptions(campaign string) []store.Redemption {
	e.t.Helper()
	var out []store.Redemption
	require.NoError(e.t, e.st.EachRedemption(campaign, func(r store.Redemption) error {
		out = append(out, r)
		return nil
	}))
	return out
}

// browser is one headless Chromium with a fresh profile and one tab, and
// the console messages of that tab.
type browser struct {
	t       *testing.T
	ctx     context.Context
	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

// newBrowser starts Chromium for one test, or skips the test when there is
// none. Every action of the test must finish within timeout. extra adds
// command-line flags.
func newBrowser(t *testing.T, timeout time.Duration, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	path := chromiumPath()
	if _, err := os.Stat(path); path == "" || err != nil {
		t.Skip("browser tests skipped: no Chromium found (run .ci/install-chromium.sh, or set PROMO_CHROMIUM to a Chromium or Chrome binary)")
	}
	if testing.Short() {
		t.Skip("browser tests skipped with -short")
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1024, 768),
	}, extra...)...)
	ctx, cancelTab := chromedp.NewContext(actx)
	start := time.Now()
	if err := chromedp.Do(ctx); err != nil { // starts the browser, bound to ctx
		cancelTab()
		cancelAlloc()
		t.Fatalf("Chromium at %s did not start: %v", path, err)
	}
	t.Logf("Chromium started in %v", time.Since(start).Round(time.Millisecond))
	b := &browser{t: t}
	messages := chromedp.Console(ctx)
	tctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	b.ctx = tctx
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m)
			b.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancelTimeout()
		cancelTab()
		cancelAlloc()
		<-done
	})
	return b
}

// do runs actions, failing the test on an error.
func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	require.NoError(b.t, chromedp.Do(b.ctx, actions...))
}

// eval evaluates a JavaScript expression (awaiting a promise) and decodes
// its value into T.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	require.NoError(b.t, err, expr)
	return v
}

// text is the visible text of the first element matching a CSS selector.
func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(b.t, err, sel)
	return s
}

// clear empties an input as a person would, so the page sees the input.
func (b *browser) clear(sel string) {
	b.t.Helper()
	eval[chromedp.Void](b, fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = ""; e.dispatchEvent(new Event("input")); })()`, sel))
}

// screenshot saves the viewport as name.png among the artifacts.
func (b *browser) screenshot(name string) string {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	require.NoError(b.t, err)
	path := filepath.Join(artifactsDir(b.t), name+".png")
	require.NoError(b.t, os.WriteFile(path, png, 0o644))
	b.t.Logf("screenshot %s", path)
	return path
}

// viewport sets the page's size: phone 390×844, tablet 1024×768.
func (b *browser) viewport(w, h int64, mobile bool) {
	b.t.Helper()
	opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(1)}
	if mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	b.do(chromedp.EmulateViewport(w, h, opts...))
}

// noPageErrors fails on an uncaught exception or an error in the console,
// such as a Content-Security-Policy violation, except those matching allow.
func (b *browser) noPageErrors(allow ...string) {
	b.t.Helper()
	time.Sleep(50 * time.Millisecond) // let the last events arrive
	b.mu.Lock()
	defer b.mu.Unlock()
next:
	for _, m := range b.console {
		if m.Type != chromedp.ConsoleError && !m.IsException() && !strings.Contains(m.Text, "Content Security Policy") {
			continue
		}
		for _, a := range allow {
			if strings.Contains(m.Text, a) {
				continue next
			}
		}
		b.t.Errorf("page error: %s (%s:%d)", m, m.URL, m.Line)
	}
}

// openTill opens the till page with this device set up: a pos key, a
// terminal name and a currency in localStorage, as Settings leaves them.
func openTill(b *browser, e *webEnv, terminal string) {
	b.t.Helper()
	b.do(chromedp.Navigate(e.url + "/pos"))
	eval[chromedp.Void](b, fmt.Sprintf(`localStorage.setItem("promo.pos.key", %q); localStorage.setItem("promo.pos.terminal", %q); localStorage.setItem("promo.pos.currency", "EUR")`,
		e.keys[pos], terminal))
	b.do(chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("code")))
}

// A cashier sets the till up once, types the order amount and a code (in
// lower case, without dashes: the page normalises as gen does), sees the
// discount, presses the big button, and the code is redeemed once, with
// the device name as the terminal.
func TestBrowser_Till_RedeemsACode(t *testing.T) {
	e := newWebEnv(t)
	e.campaign(`{"id": "spring", "name": "Spring sale", "benefit": {"type": "percent", "value": 10, "currency": "EUR"}}`)
	codes := e.codes("spring", 2)
	b := newBrowser(t, 30*time.Second)
	b.viewport(390, 844, true)

	b.do(chromedp.Navigate(e.url+"/pos"), chromedp.WaitVisible(chromedp.ID("settings")))
	b.screenshot("till-settings-phone")
	b.do(
		chromedp.SendKeys(chromedp.ID("set-key"), e.keys[pos]),
		chromedp.SendKeys(chromedp.ID("set-terminal"), "stand-3"),
		chromedp.SendKeys(chromedp.ID("set-currency"), "eur"),
		chromedp.Click(chromedp.ID("save-settings")),
		chromedp.WaitVisible(chromedp.ID("code")),
	)
	require.Equal(t, "stand-3", b.text("#terminal-label"))

	typed := strings.ToLower(strings.ReplaceAll(codes[0], "-", ""))
	b.do(
		chromedp.SendKeys(chromedp.ID("amount"), "25.00"),
		chromedp.SendKeys(chromedp.ID("code"), typed+"\n"),
		chromedp.WaitVisible(chromedp.CSS("#result.valid")),
	)
	require.Contains(t, b.text("#result"), "discount 2.50 EUR")
	require.Contains(t, b.text("#result"), "to pay 22.50 EUR")
	require.Contains(t, b.text("#redeem"), "REDEEM −2.50 EUR")
	b.screenshot("till-valid-phone")

	b.do(chromedp.Click(chromedp.ID("redeem")), chromedp.WaitVisible(chromedp.CSS(`#result.redeemed`)))
	require.Contains(t, b.text("#result-title"), "REDEEMED")
	require.Contains(t, b.text("#result"), codes[0])
	b.screenshot("till-success-phone")
	b.viewport(1024, 768, false)
	b.screenshot("till-success-tablet")

	reds := e.redemptions("spring")
	require.Len(t, reds, 1)
	require.Equal(t, codes[0], reds[0].Code)
	require.Equal(t, "stand-3", reds[0].Terminal)
	require.Equal(t, int64(250), reds[0].Discount)
	require.Equal(t, int64(2500), reds[0].OrderAmount)
	require.Equal(t, "EUR", reds[0].Currency)
	redeems := e.requests("POST", "/v1/redeem")
	require.Len(t, redeems, 1)
	require.Regexp(t, `^till-[0-9a-f]{32}$`, redeems[0].idemKey, "every redemption carries an Idempotency-Key")
	require.Equal(t, 1, eval[int](b, `document.querySelectorAll("#recent-list li").length`))
	require.True(t, eval[bool](b, `localStorage.getItem("promo.pos.pending") === null`))
	b.noPageErrors()
}

// The till works over HTTPS with promo's self-signed certificate, the way a
// shop sets its tills up: the browser pins the certificate's public key
// (Chromium's --ignore-certificate-errors-spki-list, with the pin `promo
// serve --tls-self-signed` prints). Without the pin the page does not load.
func TestBrowser_Till_OverHTTPSWithAPinnedCertificate(t *testing.T) {
	e := newWebEnv(t)
	e.campaign(`{"id": "spring", "benefit": {"type": "percent", "value": 10, "currency": "EUR"}}`)
	codes := e.codes("spring", 1)
	certs, _, err := SelfSignedCertificate(filepath.Join(t.TempDir(), "promo.db"), time.Now())
	require.NoError(t, err)
	addr, _ := serveTLS(t, e.st, certs)
	e.url = "https://" + addr

	unpinned := newBrowser(t, 30*time.Second)
	_, err = chromedp.Run(unpinned.ctx, chromedp.Navigate(e.url+"/pos"))
	require.ErrorContains(t, err, "ERR_CERT_AUTHORITY_INVALID", "an unknown self-signed certificate is refused")

	b := newBrowser(t, 30*time.Second, chromedp.Flag("ignore-certificate-errors-spki-list", Describe(certs.Leaf()).SPKIPin))
	b.viewport(1024, 768, false)
	openTill(b, e, "till-https")
	require.True(t, eval[bool](b, `location.protocol === "https:" && window.isSecureContext`))
	b.do(
		chromedp.SendKeys(chromedp.ID("amount"), "40.00"),
		chromedp.SendKeys(chromedp.ID("code"), codes[0]+"\n"),
		chromedp.WaitVisible(chromedp.CSS("#result.valid")),
		chromedp.Click(chromedp.ID("redeem")),
		chromedp.WaitVisible(chromedp.CSS(`#result.redeemed`)),
	)
	b.screenshot("till-success-https")
	reds := e.redemptions("spring")
	require.Len(t, reds, 1)
	require.Equal(t, "till-https", reds[0].Terminal)
	require.Equal(t, int64(400), reds[0].Discount)
	b.noPageErrors()
}

// A code of the default shape with a wrong check symbol is answered typo
// in the page as it is typed, and even on Enter no request is made.
func TestBrowser_Till_CatchesATypoAsTyped(t *testing.T) {
	e := newWebEnv(t)
	e.campaign(`{"id": "spring", "benefit": {"type": "percent", "value": 10}}`)
	code := e.codes("spring", 1)[0]
	b := newBrowser(t, 30*time.Second)
	b.viewport(390, 844, true)
	openTill(b, e, "stand-1")

	// One symbol mistyped (the check symbol catches every one of them).
	typo := []byte(code)
	i := strings.IndexByte(gen.Crockford, typo[5])
	typo[5] = gen.Crockford[(i+7)%len(gen.Crockford)]
	b.do(chromedp.SendKeys(chromedp.ID("code"), string(typo)), chromedp.WaitVisible(chromedp.CSS(`#result.warn[data-reason="typo"]`)))
	require.Contains(t, b.text("#result-title"), "TYPO")
	require.Contains(t, b.text("#code-hint"), "check symbol does not match")
	b.screenshot("till-typo-phone")
	b.do(chromedp.SendKeys(chromedp.ID("code"), "\n"), chromedp.Sleep(400*time.Millisecond))
	require.Contains(t, b.text("#result-title"), "TYPO")
	require.True(t, eval[bool](b, `document.getElementById("redeem").disabled`))

	// Two neighbours swapped, typed the way people do.
	b.clear("#code")
	swapped := []byte(strings.ReplaceAll(code, "-", ""))
	for j := 0; j+1 < len(swapped); j++ {
		if swapped[j] != swapped[j+1] && !(strings.ContainsRune("0Z", rune(swapped[j])) && strings.ContainsRune("0Z", rune(swapped[j+1]))) {
			swapped[j], swapped[j+1] = swapped[j+1], swapped[j]
			break
		}
	}
	b.do(chromedp.SendKeys(chromedp.ID("code"), strings.ToLower(string(swapped))+"\n"), chromedp.Sleep(400*time.Millisecond))
	require.Contains(t, b.text("#result-title"), "TYPO")

	require.Empty(t, e.requests("POST", "/v1/validate"), "a typo is caught before any request")
	require.Empty(t, e.requests("POST", "/v1/redeem"))

	// The cashier may insist (an imported code can have any shape): then
	// the server judges, and finds no such code either.
	b.do(chromedp.Click(chromedp.CSS("#result-actions button")), chromedp.WaitVisible(chromedp.CSS(`#result.warn[data-reason="typo"]`)))
	require.Len(t, e.requests("POST", "/v1/validate"), 1)
	require.Empty(t, e.requests("POST", "/v1/redeem"))
	b.noPageErrors()
}

// A code already redeemed is refused, unmistakably, and cannot be redeemed.
func TestBrowser_Till_RefusesARedeemedCode(t *testing.T) {
	e := newWebEnv(t)
	e.campaign(`{"id": "spring", "benefit": {"type": "percent", "value": 10}}`)
	code := e.codes("spring", 1)[0]
	_, err := e.st.Redeem(context.Background(), store.RedeemRequest{Code: code, OrderAmount: 1000, Terminal: "stand-9"})
	require.NoError(t, err)
	b := newBrowser(t, 30*time.Second)
	b.viewport(1024, 768, false)
	openTill(b, e, "stand-1")

	b.do(
		chromedp.SendKeys(chromedp.ID("amount"), "40"),
		chromedp.SendKeys(chromedp.ID("code"), code+"\n"),
		chromedp.WaitVisible(chromedp.CSS(`#result.refused[data-reason="already_redeemed"]`)),
	)
	require.Contains(t, b.text("#result-title"), "ALREADY USED")
	require.Contains(t, b.text("#result-detail"), "already redeemed")
	// When and where, so the cashier can tell the customer.
	require.Regexp(t, `\(last on \d{4}-\d\d-\d\d \d\d:\d\d UTC at stand-9\)`, b.text("#result-detail"))
	require.True(t, eval[bool](b, `document.getElementById("redeem").disabled`))
	bg := eval[string](b, `getComputedStyle(document.getElementById("result")).backgroundColor`)
	require.Equal(t, "rgb(196, 22, 28)", bg, "a refusal is red")
	b.screenshot("till-refused-tablet")
	b.viewport(390, 844, true)
	b.screenshot("till-refused-phone")

	require.Len(t, e.requests("POST", "/v1/validate"), 1)
	require.Empty(t, e.requests("POST", "/v1/redeem"))
	require.Len(t, e.redemptions("spring"), 1)
	b.noPageErrors()
}

// The answer to a redemption is lost after the server made it (the
// connection drops): the page retries with the same Idempotency-Key and
// body, the server replays its first answer, the page shows success once,
// and the store holds one redemption. The code allows many uses, so a
// second redemption would have succeeded: only the key prevents it.
func TestBrowser_Till_RetriesALostRedemptionOnce(t *testing.T) {
	e := newWebEnv(t)
	e.campaign(`{"id": "fair", "benefit": {"type": "amount", "value": 500, "currency": "EUR"}, "max_redemptions_per_code": 5}`)
	code := e.codes("fair", 1)[0]
	b := newBrowser(t, 30*time.Second)
	b.viewport(390, 844, true)
	openTill(b, e, "stand-7")

	b.do(
		chromedp.SendKeys(chromedp.ID("amount"), "30"),
		chromedp.SendKeys(chromedp.ID("code"), code+"\n"),
		chromedp.WaitVisible(chromedp.CSS("#result.valid")),
	)
	e.mu.Lock()
	e.loseRedeems = 1
	e.mu.Unlock()
	b.do(chromedp.Click(chromedp.ID("redeem")), chromedp.WaitVisible(chromedp.CSS(`#result.lost[data-reason="retrying"]`)))
	b.screenshot("till-retrying-phone")
	require.True(t, eval[bool](b, `document.getElementById("redeem").disabled`), "no second press while retrying")
	b.do(chromedp.WaitVisible(chromedp.CSS("#result.redeemed")))
	b.screenshot("till-retried-phone")

	redeems := e.requests("POST", "/v1/redeem")
	require.Len(t, redeems, 2)
	require.True(t, redeems[0].lost)
	require.False(t, redeems[1].lost)
	require.NotEmpty(t, redeems[0].idemKey)
	require.Equal(t, redeems[0].idemKey, redeems[1].idemKey, "the retry reuses the key")
	reds := e.redemptions("fair")
	require.Len(t, reds, 1, "one redemption")
	require.Equal(t, "stand-7", reds[0].Terminal)
	c, err := e.st.GetCode(code)
	require.NoError(t, err)
	require.Equal(t, 1, c.RedemptionCount)
	require.Equal(t, 1, eval[int](b, `document.querySelectorAll("#recent-list li").length`), "success shown once")
	require.True(t, eval[bool](b, `localStorage.getItem("promo.pos.pending") === null`))
	b.noPageErrors("ERR_EMPTY_RESPONSE", "Failed to load resource")
}

// A till reloaded while a redemption has no answer yet keeps it: the page
// offers Retry, which sends the same Idempotency-Key and body, and the code
// is redeemed once.
func TestBrowser_Till_RetriesAfterAReload(t *testing.T) {
	e := newWebEnv(t)
	e.campaign(`{"id": "fair", "benefit": {"type": "percent", "value": 20}, "max_redemptions_per_code": 5}`)
	code := e.codes("fair", 1)[0]
	b := newBrowser(t, 30*time.Second)
	b.viewport(1024, 768, false)
	openTill(b, e, "stand-2")

	b.do(
		chromedp.SendKeys(chromedp.ID("amount"), "12.50"),
		chromedp.SendKeys(chromedp.ID("code"), code+"\n"),
		chromedp.WaitVisible(chromedp.CSS("#result.valid")),
	)
	e.mu.Lock()
	e.loseRedeems = 2 // should the page retry before the reload, that answer is lost too
	e.mu.Unlock()
	b.do(chromedp.Click(chromedp.ID("redeem")), chromedp.WaitVisible(chromedp.CSS(`#result.lost[data-reason="retrying"]`)))
	b.do(chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("pending")))
	e.mu.Lock()
	e.loseRedeems = 0
	e.mu.Unlock()
	require.Contains(t, b.text("#pending"), "no answer")
	require.Contains(t, b.text("#result-title"), "NO ANSWER")
	require.True(t, eval[bool](b, `document.getElementById("redeem").disabled`), "no new redemption while one is unanswered")
	b.screenshot("till-unanswered-tablet")
	b.do(chromedp.Click(chromedp.ID("pending-retry")), chromedp.WaitVisible(chromedp.CSS("#result.redeemed")))
	require.Contains(t, b.text("#result-detail"), "discount 2.50")

	redeems := e.requests("POST", "/v1/redeem")
	require.GreaterOrEqual(t, len(redeems), 2)
	require.True(t, redeems[0].lost)
	require.False(t, redeems[len(redeems)-1].lost)
	for _, r := range redeems {
		require.Equal(t, redeems[0].idemKey, r.idemKey, "every try carries the same key")
	}
	require.Len(t, e.redemptions("fair"), 1)
	require.True(t, eval[bool](b, `document.getElementById("pending").hidden`))
	b.noPageErrors("ERR_EMPTY_RESPONSE", "Failed to load resource")
}

// The dashboard signs in with an admin key, lists campaigns with their
// counts and rates, and draws a campaign's assignments and redemptions by
// day as SVG bars (a day without activity is an empty slot); the breakdowns,
// a CSV export, a printable sheet and a new API key work from it.
func TestBrowser_Dashboard_DrawsTheChart(t *testing.T) {
	e := newWebEnv(t)
	e.campaign(`{"id": "spring", "name": "Spring sale", "kind": "generic", "benefit": {"type": "percent", "value": 10, "currency": "EUR"}}`)
	codes := e.codes("spring", 12)
	ctx := context.Background()
	day := func(d int) { e.now.Store(time.Date(2026, 3, d, 12, 0, 0, 0, time.UTC).UnixNano()) }
	assign := func(customer, channel string) {
		_, err := e.st.Assign(ctx, "spring", store.AssignRequest{CustomerID: customer, Channel: channel})
		require.NoError(t, err)
	}
	redeem := func(code, terminal string) {
		_, err := e.st.Redeem(ctx, store.RedeemRequest{Code: code, OrderAmount: 4000, Terminal: terminal})
		require.NoError(t, err)
	}
	// 2 March: 3 assigned, 1 redeemed; 3 March: 2 assigned, 2 redeemed;
	// 4 March: nothing; 5 March: 1 redeemed. Assign hands out the codes in
	// order, so codes[0..4] are assigned and codes[0..3] are redeemed.
	day(2)
	assign("ann", "email")
	assign("bob", "email")
	assign("cat", "app")
	redeem(codes[0], "stand-1")
	day(3)
	assign("dan", "app")
	assign("eve", "app")
	redeem(codes[1], "stand-1")
	redeem(codes[2], "stand-2")
	day(5)
	redeem(codes[3], "stand-2")

	b := newBrowser(t, 40*time.Second)
	b.viewport(1280, 900, false)
	b.do(chromedp.Navigate(e.url+"/admin"), chromedp.WaitVisible(chromedp.ID("login")))
	b.do(chromedp.SendKeys(chromedp.ID("login-key"), e.keys[issuer]+"\n"), chromedp.WaitVisible(chromedp.CSS("#login-error")))
	require.Contains(t, b.text("#login-error"), "not an admin key")
	b.clear("#login-key")
	b.do(
		chromedp.SendKeys(chromedp.ID("login-key"), e.keys[admin]+"\n"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-campaign="spring"]`)),
	)
	row := b.text(`tr[data-campaign="spring"]`)
	require.Contains(t, row, "Spring sale")
	require.Contains(t, row, "33.3%", "the use rate: 4 redemptions of the 12 uses its codes allow")
	b.screenshot("dashboard-overview")

	b.do(chromedp.Click(chromedp.CSS(`tr[data-campaign="spring"] a`)), chromedp.WaitVisible(chromedp.CSS("svg.daily-chart rect.bar")))
	type bar struct {
		Class, Date string
		Value       int
		Height      float64
	}
	bars := eval[[]bar](b, `[...document.querySelectorAll("svg.daily-chart rect.bar")].map(r => ({
		class: r.getAttribute("class"), date: r.dataset.date, value: Number(r.dataset.value), height: r.getBBox().height}))`)
	got := map[string]int{}
	for _, br := range bars {
		got[br.Date+" "+br.Class] = br.Value
		require.Equal(t, br.Value > 0, br.Height > 0, "a bar is drawn when its day has activity: %+v", br)
	}
	require.Equal(t, map[string]int{
		"2026-03-02 bar assigned": 3, "2026-03-02 bar redeemed": 1,
		"2026-03-03 bar assigned": 2, "2026-03-03 bar redeemed": 2,
		"2026-03-04 bar assigned": 0, "2026-03-04 bar redeemed": 0,
		"2026-03-05 bar assigned": 0, "2026-03-05 bar redeemed": 1,
	}, got)
	// Two names for "assigned", and rates that say what they divide.
	cards := eval[map[string]string](b, `Object.fromEntries([...document.querySelectorAll('[data-role="counts"] .card')].map(c =>
		[c.dataset.card, c.querySelector(".card-value").textContent]))`)
	require.Equal(t, "5", cards["handed out"], "codes ever assigned")
	require.Equal(t, "1", cards["assigned now"], "5 handed out, 4 of them redeemed")
	require.Equal(t, "33.3%", cards["use rate"])
	require.Equal(t, "80.0%", cards["assigned used"])
	require.Equal(t, "16.00 EUR", cards["discount given · EUR"], "money with its currency")
	require.Contains(t, b.text(`[data-role="by-channel"]`), "email")
	require.Contains(t, b.text(`[data-role="by-terminal"]`), "stand-2")
	b.screenshot("dashboard-campaign")
	full, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(artifactsDir(t), "dashboard-campaign-full.png"), full, 0o644))

	// A CSV export is fetched with the key and Accept: text/csv.
	b.do(chromedp.Click(chromedp.CSS(`[data-role="export-codes"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-role="export-result"]`)))
	_, err = chromedp.Run(b.ctx, chromedp.Poll[bool](`document.querySelector('[data-role="export-result"]').textContent.startsWith("Saved")`,
		chromedp.WithPollingTimeout(5*time.Second)))
	require.NoError(t, err)
	exports := e.requests("GET", "/v1/campaigns/spring/codes")
	require.Len(t, exports, 1)
	require.Equal(t, "text/csv", exports[0].accept)

	// The printable sheet opens in a new tab: the available codes with
	// their QR images, styled (its inline stylesheet is allowed by hash).
	newTab := chromedp.WaitNewTarget(b.ctx, func(i *target.Info) bool { return strings.HasPrefix(i.URL, "blob:") })
	b.do(chromedp.Click(chromedp.CSS(`[data-role="sheet"]`)))
	var tabID target.ID
	select {
	case tabID = <-newTab:
	case <-b.ctx.Done():
		t.Fatal("the sheet did not open")
	}
	tab, cancel := chromedp.NewContext(b.ctx, chromedp.WithTargetID(tabID))
	defer cancel()
	require.NoError(t, chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS(".card img"))))
	n, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll(".card img").length`))
	require.NoError(t, err)
	require.Equal(t, 7, n, "12 codes, 5 of them assigned: 7 available")
	display, err := chromedp.Run(tab, chromedp.Evaluate[string](`getComputedStyle(document.querySelector(".grid")).display`))
	require.NoError(t, err)
	require.Equal(t, "grid", display, "the sheet's stylesheet applies")
	sheet, err := chromedp.Run(tab, chromedp.CaptureScreenshot())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(artifactsDir(t), "dashboard-sheet.png"), sheet, 0o644))
	cancel()

	// A new campaign, with codes made at once.
	b.do(chromedp.Navigate(e.url+"/admin#/new"), chromedp.WaitVisible(chromedp.CSS(`[data-role="create"]`)))
	form := `[data-role="create"] `
	b.do(
		chromedp.SendKeys(chromedp.CSS(form+`input[name="id"]`), "fair"),
		chromedp.SendKeys(chromedp.CSS(form+`input[name="name"]`), "Summer fair"),
		chromedp.SetValue(chromedp.CSS(form+`select[name="benefit"]`), "amount"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-role="create"] select[name="benefit"]').dispatchEvent(new Event("change"))`),
		chromedp.WaitVisible(chromedp.CSS(form+`input[name="amount"]`)),
		chromedp.SendKeys(chromedp.CSS(form+`input[name="amount"]`), "5.00"),
		chromedp.SendKeys(chromedp.CSS(form+`input[name="currency"]`), "eur"),
		chromedp.SendKeys(chromedp.CSS(form+`input[name="min_order"]`), "20"),
	)
	b.clear(form + `input[name="count"]`)
	b.do(
		chromedp.SendKeys(chromedp.CSS(form+`input[name="count"]`), "10"),
		chromedp.Click(chromedp.CSS(form+`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("svg.daily-chart, .empty-chart")),
	)
	require.Equal(t, "Summer fair", b.text(`[data-role="title"]`))
	fair, err := e.st.Campaign("fair")
	require.NoError(t, err)
	require.Equal(t, store.Benefit{Type: "amount", Value: 500, Currency: "EUR"}, fair.Benefit)
	require.Equal(t, int64(2000), fair.MinOrder)
	require.Equal(t, int64(10), fair.Counts.Codes)

	// A new key's secret is shown once; the key is then listed.
	b.do(chromedp.Navigate(e.url+"/admin#/keys"), chromedp.WaitVisible(chromedp.CSS(`tr[data-key="pos-key"]`)))
	b.do(
		chromedp.SendKeys(chromedp.CSS(`[data-role="create-key"] input[name="name"]`), "till-stand-9"),
		chromedp.Click(chromedp.CSS(`[data-role="create-key"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-role="secret-panel"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-key="till-stand-9"]`)),
	)
	secret := eval[string](b, `document.querySelector('[data-role="secret"]').value`)
	key, err := e.st.Authenticate(secret)
	require.NoError(t, err, "the secret shown is the new key's")
	require.Equal(t, "till-stand-9", key.Name)
	require.Equal(t, store.RolePOS, key.Role)
	b.screenshot("dashboard-keys")
	b.noPageErrors("status of 403") // the issuer key's refusal, above
}

// The till's check (web/code.js) agrees with gen on every input: codes
// made by gen in their stored and display forms, typed in lower case, with
// spaces and with the letters people confuse, every single-symbol
// substitution of some of them, swaps, insertions and deletions, and
// input that is no code at all.
func TestBrowser_CodeCheck_AgreesWithGen(t *testing.T) {
	e := newWebEnv(t)
	b := newBrowser(t, 30*time.Second)
	b.do(chromedp.Navigate(e.url+"/pos"), chromedp.WaitReady(chromedp.CSS("body")))

	f := gen.DefaultFormat()
	g, err := gen.NewGenerator(f, nil)
	require.NoError(t, err)
	rnd := rand.New(rand.NewPCG(1, 2))
	sym := f.Symbols()
	noise := sym + "ILOUilou#é -"
	var inputs []string
	for i := 0; i < 400; i++ {
		k, err := g.AppendKey(nil, 0, 0)
		require.NoError(t, err)
		key := string(k)
		disp := f.Display(key)
		folded := strings.NewReplacer("0", "O", "1", "l").Replace(key)
		inputs = append(inputs, key, disp, strings.ToLower(disp), " "+strings.ReplaceAll(disp, "-", " ")+"\t",
			folded, strings.ToLower(folded), key[:11], key+"7", "PROMO-"+disp)
		b := []byte(key) // one symbol changed to any symbol or confusable
		p := rnd.IntN(len(b))
		b[p] = noise[rnd.IntN(len(noise))]
		inputs = append(inputs, string(b))
		b = []byte(key) // two neighbours swapped
		p = rnd.IntN(len(b) - 1)
		b[p], b[p+1] = b[p+1], b[p]
		inputs = append(inputs, string(b))
		p = rnd.IntN(len(key)) // one symbol left out, one doubled
		inputs = append(inputs, key[:p]+key[p+1:], key[:p]+key[p:p+1]+key[p:])
		if i < 8 { // every single substitution
			for p := range key {
				for j := 0; j < len(sym); j++ {
					if sym[j] != key[p] {
						inputs = append(inputs, key[:p]+sym[j:j+1]+key[p+1:])
					}
				}
			}
		}
	}
	inputs = append(inputs, "", " ", "--", "\t", "7K3M-Q9XD-2RT#", "7K3M\nQ9XD2RTM", "WELCOME10", "welcome10",
		strings.Repeat("A", 64), strings.Repeat("A", 65), strings.Repeat("A", 64)+"-", "UUUUUUUUUUUU", "0000000000000", "🙂",
		"I0L1O0I0L1O0", "ÄBCD")

	js, err := json.Marshal(inputs)
	require.NoError(t, err)
	got := eval[[][3]string](b, `(`+string(js)+`).map(s => { const c = PromoCode.check(s); return [c.verdict, c.key, c.display]; })`)
	require.Len(t, got, len(inputs))
	verdicts := map[string]int{}
	for i, in := range inputs {
		want, wantKey, wantDisplay := "malformed", "", ""
		if key, err := gen.Normalize(in); err == nil {
			wantKey, wantDisplay = key, key
			switch f.Match(key) {
			case gen.Valid:
				want, wantDisplay = "valid", f.Display(key)
			case gen.Typo:
				want, wantDisplay = "typo", f.Display(key)
			default:
				want = "other"
			}
		}
		require.Equal(t, [3]string{want, wantKey, wantDisplay}, got[i], "input %q", in)
		verdicts[want]++
	}
	t.Logf("%d inputs agree: %v", len(inputs), verdicts)
	for _, v := range []string{"valid", "typo", "other", "malformed"} {
		require.Greater(t, verdicts[v], 10, "the inputs cover %s", v)
	}
	b.noPageErrors()
}

// tillLayout is where the till's fields sit, measured in the browser.
type tillLayout struct {
	AmountLabelLines, CustomerLabelLines, RedeemLines    int
	AmountTop, CustomerTop, AmountHeight, CustomerHeight float64
	RedeemText                                           string
	RedeemOverflows                                      bool
}

// measureTill counts the lines of the two field labels and of the REDEEM
// button's text (the client rectangles of their text: one per line) and
// reads the inputs' boxes.
func measureTill(b *browser) tillLayout {
	b.t.Helper()
	return eval[tillLayout](b, `(() => {
		const lines = (el) => { const r = document.createRange(); r.selectNodeContents(el); return r.getClientRects().length; };
		const labels = document.querySelectorAll(".row .label-text");
		const a = document.getElementById("amount").getBoundingClientRect();
		const c = document.getElementById("customer").getBoundingClientRect();
		const red = document.getElementById("redeem");
		return {amountLabelLines: lines(labels[0]), customerLabelLines: lines(labels[1]), redeemLines: lines(red),
			amountTop: a.top, customerTop: c.top, amountHeight: a.height, customerHeight: c.height,
			redeemText: red.textContent, redeemOverflows: red.scrollWidth > red.clientWidth};
	})()`)
}

// At a phone's 375 px, a small tablet's 768 px and a tablet's 1024 px the
// Customer label stays on one line, the two inputs are level and of one
// height, and REDEEM with its amount is one line that fits the button.
func TestBrowser_Till_LayoutAtThreeWidths(t *testing.T) {
	e := newWebEnv(t)
	e.campaign(`{"id": "spring", "benefit": {"type": "percent", "value": 10, "currency": "EUR"}}`)
	code := e.codes("spring", 1)[0]
	b := newBrowser(t, 40*time.Second)
	for _, w := range []struct {
		width, height int64
		mobile        bool
	}{{375, 812, true}, {768, 1024, true}, {1024, 768, false}} {
		b.viewport(w.width, w.height, w.mobile)
		openTill(b, e, "stand-1")
		b.do(
			chromedp.SendKeys(chromedp.ID("amount"), "1234.50"),
			chromedp.SendKeys(chromedp.ID("code"), code+"\n"),
			chromedp.WaitVisible(chromedp.CSS("#result.valid")),
		)
		l := measureTill(b)
		require.Equal(t, "REDEEM −123.45 EUR", l.RedeemText)
		require.Equal(t, 1, l.AmountLabelLines, "%d px: %+v", w.width, l)
		require.Equal(t, 1, l.CustomerLabelLines, "%d px: the Customer label does not wrap: %+v", w.width, l)
		require.InDelta(t, l.AmountTop, l.CustomerTop, 1, "%d px: the inputs are level: %+v", w.width, l)
		require.InDelta(t, l.AmountHeight, l.CustomerHeight, 1, "%d px: %+v", w.width, l)
		require.Equal(t, 1, l.RedeemLines, "%d px: REDEEM is one line: %+v", w.width, l)
		require.False(t, l.RedeemOverflows, "%d px: REDEEM's text fits the button: %+v", w.width, l)
		b.screenshot(fmt.Sprintf("till-valid-%d", w.width))
	}
	b.noPageErrors()
}

// With a customer named, checking a code holds it for them: another
// customer is refused held meanwhile. "Next customer" releases the hold
// (the code is free again); checked again and redeemed, the redemption
// uses the hold.
func TestBrowser_Till_HoldsTheCodeWhileTheCustomerPays(t *testing.T) {
	e := newWebEnv(t)
	e.campaign(`{"id": "spring", "benefit": {"type": "percent", "value": 10, "currency": "EUR"}}`)
	code := e.codes("spring", 1)[0]
	validateAs := func(customer string) store.Validation {
		v, err := e.st.Validate(store.RedeemRequest{Code: code, CustomerID: customer, OrderAmount: 1000, Currency: "EUR"})
		require.NoError(t, err)
		return v
	}
	b := newBrowser(t, 40*time.Second)
	b.viewport(1024, 768, false)
	openTill(b, e, "stand-1")
	check := func() string {
		b.do(
			chromedp.SendKeys(chromedp.ID("amount"), "40.00"),
			chromedp.SendKeys(chromedp.ID("customer"), "ann"),
			chromedp.SendKeys(chromedp.ID("code"), code+"\n"),
			chromedp.WaitVisible(chromedp.CSS("#result.valid")),
		)
		_, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`document.getElementById("result").dataset.hold !== ""`, chromedp.WithPollingTimeout(5*time.Second)))
		require.NoError(t, err, "the answer carried a hold")
		return eval[string](b, `document.getElementById("result").dataset.hold`)
	}

	hold := check()
	require.Regexp(t, `^hd_\d+$`, hold)
	require.Contains(t, b.text("#result-detail"), "held for ann until")
	require.Equal(t, store.EHeld, validateAs("ben").Reason, "ben cannot take ann's code meanwhile")
	require.True(t, validateAs("ann").Valid)
	b.screenshot("till-held-tablet")

	b.do(chromedp.Click(chromedp.CSS(`#result-actions button`)), chromedp.WaitVisible(chromedp.CSS("#result.idle")))
	require.Empty(t, eval[string](b, `document.getElementById("customer").value`), "next customer clears the till")
	_, err := chromedp.Run(b.ctx, chromedp.Poll[bool](fmt.Sprintf(`fetch("/v1/validate", {method: "POST", headers: {"Authorization": "Bearer %s"},
		body: JSON.stringify({code: %q, customer_id: "ben", order_amount: 1000, currency: "EUR"})}).then(r => r.json()).then(v => v.valid)`, e.keys[pos], code),
		chromedp.WithPollingTimeout(5*time.Second)))
	require.NoError(t, err, "the hold was released: ben may use the code")
	require.Len(t, e.requests("POST", "/v1/holds/"+hold+"/release"), 1)

	hold = check()
	b.do(chromedp.Click(chromedp.ID("redeem")), chromedp.WaitVisible(chromedp.CSS("#result.redeemed")))
	reds := e.redemptions("spring")
	require.Len(t, reds, 1)
	require.Equal(t, hold, reds[0].Hold, "the redemption used the hold")
	require.Equal(t, "ann", reds[0].CustomerID)
	require.Len(t, e.requests("POST", "/v1/holds/"+hold+"/release"), 0, "a used hold is not released")
	b.noPageErrors()
}

// The dashboard shows a campaign's budget use against its caps (held
// codes count) and its suspected leaks; voiding a leak asks first (a
// "no" changes nothing), then voids the code. Money is labelled with its
// currency, or "(no currency)".
func TestBrowser_Dashboard_BudgetAndLeaks(t *testing.T) {
	e := newWebEnv(t)
	ctx := context.Background()
	e.campaign(`{"id": "bf", "name": "Black Friday", "benefit": {"type": "amount", "value": 1000, "currency": "EUR"},
		"max_redemptions_per_code": 1, "budget": {"redemptions": 10, "discount": 5000}}`)
	e.campaign(`{"id": "plain", "benefit": {"type": "percent", "value": 10}}`)
	codes := e.codes("bf", 4)
	plain := e.codes("plain", 1)
	_, err := e.st.Redeem(ctx, store.RedeemRequest{Code: codes[0], CustomerID: "ann", OrderAmount: 6000, Currency: "EUR", Terminal: "till-1"})
	require.NoError(t, err)
	_, err = e.st.Validate(store.RedeemRequest{Code: codes[1], CustomerID: "ben", OrderAmount: 6000, Currency: "EUR", Hold: store.Duration(15 * time.Minute)})
	require.NoError(t, err)
	_, err = e.st.Redeem(ctx, store.RedeemRequest{Code: plain[0], OrderAmount: 800})
	require.NoError(t, err)
	// codes[0] is shared: refused to five more customers.
	for i := range store.LeakCustomers {
		_, err := e.st.Redeem(ctx, store.RedeemRequest{Code: codes[0], CustomerID: fmt.Sprintf("stranger-%d", i), OrderAmount: 6000, Currency: "EUR"})
		require.Error(t, err)
	}
	require.Eventually(t, func() bool {
		st, err := e.st.CampaignStats("bf")
		return err == nil && len(st.SuspectedLeaks) == 1
	}, 10*time.Second, 20*time.Millisecond, "the refusals are noted")

	b := newBrowser(t, 40*time.Second)
	b.viewport(1280, 900, false)
	b.do(chromedp.Navigate(e.url + "/admin"))
	eval[chromedp.Void](b, fmt.Sprintf(`localStorage.setItem("promo.admin.key", %q)`, e.keys[admin]))
	b.do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`tr[data-campaign="bf"]`)))
	require.Contains(t, b.text(`[data-currency="EUR"]`), "10.00 EUR")
	require.Contains(t, b.text(`[data-currency="none"]`), "80 (no currency)")
	require.Contains(t, b.text(`tr[data-campaign="plain"]`), "80 (no currency)")
	b.screenshot("dashboard-overview-currencies")

	b.do(chromedp.Navigate(e.url+"/admin#/campaign/bf"), chromedp.WaitVisible(chromedp.CSS(`tr[data-budget="discount"]`)))
	red := b.text(`tr[data-budget="redemptions"]`)
	require.Contains(t, red, "redemptions\t1\t1\t10\t8", "1 used, 1 held, cap 10, 8 left")
	disc := b.text(`tr[data-budget="discount"]`)
	require.Contains(t, disc, "10.00 EUR\t10.00 EUR\t50.00 EUR\t30.00 EUR")
	leak := codes[0]
	require.Contains(t, b.text(`[data-role="leaks"]`), leak)

	// "Cancel" in the confirmation: nothing is voided.
	eval[chromedp.Void](b, `window.confirm = (m) => { window.asked = m; return false; }`)
	b.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[data-void=%q]`, leak))))
	require.Contains(t, eval[string](b, `window.asked`), "Void the code "+leak+"?")
	require.Empty(t, e.requests("POST", "/v1/codes/"+leak+"/void"))
	b.screenshot("dashboard-budget-leaks")

	eval[chromedp.Void](b, `window.confirm = () => true`)
	b.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[data-void=%q]`, leak))),
		chromedp.WaitVisible(chromedp.CSS(`[data-role="leaks"] .status.archived`)))
	c, err := e.st.GetCode(leak)
	require.NoError(t, err)
	require.Equal(t, "voided", c.State)
	require.Equal(t, 1, c.RedemptionCount, "its redemption stays")
	v, err := e.st.Validate(store.RedeemRequest{Code: leak, CustomerID: "stranger-9"})
	require.NoError(t, err)
	require.Equal(t, store.EVoided, v.Reason)
	b.noPageErrors()
}
