//go:build unix

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Helpers of the end-to-end tests: the binary under test (built by
// TestMain unless $PROMO_BIN names it), each test's env, and `promo serve`
// as a subprocess: start, wait until it serves, signal, stop, kill.

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
