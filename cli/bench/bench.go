// Package bench is promo's load generator: it runs the workloads of
// ../shared/peers/README.md against real `promo serve` processes over
// HTTP, closed-loop, and prints the peers' RESULT lines, so promo can be
// measured beside PostgreSQL and Redis:
//
//	W1       create one campaign of N codes (server-side generation), durable
//	W1-cli   the same through `promo generate` (the CLI over the socket)
//	W2       invalid-guess lookups: random well-formed codes, each not found
//	W2-floor W2's load against a bare net/http handler answering W2's bytes:
//	         the ceiling of any HTTP server on this machine
//	W3       durable redemptions of distinct codes, K per client
//	W3-idem  the same with assigned codes, each redeemed by its customer
//	         with an Idempotency-Key, as tills do
//	W3-race  every client walks the same 100 codes: one winner each
//	flood    honest tills' latency while another client floods guesses
//
// It runs the promo binary it is given (Config.Self): `promo serve` for
// the servers, `promo generate` for W1-cli, and the hidden `promo bench
// --serve-floor ADDR --floor-answer FILE` for W2-floor's bare handler
// (ServeFloor). `promo bench` (cli/bench.go) is its command line.
package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"promo/store"
)

// Workloads are the workloads Run knows, in the order it runs them.
var Workloads = []string{"W1", "W1-cli", "W2", "W2-floor", "W3", "W3-idem", "W3-race", "flood"}

// RaceCodes are the codes W3-race shares among all clients: W1 makes them
// besides the Runs×Clients×K codes W3 redeems.
const RaceCodes = 100

// Config is one benchmark run. Runs, Clients and K are 1 or more, N at
// least Runs×Clients×K + RaceCodes, and T positive; the command line checks
// them (they are its flags).
type Config struct {
	Runs    int           // runs per figure; the median is printed
	N       int           // W1: codes per campaign
	Clients int           // W2, W3: concurrent clients, one keep-alive connection each
	K       int           // W3: codes each client redeems per run
	T       time.Duration // W2: duration of a run
	// Workloads are the names of Workloads to run; W1 always runs (W2 and
	// W3 use its database), others not named are skipped.
	Workloads []string
	// Dir holds the benchmark databases; "" means a temporary directory,
	// removed afterwards.
	Dir string
	// Self is the promo binary to serve and run; "" means this one.
	Self string
	Out  io.Writer                        // the RESULT lines
	Log  func(format string, args ...any) // progress, one line a call
}

// Run runs the benchmark cfg describes and prints one tab-separated line
// per figure on cfg.Out: RESULT appliance WORKLOAD VALUE UNIT NOTE. An
// *Error means the benchmark could not be set up (a directory, a process,
// a listener); a *store.Error comes from a server's answer; any other
// error is a workload that got an answer it did not expect.
func Run(ctx context.Context, cfg Config) error {
	want := map[string]bool{}
	for _, w := range cfg.Workloads {
		want[w] = true
	}
	if cfg.Log == nil {
		cfg.Log = func(string, ...any) {}
	}
	if cfg.Dir == "" {
		dir, err := os.MkdirTemp("", "promo-bench-")
		if err != nil {
			return setupError("make a temporary directory: "+err.Error(), err)
		}
		defer os.RemoveAll(dir)
		cfg.Dir = dir
	}
	self := cfg.Self
	if self == "" {
		var err error
		if self, err = os.Executable(); err != nil {
			return setupError("find this binary: "+err.Error(), err)
		}
	}
	return runBench(ctx, self, cfg, want)
}

func runBench(ctx context.Context, self string, cfg Config, want map[string]bool) error {
	var srv *benchServer
	defer func() {
		if srv != nil {
			srv.stop()
		}
	}()
	cfg.Log("machine: %d cores; %d runs; N=%d, %d clients, W2 %s, W3 %d codes per client", runtime.NumCPU(), cfg.Runs, cfg.N, cfg.Clients, cfg.T, cfg.K)
	// W1 (and the database W2 and W3 use): a fresh server per run.
	var w1, w1secs []float64
	var codes []string
	for r := 1; r <= cfg.Runs; r++ {
		if srv != nil {
			srv.stop()
		}
		var err error
		if srv, err = startBenchServer(ctx, self, filepath.Join(cfg.Dir, fmt.Sprintf("w1-%d", r))); err != nil {
			return err
		}
		secs, list, err := srv.w1(ctx, cfg.N)
		if err != nil {
			return err
		}
		codes = list
		w1, w1secs = append(w1, float64(cfg.N)/secs), append(w1secs, secs)
		cfg.Log("W1 run %d: %.3f s, %.0f codes/s", r, secs, float64(cfg.N)/secs)
	}
	if want["W1"] {
		result(cfg.Out, "W1", fmt.Sprintf("%.0f", median(w1)), "codes/s", fmt.Sprintf("POST /v1/campaigns/ID/generate of %d codes, fsync'd; runs (s): %s", cfg.N, floats(w1secs, "%.3f")))
		if ov, err := srv.admin.Stats(); err == nil && ov.Storage.Codes > 0 {
			result(cfg.Out, "disk", fmt.Sprintf("%.1f", float64(ov.Storage.UsedBytes)/float64(ov.Storage.Codes)), "bytes/code",
				fmt.Sprintf("pages in use after W1 (codes, the campaign's index, the filter's file not counted): %d B for %d codes; file %d B; filter file %d B",
					ov.Storage.UsedBytes, ov.Storage.Codes, ov.Storage.FileBytes, fileSize(store.FilterPath(srv.db))))
		}
	}
	if want["W1-cli"] {
		var rates, secs []float64
		for r := 1; r <= cfg.Runs; r++ {
			s, err := startBenchServer(ctx, self, filepath.Join(cfg.Dir, fmt.Sprintf("w1cli-%d", r)))
			if err != nil {
				return err
			}
			took, err := s.w1cli(ctx, self, cfg.N)
			s.stop()
			if err != nil {
				return err
			}
			rates, secs = append(rates, float64(cfg.N)/took), append(secs, took)
			cfg.Log("W1-cli run %d: %.3f s", r, took)
		}
		result(cfg.Out, "W1-cli", fmt.Sprintf("%.0f", median(rates)), "codes/s", fmt.Sprintf("`promo generate --count %d` through the socket; runs (s): %s", cfg.N, floats(secs, "%.3f")))
	}
	if want["W2"] || want["W2-floor"] {
		if err := benchW2(ctx, self, cfg, srv, want); err != nil {
			return err
		}
	}
	if want["W3"] {
		rates, per, lat, err := srv.w3Runs(ctx, cfg, codes, false)
		if err != nil {
			return err
		}
		result(cfg.Out, "W3", fmt.Sprintf("%.0f", median(rates)), "redemptions/s", fmt.Sprintf("POST /v1/redeem, %d clients × %d distinct codes, fsync'd before 201 (group commit); runs: %s; %s; %s redemptions per fdatasync",
			cfg.Clients, cfg.K, floats(rates, "%.0f"), lat.summary(), floats(per, "%.1f")))
	}
	if want["W3-idem"] {
		if err := benchW3Idem(ctx, self, cfg); err != nil {
			return err
		}
	}
	if want["flood"] {
		if err := benchFlood(ctx, self, cfg); err != nil {
			return err
		}
	}
	if want["W3-race"] {
		verdict, note, err := srv.race(ctx, codes[len(codes)-RaceCodes:], cfg.Clients)
		if err != nil {
			return err
		}
		result(cfg.Out, "W3-race", verdict, "", note)
	}
	return nil
}

func result(w io.Writer, workload, value, unit, note string) {
	fmt.Fprintf(w, "RESULT\tappliance\t%s\t%s\t%s\t%s\n", workload, value, unit, note)
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	sort.Float64s(s)
	return s[(len(s)-1)/2]
}

func floats(v []float64, format string) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf(format, x)
	}
	return strings.Join(parts, ", ")
}

// latencies are request durations; summary gives p50 and p99.
type latencies []time.Duration

func (l latencies) summary() string {
	if len(l) == 0 {
		return "no latencies"
	}
	s := slices.Clone(l)
	slices.Sort(s)
	pct := func(p float64) float64 { return float64(s[int(p*float64(len(s)-1))].Microseconds()) / 1000 }
	return fmt.Sprintf("p50 %.2f ms, p99 %.2f ms", pct(0.5), pct(0.99))
}
