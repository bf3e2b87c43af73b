package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"promo/store"
)

// runAsPromo makes the test binary act as promo itself (litestream
// style): TestRun_Process re-runs it with this variable set.
const runAsPromo = "PROMO_CLI_TEST_RUN_AS_PROMO"

func TestMain(m *testing.M) {
	if os.Getenv(runAsPromo) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := Run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	code := m.Run()
	if seedDir != "" {
		os.RemoveAll(seedDir)
	}
	os.Exit(code)
}

// run runs promo with args and no input, and returns what it wrote and
// its exit status.
func run(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runIn(t, context.Background(), "", args...)
}

// runIn runs promo with args, ctx and stdin.
func runIn(t testing.TB, ctx context.Context, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Run(ctx, append([]string{"promo"}, args...), strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), code
}

// mustRun runs promo and requires exit status 0.
func mustRun(t testing.TB, args ...string) string {
	t.Helper()
	stdout, stderr, code := run(t, args...)
	require.Equal(t, 0, code, "promo %s\nstdout: %s\nstderr: %s", strings.Join(args, " "), stdout, stderr)
	return stdout
}

// The seeded database every scenario starts from (a copy of it):
//
//	gen      generic, 10% off in EUR, imported ABCD2345 BCDE3456 CDEF4567 DEFG5678
//	welcome  welcome (one per customer, bound), 5.00 EUR off orders from 20.00,
//	         imported WXYZ1111 WXYZ2222 WXYZ3333
//	paused   generic, paused, imported PAUS1111
//	old      generic, expired in 2020, imported EXPD1111
//	future   generic, starting in 2099, imported FUTR1111
var (
	seedOnce sync.Once
	seedDir  string
	seedErr  error
)

// Files every scenario directory holds.
const (
	codesFile     = "NEWC0DE1\nNEWC0DE2\n"
	customersFile = "customer_id,email,name\nalice,alice@example.com,Alice\nbob,,Bob\n"
)

func seed() (string, error) {
	seedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "promo-cli-seed")
		if err != nil {
			seedErr = err
			return
		}
		seedDir = dir
		db := filepath.Join(dir, "promo.db")
		steps := []struct {
			stdin string
			args  []string
		}{
			{"", []string{"campaign", "create", "gen", "--kind", "generic", "--percent", "10", "--currency", "EUR"}},
			{"ABCD2345\nBCDE3456\nCDEF4567\nDEFG5678\n", []string{"import", "gen", "-"}},
			{"", []string{"campaign", "create", "welcome", "--kind", "welcome", "--amount", "500", "--currency", "EUR", "--min-order", "2000"}},
			{"WXYZ1111\nWXYZ2222\nWXYZ3333\n", []string{"import", "welcome", "-"}},
			{"", []string{"campaign", "create", "paused", "--percent", "5"}},
			{"PAUS1111\n", []string{"import", "paused", "-"}},
			{"", []string{"campaign", "pause", "paused"}},
			{"", []string{"campaign", "create", "old", "--percent", "5", "--expires", "2020-01-31"}},
			{"EXPD1111\n", []string{"import", "old", "-"}},
			{"", []string{"campaign", "create", "future", "--percent", "5", "--starts", "2099-01-01"}},
			{"FUTR1111\n", []string{"import", "future", "-"}},
		}
		for _, s := range steps {
			var out, errOut bytes.Buffer
			args := append([]string{"promo", "--db", db}, s.args...)
			if code := Run(context.Background(), args, strings.NewReader(s.stdin), &out, &errOut); code != 0 {
				seedErr = fmt.Errorf("seeding: %v: exit %d: %s", s.args, code, errOut.String())
				return
			}
		}
	})
	return seedDir, seedErr
}

// seededDB returns the path of a fresh copy of the seeded database in a
// directory of its own, which also holds codes.txt and customers.csv.
func seededDB(t testing.TB) string {
	t.Helper()
	src, err := seed()
	require.NoError(t, err)
	dir := t.TempDir()
	for _, name := range []string{"promo.db", "promo.db.bloom"} {
		copyFile(t, filepath.Join(src, name), filepath.Join(dir, name))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "codes.txt"), []byte(codesFile), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "customers.csv"), []byte(customersFile), 0o600))
	return filepath.Join(dir, "promo.db")
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	require.NoError(t, err)
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
}

// requireClean opens the database at path and requires Check to find
// nothing.
func requireClean(t testing.TB, path string) {
	t.Helper()
	st, err := store.Open(path, store.Options{})
	require.NoError(t, err)
	defer st.Close()
	findings, err := st.Check(context.Background())
	require.NoError(t, err)
	require.Empty(t, findings)
}
