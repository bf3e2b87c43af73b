package main

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBinary_RawFdatasyncUnlessGOMAXPROCSIsSet: promo serve makes the
// log's fdatasync a raw system call when it adds its spare Go processor,
// that is unless GOMAXPROCS is set, and /metrics tells which calls it made.
// Not parallel: it sets GOMAXPROCS for the servers it starts.
func TestBinary_RawFdatasyncUnlessGOMAXPROCSIsSet(t *testing.T) {
	for _, procs := range []string{"", "2"} {
		t.Setenv("GOMAXPROCS", procs)
		e := startEnv(t)
		e.mustCLI("campaign", "create", "raw", "--kind", "generic", "--percent", "10")
		e.mustCLI("generate", "raw", "--count", "3")
		till := e.key("till-"+procs, "pos")
		for _, c := range e.codes("raw") {
			e.srv.mustRedeem(t, till, redeemReq{Code: c.Code})
		}
		m := scrape(t, e.srv)
		syncs, raw := m["promo_log_syncs_total"], m["promo_log_raw_syncs_total"]
		require.GreaterOrEqual(t, syncs, 3.0, "one fdatasync at least per redemption, one at a time")
		if procs != "" {
			require.Zero(t, raw, "GOMAXPROCS=%s: no spare processor, no raw call", procs)
		} else if raw < syncs {
			// A call over the limit (a slow disk under a busy test run) turns
			// raw calls off for ten minutes, and the log says so.
			require.Positive(t, raw)
			require.Contains(t, e.srv.logText(), "makes ordinary calls until")
		} else {
			require.Equal(t, syncs, raw, "every fdatasync a raw call")
		}
		e.srv.stop(t)
	}
}

// scrape returns the server's unlabelled metrics by name.
func scrape(t *testing.T, srv *server) map[string]float64 {
	t.Helper()
	r := srv.do(t, "GET", "/metrics", "", nil)
	require.Equal(t, 200, r.status, "%s", r)
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(r.body))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		require.NoError(t, err, "metric line %q", sc.Text())
		out[name] = v
	}
	return out
}
