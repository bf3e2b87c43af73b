//go:build unix

package main

// The end-to-end tests run the built promo binary: `promo serve` as a
// subprocess on a database in a temporary directory, driven over HTTP with
// API keys and through the CLI (the binary again, which talks to the server
// over FILE.sock). This file holds what they share: building the binary,
// starting and stopping servers, running the CLI, calling the API, and the
// JSON shapes the tests read (declared here rather than borrowed from the
// store package, so a change to the wire format fails these tests).

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// promoBin is the binary under test: $PROMO_BIN, or built by TestMain.
var promoBin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

// helperModes are other programs the test binary can be, chosen by an
// environment variable: a test starts the binary again as one of them
// (e.g. a process of another user).
var helperModes = map[string]func() int{}

func runTests(m *testing.M) int {
	for env, run := range helperModes {
		if os.Getenv(env) != "" {
			return run()
		}
	}
	if bin := os.Getenv("PROMO_BIN"); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			fmt.Fprintf(os.Stderr, "PROMO_BIN=%s: %v\n", bin, err)
			return 1
		}
		promoBin = abs
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "promo-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	promoBin = filepath.Join(dir, "promo")
	goTool, err := exec.LookPath("go")
	if err != nil {
		fmt.Fprintln(os.Stderr, "the e2e tests build promo with the go command, which is not on PATH (or set PROMO_BIN):", err)
		return 1
	}
	build := exec.Command(goTool, "build", "-o", promoBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "go build -o promo .:", err)
		return 1
	}
	return m.Run()
}

// Time bounds. Every wait in these tests polls against one of these; none
// is a fixed sleep standing in for readiness.
const (
	readyTimeout = 20 * time.Second // a server prints its serving line
	stopTimeout  = 45 * time.Second // a SIGTERMed server exits (it waits up to 30 s for requests)
	cliTimeout   = 2 * time.Minute  // one CLI command
	httpTimeout  = time.Minute      // one HTTP request
)

// env is one test's world: a temporary directory holding the database and
// at most one server running on it. Its cleanup stops the server with
// SIGTERM, requires exit status 0, then requires `promo check` (direct
// mode) to exit 0 on the file.
type env struct {
	t      *testing.T
	dir    string
	db     string
	srv    *server
	starts int
}

// newEnv makes an env without a server. The directory is made under the
// system temp directory with a short name (not t.TempDir, whose path
// carries the test's name): FILE.sock must fit the 108 bytes of a unix
// socket address.
func newEnv(t *testing.T) *env {
	t.Helper()
	dir, err := os.MkdirTemp("", "pe2e-")
	require.NoError(t, err)
	e := &env{t: t, dir: dir, db: filepath.Join(dir, "promo.db")}
	t.Cleanup(func() {
		defer func() {
			if t.Failed() && os.Getenv("PROMO_E2E_KEEP") != "" {
				t.Logf("kept %s", dir)
				return
			}
			os.RemoveAll(dir)
		}()
		if e.srv != nil && e.srv.running() {
			e.srv.stop(t)
		}
		if e.srv != nil && t.Failed() {
			t.Logf("last server's log (tail):\n%s", tail(e.srv.logText(), 40))
		}
		if _, err := os.Stat(e.db); err == nil {
			res := e.cli("check")
			require.Equal(t, 0, res.code, "promo check on %s after the test:\n%s%s", e.db, res.stdout, res.stderr)
		}
	})
	return e
}

// startEnv makes an env and starts a server on it.
func startEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	e.start()
	return e
}

// start starts `promo serve` on the env's database and waits until it
// serves. The previous server, if any, must have exited.
func (e *env) start(extra ...string) *server {
	e.t.Helper()
	if e.srv != nil {
		require.False(e.t, e.srv.running(), "a server is already running on %s", e.db)
	}
	e.starts++
	e.srv = startServer(e.t, e.db, filepath.Join(e.dir, fmt.Sprintf("serve-%d.log", e.starts)), extra...)
	return e.srv
}

// server is one `promo serve` process.
type server struct {
	cmd     *exec.Cmd
	db      string
	logPath string
	url     string // http://127.0.0.1:PORT
	socket  string // the admin socket it announced
	done    chan struct{}
	state   *os.ProcessState
	waitErr error
	hc      *http.Client
}

var servingLine = regexp.MustCompile(`promo: serving (https?)://(\S+) \(admin socket (.+)\)`)

// startServer runs `promo --db DB serve --addr 127.0.0.1:0` with its output
// in logPath, and polls the log for the line saying it serves.
func startServer(t *testing.T, db, logPath string, extra ...string) *server {
	t.Helper()
	s := launchServer(t, db, logPath, extra...)
	if !s.awaitReady(t) {
		t.Fatalf("promo serve exited %d before serving:\n%s", s.state.ExitCode(), s.logText())
	}
	require.Equal(t, db+".sock", s.socket, "the admin socket sits beside the database")
	return s
}

// launchServer starts `promo serve` without waiting for it.
func launchServer(t *testing.T, db, logPath string, extra ...string) *server {
	t.Helper()
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	defer logFile.Close()
	args := append([]string{"--db", db, "serve", "--addr", "127.0.0.1:0"}, extra...)
	cmd := promoCmd(context.Background(), args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	s := &server{cmd: cmd, db: db, logPath: logPath, done: make(chan struct{}), hc: newHTTPClient()}
	go func() {
		s.waitErr = cmd.Wait()
		s.state = cmd.ProcessState
		close(s.done)
	}()
	return s
}

// awaitReady polls the server's log for its serving line. It returns
// false when the server exited first, and fails the test when neither
// happens within readyTimeout.
func (s *server) awaitReady(t *testing.T) bool {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	for {
		if m := servingLine.FindStringSubmatch(s.logText()); m != nil {
			s.url, s.socket = m[1]+"://"+m[2], m[3]
			if m[1] == "https" {
				s.trust(t, s.db+".tls.crt") // --tls-self-signed; a test with its own certificate trusts it itself
			}
			return true
		}
		select {
		case <-s.done:
			return false
		default:
		}
		if time.Now().After(deadline) {
			s.kill()
			t.Fatalf("promo serve did not print its serving line within %s:\n%s", readyTimeout, s.logText())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// trust makes the server's HTTP client trust the PEM certificate in
// certFile, when there is one.
func (s *server) trust(t *testing.T, certFile string) {
	t.Helper()
	pemBytes, err := os.ReadFile(certFile)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pemBytes), "a PEM certificate in %s", certFile)
	s.hc.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: pool}
}

func newHTTPClient() *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 128,
		IdleConnTimeout:     30 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: httpTimeout}
}

func (s *server) logText() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

func (s *server) running() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// signal sends sig to the server process.
func (s *server) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	require.NoError(t, s.cmd.Process.Signal(sig))
}

// stop sends SIGTERM and requires the server to exit 0 within stopTimeout.
func (s *server) stop(t *testing.T) {
	t.Helper()
	s.hc.CloseIdleConnections()
	if s.running() {
		s.signal(t, syscall.SIGTERM)
	}
	code := s.wait(t, stopTimeout)
	require.Equal(t, 0, code, "promo serve exit status after SIGTERM; its log:\n%s", tail(s.logText(), 40))
}

// wait waits for the server to exit and returns its exit status (-1 when
// killed by a signal).
func (s *server) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(d):
		s.kill()
		t.Fatalf("promo serve did not exit within %s; its log:\n%s", d, tail(s.logText(), 40))
	}
	return s.state.ExitCode()
}

// kill sends SIGKILL (kill -9) and waits for the process to be gone.
func (s *server) kill() {
	s.hc.CloseIdleConnections()
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// --- the CLI

// result is what one run of the CLI printed and its exit status.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", r.code, tail(r.stdout, 20), r.stderr)
}

// cli runs `promo --db DB ARGS...`: through the socket while the env's
// server runs, on the file itself otherwise.
func (e *env) cli(args ...string) result {
	e.t.Helper()
	return runPromo(e.t, "", append([]string{"--db", e.db}, args...)...)
}

// mustCLI runs the CLI and requires exit status 0; it returns stdout.
func (e *env) mustCLI(args ...string) string {
	e.t.Helper()
	res := e.cli(args...)
	require.Equal(e.t, 0, res.code, "promo %s\n%s", strings.Join(args, " "), res)
	return res.stdout
}

// cliJSON runs the CLI with --json, requires exit status 0 and decodes
// stdout into v.
func (e *env) cliJSON(v any, args ...string) {
	e.t.Helper()
	out := e.mustCLI(append([]string{"--json"}, args...)...)
	require.NoError(e.t, json.Unmarshal([]byte(out), v), "promo --json %s printed %s", strings.Join(args, " "), out)
}

// runPromo runs the binary with args in dir (the current directory when
// empty).
func runPromo(t *testing.T, dir string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := promoCmd(ctx, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		res.code = ee.ExitCode()
	default:
		t.Fatalf("promo %s: %v (%s)", strings.Join(args, " "), err, stderr.String())
	}
	return res
}

// promoCmd returns a command running the binary with args, in an
// environment without PROMO_DB, that is killed when the test process dies
// (where the platform allows, see dieWithParent), so a test binary that
// panics or times out leaves no server behind.
func promoCmd(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, promoBin, args...)
	cmd.Env = promoEnviron()
	dieWithParent(cmd)
	return cmd
}

// promoEnviron is the environment for promo subprocesses: the test's,
// without PROMO_DB (every command names --db).
func promoEnviron() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PROMO_DB=") {
			out = append(out, kv)
		}
	}
	return out
}

// key creates an API key with the CLI and returns its secret.
func (e *env) key(name, role string) string {
	e.t.Helper()
	var k struct {
		Key struct {
			Name string `json:"name"`
			Role string `json:"role"`
		} `json:"key"`
		Secret string `json:"secret"`
	}
	e.cliJSON(&k, "keys", "create", name, "--role", role)
	require.Equal(e.t, role, k.Key.Role)
	require.True(e.t, strings.HasPrefix(k.Secret, "pk_"), "a key's secret starts with pk_: %q", k.Secret)
	return k.Secret
}

// codes returns the campaign's codes, in creation order, from `promo
// export` (CSV on stdout).
func (e *env) codes(campaign string, extra ...string) []codeRow {
	e.t.Helper()
	return parseCodeCSV(e.t, e.mustCLI(append([]string{"export", campaign}, extra...)...))
}

// redemptions returns the campaign's redemptions from `promo export
// --redemptions`.
func (e *env) redemptions(campaign string) []redemptionRow {
	e.t.Helper()
	return parseRedemptionCSV(e.t, e.mustCLI("export", campaign, "--redemptions"))
}

func (e *env) stats(campaign string) statsJSON {
	e.t.Helper()
	var s statsJSON
	e.cliJSON(&s, "stats", campaign)
	return s
}

func (e *env) code(code string) codeJSON {
	e.t.Helper()
	var c codeJSON
	e.cliJSON(&c, "code", code)
	return c
}

// --- HTTP

// response is one HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body)) }

// errorCode returns the code of an error body, failing the test when the
// body is not {"error": {"code", "message"}}.
func (r response) errorCode(t *testing.T) string {
	t.Helper()
	var eb errorJSON
	require.NoError(t, json.Unmarshal(r.body, &eb), "error body of %s", r)
	require.NotEmpty(t, eb.Error.Code, "error body without a code: %s", r)
	require.NotEmpty(t, eb.Error.Message, "error body without a message: %s", r)
	return eb.Error.Code
}

// decode decodes the answer's JSON into v.
func (r response) decode(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.body, v), "answer %s", r)
}

// send makes one request. body is sent as is when it is []byte or string,
// else as JSON; contentType defaults to application/json. headers are
// name, value pairs. It returns the transport's error rather than failing,
// so goroutines can use it.
func (s *server) send(ctx context.Context, method, path, key string, body any, headers ...string) (response, error) {
	var rd io.Reader
	contentType := "application/json"
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return response{}, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, rd)
	if err != nil {
		return response{}, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}, nil
}

// do makes one request and fails the test on a transport error.
func (s *server) do(t *testing.T, method, path, key string, body any, headers ...string) response {
	t.Helper()
	r, err := s.send(context.Background(), method, path, key, body, headers...)
	require.NoError(t, err, "%s %s", method, path)
	return r
}

// redeem posts a redemption and returns the answer.
func (s *server) redeem(t *testing.T, key string, req redeemReq) response {
	t.Helper()
	return s.do(t, "POST", "/v1/redeem", key, req)
}

// mustRedeem redeems and requires 201; it returns the redemption.
func (s *server) mustRedeem(t *testing.T, key string, req redeemReq) redemptionJSON {
	t.Helper()
	r := s.redeem(t, key, req)
	require.Equal(t, http.StatusCreated, r.status, "redeem %+v: %s", req, r)
	var red redemptionJSON
	r.decode(t, &red)
	require.NotEmpty(t, red.ID)
	return red
}

// refused redeems and requires the given status and error code.
func (s *server) refused(t *testing.T, key string, req redeemReq, status int, code string) {
	t.Helper()
	r := s.redeem(t, key, req)
	require.Equal(t, status, r.status, "redeem %+v: %s", req, r)
	require.Equal(t, code, r.errorCode(t), "redeem %+v: %s", req, r)
}

// validate posts a validation and returns the answer, which is always 200.
func (s *server) validate(t *testing.T, key string, req redeemReq) validationJSON {
	t.Helper()
	r := s.do(t, "POST", "/v1/validate", key, req)
	require.Equal(t, http.StatusOK, r.status, "validate %+v: %s", req, r)
	var v validationJSON
	r.decode(t, &v)
	return v
}

// --- wire shapes (the fields the tests read)

type redeemReq struct {
	Code        string `json:"code"`
	CustomerID  string `json:"customer_id,omitempty"`
	OrderID     string `json:"order_id,omitempty"`
	OrderAmount int64  `json:"order_amount,omitempty"`
	Currency    string `json:"currency,omitempty"`
	Terminal    string `json:"terminal,omitempty"`
}

type errorJSON struct {
	Error struct {
		Code    string          `json:"code"`
		Message string          `json:"message"`
		Field   string          `json:"field"`
		Details json.RawMessage `json:"details"`
	} `json:"error"`
}

type validationJSON struct {
	Valid    bool   `json:"valid"`
	Reason   string `json:"reason"`
	Message  string `json:"message"`
	Code     string `json:"code"`
	Campaign string `json:"campaign"`
	Discount int64  `json:"discount"`
}

type redemptionJSON struct {
	ID           string     `json:"id"`
	Code         string     `json:"code"`
	Campaign     string     `json:"campaign"`
	CustomerID   string     `json:"customer_id"`
	OrderID      string     `json:"order_id"`
	OrderAmount  int64      `json:"order_amount"`
	Currency     string     `json:"currency"`
	Discount     int64      `json:"discount"`
	Terminal     string     `json:"terminal"`
	RolledBackAt *time.Time `json:"rolled_back_at"`
	RewardCode   string     `json:"reward_code"`
	RewardError  string     `json:"reward_error"`
}

type codeJSON struct {
	Code            string           `json:"code"`
	Campaign        string           `json:"campaign"`
	State           string           `json:"state"`
	CustomerID      string           `json:"customer_id"`
	Channel         string           `json:"channel"`
	AssignedAt      *time.Time       `json:"assigned_at"`
	ExpiresAt       *time.Time       `json:"expires_at"`
	RedemptionCount int              `json:"redemption_count"`
	MaxRedemptions  int              `json:"max_redemptions"`
	Redemptions     []redemptionJSON `json:"redemptions"`
}

type countsJSON struct {
	Codes         int64 `json:"codes"`
	Generated     int64 `json:"generated"`
	Imported      int64 `json:"imported"`
	Assigned      int64 `json:"assigned"`
	Redeemed      int64 `json:"redeemed"`
	RolledBack    int64 `json:"rolled_back"`
	Voided        int64 `json:"voided"`
	DiscountTotal int64 `json:"discount_total"`
	OrderTotal    int64 `json:"order_total"`
	ByState       struct {
		Available int64 `json:"available"`
		Assigned  int64 `json:"assigned"`
		Redeemed  int64 `json:"redeemed"`
		Voided    int64 `json:"voided"`
	} `json:"by_state"`
}

type statsJSON struct {
	Campaign     string     `json:"campaign"`
	Kind         string     `json:"kind"`
	Status       string     `json:"status"`
	Counts       countsJSON `json:"counts"`
	TopReferrers []struct {
		CustomerID  string `json:"customer_id"`
		Code        string `json:"code"`
		Redemptions int64  `json:"redemptions"`
	} `json:"top_referrers"`
}

type overviewJSON struct {
	Campaigns []statsJSON `json:"campaigns"`
	Totals    countsJSON  `json:"totals"`
	Events    uint64      `json:"events"`
}

type eventJSON struct {
	Seq         uint64 `json:"seq"`
	Type        string `json:"type"`
	Campaign    string `json:"campaign"`
	Code        string `json:"code"`
	CustomerID  string `json:"customer_id"`
	Redemption  string `json:"redemption"`
	OrderAmount int64  `json:"order_amount"`
	Discount    int64  `json:"discount"`
	Count       int64  `json:"count"`
	RewardCode  string `json:"reward_code"`
}

type customerJSON struct {
	CustomerID  string           `json:"customer_id"`
	Codes       []codeJSON       `json:"codes"`
	Rewards     []codeJSON       `json:"rewards"`
	Redemptions []redemptionJSON `json:"redemptions"`
}

// --- CSV exports

// codeRow is one line of `promo export ID` (store's CodeCSVHeader).
type codeRow struct {
	Code, Campaign, State, CustomerID, Channel string
	RedemptionCount                            int
}

var codeHeader = []string{"code", "campaign", "state", "customer_id", "channel", "assigned_at", "expires_at", "redemption_count", "batch"}

func parseCodeCSV(t *testing.T, text string) []codeRow {
	t.Helper()
	recs := readCSV(t, text, codeHeader)
	out := make([]codeRow, 0, len(recs))
	for _, r := range recs {
		n, err := strconv.Atoi(r[7])
		require.NoError(t, err, "redemption_count of %v", r)
		out = append(out, codeRow{Code: r[0], Campaign: r[1], State: r[2], CustomerID: r[3], Channel: r[4], RedemptionCount: n})
	}
	return out
}

// redemptionRow is one line of `promo export ID --redemptions`.
type redemptionRow struct {
	ID, Code, Campaign, CustomerID, OrderID string
	OrderAmount, Discount                   int64
	RolledBack                              bool
	RewardCode                              string
}

var redemptionHeader = []string{"id", "code", "campaign", "customer_id", "order_id", "order_amount", "currency", "discount",
	"terminal", "channel", "redeemed_at", "rolled_back_at", "rollback_reason", "reward_code"}

func parseRedemptionCSV(t *testing.T, text string) []redemptionRow {
	t.Helper()
	recs := readCSV(t, text, redemptionHeader)
	out := make([]redemptionRow, 0, len(recs))
	for _, r := range recs {
		amount, err1 := strconv.ParseInt(r[5], 10, 64)
		discount, err2 := strconv.ParseInt(r[7], 10, 64)
		require.NoError(t, errors.Join(err1, err2), "amounts of %v", r)
		out = append(out, redemptionRow{ID: r[0], Code: r[1], Campaign: r[2], CustomerID: r[3], OrderID: r[4],
			OrderAmount: amount, Discount: discount, RolledBack: r[11] != "", RewardCode: r[13]})
	}
	return out
}

// readCSV parses CSV text, requires its header, and returns the rows.
func readCSV(t *testing.T, text string, header []string) [][]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	require.NoError(t, err, "CSV: %s", tail(text, 5))
	require.NotEmpty(t, recs, "CSV without a header")
	require.Equal(t, header, recs[0])
	return recs[1:]
}

// --- small things

// eventually polls cond every 10 ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[%d lines before]", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// lines splits output into its non-empty lines.
func lines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// newRand returns a seeded random source, logging the seed; set
// PROMO_E2E_SEED to replay a run.
func newRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("PROMO_E2E_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "PROMO_E2E_SEED")
		seed = v
	}
	t.Logf("random seed %d (replay with PROMO_E2E_SEED=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// syncBuffer is a bytes.Buffer safe for one writer and many readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// future and past are times relative to now in RFC 3339, so no test
// depends on the date it runs.
func future(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339) }
func past(d time.Duration) string   { return time.Now().Add(-d).UTC().Format(time.RFC3339) }
