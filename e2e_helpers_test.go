//go:build unix

package main

// The end-to-end tests run the built promo binary: `promo serve` as a
// subprocess on a database in a temporary directory, driven over HTTP with
// API keys and through the CLI (the binary again, which talks to the server
// over FILE.sock). They import no package of promo: they see what a user
// sees. What they share is in the e2e_helpers_*_test.go files:
//
//	e2e_helpers_server_test.go  the binary, each test's env, servers as subprocesses
//	e2e_helpers_cli_test.go     running the CLI and reading its --json
//	e2e_helpers_http_test.go    calling the API, the tills' redeem and validate
//	e2e_helpers_shapes_test.go  the JSON shapes and CSV exports the tests read
//	e2e_helpers_linux_test.go   (and _other_) tying a child process to the test's life
//
// and this file holds the small things: polling, text, randomness, times.

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

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

func past(d time.Duration) string { return time.Now().Add(-d).UTC().Format(time.RFC3339) }
