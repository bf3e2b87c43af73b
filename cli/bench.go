package cli

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	urfave "github.com/urfave/cli/v2"

	"promo/cli/bench"
)

// benchCommand is `promo bench`: the load generator of package cli/bench
// (see its doc for the workloads), with its flags. This file only reads
// and checks the flags and gives the package's errors their exit statuses.
func (e *env) benchCommand() *urfave.Command {
	return &urfave.Command{
		Name:      "bench",
		Usage:     "measure promo serve on the peers' workloads (bulk generation, invalid guesses, durable redemptions)",
		UsageText: "promo bench [--workloads W1,W1-cli,W2,W2-floor,W3,W3-idem,W3-race,flood] [--runs 3] [--n 1000000] [--clients 16] [--k 10000] [--t 10s]",
		Description: describe("Starts a fresh `promo serve` of this binary on a temporary database for every W1 run\n"+
			"(the peers start from an empty store too), runs W2 and W3 on the last one, and prints\n"+
			"one tab-separated line per figure: RESULT appliance WORKLOAD VALUE UNIT NOTE (the median\n"+
			"of --runs). Durable means fsync before the answer, as in the peers' rules. The failed-lookup\n"+
			"limit is off on the benchmark server: W2 is, on purpose, a flood of guesses.",
			"promo bench --runs 1 --n 200000 --k 2000 --t 3s",
			"promo bench --clients 64 --k 2500 --workloads W3"),
		Flags: []urfave.Flag{
			&urfave.StringFlag{Name: "workloads", Value: "W1,W1-cli,W2,W2-floor,W3,W3-idem,W3-race,flood", Usage: "comma-separated `LIST`"},
			&urfave.IntFlag{Name: "runs", Value: 3, Usage: "runs per figure; the median is printed"},
			&urfave.IntFlag{Name: "n", Value: 1_000_000, Usage: "W1: codes per campaign"},
			&urfave.IntFlag{Name: "clients", Value: 16, Usage: "W2, W3: concurrent clients, one keep-alive connection each"},
			&urfave.IntFlag{Name: "k", Value: 10_000, Usage: "W3: codes each client redeems per run"},
			&urfave.DurationFlag{Name: "t", Value: 10 * time.Second, Usage: "W2: duration of a run"},
			&urfave.StringFlag{Name: "dir", Usage: "where the benchmark databases go (default: a temporary directory, removed afterwards)"},
			&urfave.StringFlag{Name: "serve-floor", Hidden: true, Usage: "internal: serve W2-floor's bare handler on `ADDR`"},
			&urfave.StringFlag{Name: "floor-answer", Hidden: true, Usage: "internal: the `FILE` W2-floor answers"},
		},
		Action: e.bench,
	}
}

func (e *env) bench(c *urfave.Context) error {
	if _, err := needArgs(c); err != nil {
		return err
	}
	if addr := c.String("serve-floor"); addr != "" {
		answer, err := os.ReadFile(c.String("floor-answer"))
		if err != nil {
			return usageErrorf("--floor-answer: %v", err)
		}
		tuneProcs() // the scheduler promo serve runs with
		return benchError(bench.ServeFloor(c.Context, addr, answer, e.stderr))
	}
	cfg := bench.Config{Runs: c.Int("runs"), N: c.Int("n"), Clients: c.Int("clients"), K: c.Int("k"), T: c.Duration("t"),
		Out: e.stdout, Log: func(format string, args ...any) { fmt.Fprintf(e.stderr, "# "+format+"\n", args...) }}
	switch {
	case cfg.Runs < 1 || cfg.N < 1000 || cfg.Clients < 1 || cfg.K < 1 || cfg.T <= 0:
		return usageErrorf("--runs, --clients and --k want 1 or more, --n 1000 or more and --t a positive duration")
	}
	for _, w := range strings.Split(c.String("workloads"), ",") {
		w = strings.TrimSpace(w)
		if !slices.Contains(bench.Workloads, w) {
			return usageErrorf("--workloads: unknown workload %q; want W1, W1-cli, W2, W2-floor, W3, W3-idem, W3-race or flood", w)
		}
		cfg.Workloads = append(cfg.Workloads, w)
	}
	// W3 redeems W1's codes, runs×clients×k of them, and W3-race the last
	// few; the other workloads need none.
	if slices.Contains(cfg.Workloads, "W3") {
		need := cfg.Runs * cfg.Clients * cfg.K
		what := fmt.Sprintf("runs×clients×k = %d codes", need)
		if slices.Contains(cfg.Workloads, "W3-race") {
			need += bench.RaceCodes
			what += fmt.Sprintf(" and W3-race %d more", bench.RaceCodes)
		}
		if need > cfg.N {
			return usageErrorf("W3 needs %s but W1 makes only --n %d; lower --k or raise --n", what, cfg.N)
		}
	}
	cfg.Dir = c.String("dir")
	return benchError(bench.Run(c.Context, cfg))
}

// benchError gives the load generator's errors their exit statuses: a
// benchmark that could not be set up is 3, as the database or server not
// reached; a server's refusal keeps its code's status; anything else (a
// workload's unexpected answer) is 3 as an internal error.
func benchError(err error) error {
	var be *bench.Error
	if errors.As(err, &be) {
		return unreachable(be.Message, be.Err)
	}
	return err
}
