//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Helpers of the end-to-end tests: running the CLI (the binary again, on
// the env's database, through its socket while a server runs) and reading
// its --json answers.

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
