package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"promo/store"
)

func TestExitStatus(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, 0},
		{"not found", store.Errorf(store.ENotFound, "no such code"), 1},
		{"typo", store.Errorf(store.ETypo, "typo"), 1},
		{"expired", store.Errorf(store.EExpired, "expired"), 1},
		{"not started", store.Errorf(store.ENotStarted, "later"), 1},
		{"paused", store.Errorf(store.EPaused, "paused"), 1},
		{"already redeemed", store.Errorf(store.EAlreadyRedeemed, "used"), 1},
		{"customer limit", store.Errorf(store.ECustomerLimit, "one each"), 1},
		{"wrong customer", store.Errorf(store.EWrongCustomer, "not yours"), 1},
		{"min order", store.Errorf(store.EMinOrder, "too small"), 1},
		{"voided", store.Errorf(store.EVoided, "voided"), 1},
		{"conflict", store.Errorf(store.EConflict, "exists"), 1},
		{"capacity", store.Errorf(store.ECapacity, "too many"), 1},
		{"idempotency mismatch", store.Errorf(store.EIdempotencyMismatch, "other body"), 1},
		{"forbidden", store.Errorf(store.EForbidden, "no"), 1},
		{"a newer server's code", store.Errorf("brand_new", "refused"), 1},
		{"invalid request", store.Errorf(store.EInvalid, "bad"), 2},
		{"usage", usageErrorf("missing ID"), 2},
		{"bad input file", fileError("x.csv", os.ErrNotExist, true), 2},
		{"unavailable", store.Errorf(store.EUnavailable, "disk full"), 3},
		{"internal", &store.Error{Code: store.EInternal, Message: "read code", Err: errors.New("page 7 corrupt")}, 3},
		{"locked", fmt.Errorf("open x: %w", store.ErrLocked), 3},
		{"unreachable", unreachable("no socket", nil), 3},
		{"permission writing a file", fileError("out.csv", os.ErrPermission, false), 3},
		{"interrupted", context.Canceled, 3},
		{"interrupted inside the store", &store.Error{Code: store.EInternal, Message: "read", Err: context.Canceled}, 3},
		{"anything else", errors.New("boom"), 3},
		{"wrapped refusal", fmt.Errorf("redeem: %w", store.Errorf(store.EAlreadyRedeemed, "used")), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, exitStatus(tt.err))
		})
	}
}

// The code → exit status table covers the whole vocabulary and nothing
// else: a new code in store.Codes fails here until it has an exit status.
func TestStatusOf_CoversEveryCode(t *testing.T) {
	for _, code := range store.Codes {
		s, ok := statusOf[code]
		require.True(t, ok, "statusOf has no exit status for %q", code)
		require.Contains(t, []int{exitRefused, exitUsage, exitUnreachable}, s, code)
		require.Equal(t, s, exitStatus(store.Errorf(code, "x")), code)
	}
	require.Len(t, statusOf, len(store.Codes), "statusOf maps only codes of store.Codes")
}

func TestDescribeError_InternalCauseHidden(t *testing.T) {
	err := &store.Error{Code: store.EInternal, Message: "read code", Err: errors.New("page 7 corrupt")}
	code, msg := describeError(err)
	require.Equal(t, store.EInternal, code)
	require.Contains(t, msg, "internal error (could not read code)")
	require.Contains(t, msg, "promo check")
	require.NotContains(t, msg, "page 7")
}

func TestRun_Locked(t *testing.T) {
	t.Parallel()
	db := seededDB(t)
	st, err := store.Open(db, store.Options{})
	require.NoError(t, err)
	defer st.Close()
	start := time.Now()
	stdout, stderr, code := run(t, "--db", db, "campaign", "list")
	require.Equal(t, 3, code)
	require.Empty(t, stdout)
	require.Contains(t, stderr, "is in use by another promo process and it has no admin socket")
	require.Less(t, time.Since(start), 5*time.Second)

	_, stderr, code = run(t, "--db", db, "serve", "--addr", "127.0.0.1:0")
	require.Equal(t, 3, code)
	require.Contains(t, stderr, "is in use by another promo process (is `promo serve` already running on it?)")
}

func TestRun_LockedStaleSocket(t *testing.T) {
	t.Parallel()
	db := seededDB(t)
	require.NoError(t, os.WriteFile(db+".sock", nil, 0o600)) // not a socket: nothing answers
	st, err := store.Open(db, store.Options{})
	require.NoError(t, err)
	defer st.Close()
	_, stderr, code := run(t, "--db", db, "--json", "check")
	require.Equal(t, 3, code)
	require.Contains(t, stderr, `{"error":{"code":"unavailable","message":"`)
	require.Contains(t, stderr, "its admin socket "+db+".sock does not answer")
}

func TestRun_StaleSocketFallsBackToTheFile(t *testing.T) {
	t.Parallel()
	db := seededDB(t)
	require.NoError(t, os.WriteFile(db+".sock", nil, 0o600))
	require.Contains(t, mustRun(t, "--db", db, "campaign", "list"), "welcome")
}

// TestRun_Process checks the exit statuses of the real process: the test
// binary re-run as promo.
func TestRun_Process(t *testing.T) {
	t.Parallel()
	db := seededDB(t)
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"Done", []string{"--db", db, "validate", "ABCD2345"}, 0, ""},
		{"Refused", []string{"--db", db, "redeem", "NOSUCH99"}, 1, "promo: no such code"},
		{"Usage", []string{"--db", db, "redeem"}, 2, "promo: missing CODE"},
		{"Unreachable", []string{"--db", filepath.Join(t.TempDir(), "none.db"), "stats"}, 3, "promo: no database at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], tt.args...)
			cmd.Env = append(os.Environ(), runAsPromo+"=1")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tt.wantCode, code, "stderr: %s", stderr.String())
			require.Contains(t, stderr.String(), tt.wantStderr)
		})
	}
}

func TestRun_PROMODB(t *testing.T) {
	db := seededDB(t)
	t.Setenv("PROMO_DB", db)
	stdout, stderr, code := run(t, "campaign", "list")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "welcome")
}

func TestRun_Interrupted(t *testing.T) {
	t.Parallel()
	db := seededDB(t)
	out := filepath.Join(filepath.Dir(db), "codes.csv")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, stderr, code := runIn(t, ctx, "", "--db", db, "export", "gen", "--out", out)
	require.Equal(t, 3, code)
	require.Contains(t, stderr, "promo: interrupted before the command finished")
	require.NoFileExists(t, out, "an interrupted export leaves no file")
	requireClean(t, db)
}
