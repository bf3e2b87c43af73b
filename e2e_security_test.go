//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBinary_OneKeyNeverLocksOutAnother: till A floods wrong guesses from
// 127.0.0.1; till B, with its own key at the same address, redeems all 25
// of its codes meanwhile. Rotating X-Forwarded-For through a trusted
// proxy gives A no fresh bucket. The server's log names routes, never a
// code, and takes the client's address from a trusted proxy only.
//
// At the time of writing this failed: an empty per-address bucket refused
// every key at that address (0 of B's 25 redemptions succeeded).
func TestBinary_OneKeyNeverLocksOutAnother(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustCLI("campaign", "create", "g", "--kind", "generic", "--percent", "10")
	e.mustCLI("generate", "g", "--count", "25")
	tillA, tillB := e.key("till-a", "pos"), e.key("till-b", "pos")
	codes := e.codes("g")
	srv := e.start("--trusted-proxy", "127.0.0.1", "--trusted-proxy", "10.0.0.0/8")

	limited := 0
	for i := range 60 {
		r := srv.do(t, "POST", "/v1/validate", tillA, redeemReq{Code: fmt.Sprintf("GUESS%05d", i)},
			"X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
		if r.status == http.StatusTooManyRequests {
			limited++
		}
	}
	// 20 once the burst of 40 is spent, less one for every 3 s the loop took.
	require.GreaterOrEqual(t, limited, 15, "after its burst, till A is slowed whatever its X-Forwarded-For")
	for _, c := range codes {
		r := srv.do(t, "POST", "/v1/redeem", tillA, redeemReq{Code: "NOPE-" + c.Code[:4]})
		require.Equal(t, http.StatusTooManyRequests, r.status, "%s", r)
		srv.mustRedeem(t, tillB, redeemReq{Code: c.Code, Terminal: "till-b"})
	}
	srv.stop(t)

	logs := srv.logText()
	for _, c := range codes[:5] {
		require.NotContains(t, logs, c.Code)
		require.NotContains(t, logs, strings.ReplaceAll(c.Code, "-", ""))
	}
	require.NotContains(t, logs, "GUESS00001")
	require.Contains(t, logs, `route="POST /v1/redeem"`)
	require.Contains(t, logs, "remote=198.51.100.59", "a trusted proxy's X-Forwarded-For names the client")
	require.NotContains(t, logs, tillA)
}

// TestBinary_TextFieldsAndSpreadsheets: text that would steer a terminal
// or a spreadsheet is refused or neutralised, naming the flag.
func TestBinary_TextFieldsAndSpreadsheets(t *testing.T) {
	t.Parallel()
	e := startEnv(t)
	res := e.cli("campaign", "create", "x", "--name", "Sale\x1b[2J\x1b[31mFREE", "--percent", "10")
	require.Equal(t, 2, res.code, "%s", res)
	require.Contains(t, res.stderr, "--name: must not contain control characters")
	require.NotContains(t, res.stderr, "\x1b")
	e.mustCLI("campaign", "create", "w", "--name", "Welcome", "--kind", "generic", "--percent", "10")
	res = e.cli("assign", "w", "--customer", "ann\u202egnp.exe")
	require.Equal(t, 2, res.code, "%s", res)
	require.Contains(t, res.stderr, "--customer: must not contain control characters, line separators or bidirectional controls; found U+202E")

	e.mustCLI("assign", "w", "--customer", `=HYPERLINK("http://evil.example","Click")`)
	e.mustCLI("assign", "w", "--customer", "-42")
	out := e.mustCLI("export", "w")
	require.Contains(t, out, `"'=HYPERLINK(""http://evil.example"",""Click"")"`)
	require.Contains(t, out, ",'-42,")
	var rows []codeJSON
	for _, l := range lines(e.mustCLI("--json", "export", "w")) {
		var c codeJSON
		require.NoError(t, json.Unmarshal([]byte(l), &c))
		rows = append(rows, c)
	}
	require.Equal(t, "-42", rows[1].CustomerID, "JSON exports are never changed")
}
