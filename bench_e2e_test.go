package main

// promo bench, the load generator, run at tiny sizes against fresh
// servers of the built binary: it prints its RESULT lines and refuses an
// unknown workload.

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// promo bench runs the peers' workloads against fresh servers of the built
// binary and prints one RESULT line per figure; W3-race must PASS. Tiny
// sizes: this checks the tool, not the speed. A second run on the same
// --dir (as make bench-peers does) starts as fresh as the first.
func TestBinary_BenchPrintsResults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bench := func() []byte {
		cmd := exec.Command(promoBin, "bench", "--runs", "1", "--n", "3000", "--clients", "4", "--k", "200",
			"--t", "300ms", "--workloads", "W1,W1-cli,W2,W3,W3-race", "--dir", dir)
		out, err := cmd.Output()
		require.NoError(t, err, "%s", out)
		return out
	}
	bench()
	out := bench() // again on the same --dir: each run starts on fresh databases
	got := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		require.GreaterOrEqual(t, len(f), 5, line)
		require.Equal(t, "RESULT", f[0])
		require.Equal(t, "appliance", f[1])
		got[f[2]] = f
	}
	for _, w := range []string{"W1", "disk", "W1-cli", "W2", "W3"} {
		require.Contains(t, got, w)
		require.NotEqual(t, "0", got[w][3], "%s measured nothing", w)
	}
	require.Equal(t, "PASS", got["W3-race"][3], got["W3-race"])

	bad, err := exec.Command(promoBin, "bench", "--workloads", "W9").CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(bad), "unknown workload")

	// Only W3 and W3-race redeem W1's codes: W2 alone takes any --k.
	few, err := exec.Command(promoBin, "bench", "--workloads", "W3", "--n", "1000", "--k", "100", "--clients", "16", "--runs", "1").CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(few), "W3 needs runs×clients×k = 1600 codes but W1 makes only --n 1000")
	raced, err := exec.Command(promoBin, "bench", "--workloads", "W3,W3-race", "--n", "1000", "--k", "60", "--clients", "16", "--runs", "1").CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(raced), "W3 needs runs×clients×k = 960 codes and W3-race 100 more but W1 makes only --n 1000")
	w2, err := exec.Command(promoBin, "bench", "--workloads", "W2", "--n", "1000", "--k", "100", "--clients", "2", "--runs", "1", "--t", "200ms").CombinedOutput()
	require.NoError(t, err, "%s", w2)
	require.Contains(t, string(w2), "RESULT\tappliance\tW2\t")
}
