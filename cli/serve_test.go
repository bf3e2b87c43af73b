package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
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

// background runs promo until ctx ends and returns its output and a
// channel with its exit status.
func background(ctx context.Context, args ...string) (stdout, stderr *syncBuffer, done chan int) {
	stdout, stderr, done = &syncBuffer{}, &syncBuffer{}, make(chan int, 1)
	go func() {
		done <- Run(ctx, append([]string{"promo"}, args...), strings.NewReader(""), stdout, stderr)
	}()
	return stdout, stderr, done
}

func TestRun_EventsFollowDirect(t *testing.T) {
	t.Parallel()
	db := seededDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	stdout, stderr, code := runIn(t, ctx, "", "--db", db, "events", "--follow", "--after", "10")
	require.Equal(t, 0, code, "interrupting --follow is how it ends: %s", stderr)
	require.Contains(t, stdout, "11 ")
}

// TestRun_Socket runs promo serve in this process and the other commands
// through its admin socket, as they run while a server holds the file.
func TestRun_Socket(t *testing.T) {
	t.Parallel()
	db := seededDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, serveErr, served := background(ctx, "--db", db, "serve", "--addr", "127.0.0.1:0")
	ready := func() bool {
		select {
		case code := <-served:
			t.Fatalf("serve ended with %d: %s", code, serveErr.String())
		default:
		}
		return strings.Contains(serveErr.String(), "keys create till-1 --role pos\n") // the banner's last line
	}
	require.Eventually(t, ready, 10*time.Second, 10*time.Millisecond)
	require.Contains(t, serveErr.String(), "promo: serving http://127.0.0.1:")
	require.Contains(t, serveErr.String(), "(admin socket "+db+".sock)")
	// The first start says where the pages are and how to make the keys
	// they need (the seeded database has none).
	require.Regexp(t, `promo:   till       http://127\.0\.0\.1:\d+/pos\n`, serveErr.String())
	require.Regexp(t, `promo:   dashboard  http://127\.0\.0\.1:\d+/admin\n`, serveErr.String())
	require.Contains(t, serveErr.String(), "no admin key yet; for the dashboard, run in another terminal: promo --db "+db+" keys create admin-1 --role admin")
	require.Contains(t, serveErr.String(), "keys create till-1 --role pos")

	// A follower sees what another command does.
	followCtx, stopFollowing := context.WithCancel(ctx)
	events, followErr, followed := background(followCtx, "--db", db, "events", "--follow", "--after", "11")

	require.Contains(t, mustRun(t, "--db", db, "redeem", "ABCD2345", "--customer", "alice", "--amount", "5000"), "rd_1")
	_, stderr, code := run(t, "--db", db, "redeem", "ABCD2345")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "promo: this code was already redeemed")
	_, stderr, code = run(t, "--db", db, "validate", "ABCD2345", "--currency", "euros")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "--currency: want an ISO 4217 code")
	require.Contains(t, mustRun(t, "--db", db, "campaign", "list"), "welcome")
	require.Contains(t, mustRun(t, "--db", db, "import", "gen", "-"), "imported 0 codes") // empty stdin
	require.Contains(t, mustRun(t, "--db", db, "export", "gen", "--state", "redeemed"), "ABCD2345,gen,redeemed")
	require.Contains(t, mustRun(t, "--db", db, "check"), "ok")

	require.Eventually(t, func() bool { return strings.Contains(events.String(), "code.redeemed") }, 10*time.Second, 10*time.Millisecond)
	stopFollowing()
	require.Equal(t, 0, <-followed, followErr.String())

	cancel()
	select {
	case code := <-served:
		require.Equal(t, 0, code, serveErr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
	requireClean(t, db)
}

// Bad serve flags exit 2 before anything is opened, naming the flag.
func TestRun_ServeRefusesBadTransportFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "promo.db")
	missing := filepath.Join(dir, "missing.pem")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls-cert", missing}, "--tls-cert FILE and --tls-key FILE go together"},
		{[]string{"--tls-key", missing}, "--tls-cert FILE and --tls-key FILE go together"},
		{[]string{"--tls-self-signed", "--tls-cert", missing, "--tls-key", missing}, "give it, or --tls-cert and --tls-key, not both"},
		{[]string{"--tls-cert", missing, "--tls-key", missing}, "--tls-cert: cannot read " + missing + ": no such file or directory"},
		{[]string{"--guess-delay", "-1s"}, "--guess-delay: want 0 (answer at once) to 1m, got -1s"},
		{[]string{"--guess-delay", "2h"}, "--guess-delay: want 0 (answer at once) to 1m, got 2h0m0s"},
		{[]string{"--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "my-proxy"}, `--trusted-proxy: want an address range such as 10.0.0.0/8 or one address such as 10.0.0.5, got "my-proxy"`},
	} {
		_, stderr, code := run(t, append([]string{"--db", db, "serve", "--addr", "127.0.0.1:0"}, tc.args...)...)
		require.Equal(t, 2, code, "%v: %s", tc.args, stderr)
		require.Contains(t, stderr, tc.want)
	}
	_, err := os.Stat(db)
	require.ErrorIs(t, err, os.ErrNotExist, "nothing was opened")
}

func TestPlainHTTPWarning(t *testing.T) {
	for addr, warn := range map[string]bool{":8080": true, "0.0.0.0:8080": true, "[::]:8080": true, "192.168.1.5:8080": true,
		"shop.local:8080": true, "127.0.0.1:8080": false, "[::1]:8080": false, "localhost:8080": false, "127.0.0.2:80": false} {
		require.Equal(t, warn, plainHTTPWarning(addr) != "", addr)
	}
	require.Contains(t, plainHTTPWarning(":8080"), "(every interface): API keys and codes cross the network in clear")
}

func TestLogBuffer_WritesInBatchesAndOnClose(t *testing.T) {
	var out syncBuffer
	b := newLogBuffer(&out, 20*time.Millisecond)
	fmt.Fprintln(b, "first")
	require.Empty(t, out.String(), "buffered, not written at once")
	require.Eventually(t, func() bool { return out.String() == "first\n" }, 2*time.Second, 5*time.Millisecond)
	slow := newLogBuffer(&out, time.Hour)
	fmt.Fprintln(slow, "last")
	require.NoError(t, slow.Close())
	require.Equal(t, "first\nlast\n", out.String(), "Close writes what is left")
	require.NoError(t, b.Close())
}

// The server adds one P to what Go chose, once however often it starts in
// a process, and leaves a GOMAXPROCS from the environment alone; it says
// when it added the P, which the log's raw fdatasync needs.
func TestTuneProcs_AddsOneProcessorUnlessGOMAXPROCSIsSet(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	t.Setenv("GOMAXPROCS", "")
	require.True(t, tuneProcs())
	require.True(t, tuneProcs())
	require.Equal(t, startProcs+1, runtime.GOMAXPROCS(0))

	runtime.GOMAXPROCS(startProcs)
	t.Setenv("GOMAXPROCS", fmt.Sprint(startProcs))
	require.False(t, tuneProcs())
	require.Equal(t, startProcs, runtime.GOMAXPROCS(0))
}

// While codes are added in bulk the server's memory limit is tight, and
// it has room for checkpoints otherwise; GOMEMLIMIT leaves it alone.
func TestBulkMemoryLimit_TightWhileCodesAreAddedUnlessGOMEMLIMITIsSet(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	t.Setenv("GOMEMLIMIT", "")
	filter := uint64(1 << 20)
	onBulk := bulkMemoryLimit(func() uint64 { return filter })
	onBulk(true)
	require.Equal(t, int64(160<<20), debug.SetMemoryLimit(-1))
	onBulk(false)
	require.Equal(t, int64(256<<20), debug.SetMemoryLimit(-1))
	filter = 100 << 20 // the limit follows a filter of 100 MiB
	onBulk(true)
	require.Equal(t, int64(300<<20), debug.SetMemoryLimit(-1))
	onBulk(false)
	require.Equal(t, int64(396<<20), debug.SetMemoryLimit(-1))

	t.Setenv("GOMEMLIMIT", "1GiB")
	require.Nil(t, bulkMemoryLimit(func() uint64 { return filter }))
}
