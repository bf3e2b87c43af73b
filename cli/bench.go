package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	urfave "github.com/urfave/cli/v2"

	"promo/gen"
	"promo/httpapi"
	"promo/store"
)

// The bench command runs the workloads of ../shared/peers/README.md against
// a real `promo serve` over HTTP, closed-loop, and prints the peers' RESULT
// lines, so promo can be measured beside PostgreSQL and Redis:
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

type benchConfig struct {
	runs, n, clients, k int
	t                   time.Duration
	dir                 string
	out                 io.Writer
	log                 func(format string, args ...any)
}

func (e *env) bench(c *urfave.Context) error {
	if _, err := needArgs(c); err != nil {
		return err
	}
	if addr := c.String("serve-floor"); addr != "" {
		return serveFloor(c.Context, addr, c.String("floor-answer"), e.stderr)
	}
	cfg := benchConfig{runs: c.Int("runs"), n: c.Int("n"), clients: c.Int("clients"), k: c.Int("k"), t: c.Duration("t"),
		out: e.stdout, log: func(format string, args ...any) { fmt.Fprintf(e.stderr, "# "+format+"\n", args...) }}
	switch {
	case cfg.runs < 1 || cfg.n < 1000 || cfg.clients < 1 || cfg.k < 1 || cfg.t <= 0:
		return usageErrorf("--runs, --clients and --k want 1 or more, --n 1000 or more and --t a positive duration")
	case cfg.runs*cfg.clients*cfg.k+benchRaceCodes > cfg.n:
		return usageErrorf("W3 needs runs×clients×k + %d = %d codes but W1 makes only --n %d; lower --k or raise --n",
			benchRaceCodes, cfg.runs*cfg.clients*cfg.k+benchRaceCodes, cfg.n)
	}
	want := map[string]bool{}
	for _, w := range strings.Split(c.String("workloads"), ",") {
		switch w = strings.TrimSpace(w); w {
		case "W1", "W1-cli", "W2", "W2-floor", "W3", "W3-idem", "W3-race", "flood":
			want[w] = true
		default:
			return usageErrorf("--workloads: unknown workload %q; want W1, W1-cli, W2, W2-floor, W3, W3-idem, W3-race or flood", w)
		}
	}
	cfg.dir = c.String("dir")
	if cfg.dir == "" {
		dir, err := os.MkdirTemp("", "promo-bench-")
		if err != nil {
			return unreachable("make a temporary directory: "+err.Error(), err)
		}
		defer os.RemoveAll(dir)
		cfg.dir = dir
	}
	self, err := os.Executable()
	if err != nil {
		return unreachable("find this binary: "+err.Error(), err)
	}
	return runBench(c.Context, self, cfg, want)
}

// benchRaceCodes are the codes W3-race shares among all clients.
const benchRaceCodes = 100

func runBench(ctx context.Context, self string, cfg benchConfig, want map[string]bool) error {
	var srv *benchServer
	defer func() {
		if srv != nil {
			srv.stop()
		}
	}()
	cfg.log("machine: %d cores; %d runs; N=%d, %d clients, W2 %s, W3 %d codes per client", runtime.NumCPU(), cfg.runs, cfg.n, cfg.clients, cfg.t, cfg.k)
	// W1 (and the database W2 and W3 use): a fresh server per run.
	var w1, w1secs []float64
	var codes []string
	for r := 1; r <= cfg.runs; r++ {
		if srv != nil {
			srv.stop()
		}
		var err error
		if srv, err = startBenchServer(ctx, self, filepath.Join(cfg.dir, fmt.Sprintf("w1-%d", r))); err != nil {
			return err
		}
		secs, list, err := srv.w1(ctx, cfg.n)
		if err != nil {
			return err
		}
		codes = list
		w1, w1secs = append(w1, float64(cfg.n)/secs), append(w1secs, secs)
		cfg.log("W1 run %d: %.3f s, %.0f codes/s", r, secs, float64(cfg.n)/secs)
	}
	if want["W1"] {
		result(cfg.out, "W1", fmt.Sprintf("%.0f", median(w1)), "codes/s", fmt.Sprintf("POST /v1/campaigns/ID/generate of %d codes, fsync'd; runs (s): %s", cfg.n, floats(w1secs, "%.3f")))
		if ov, err := srv.admin.Stats(); err == nil && ov.Storage.Codes > 0 {
			result(cfg.out, "disk", fmt.Sprintf("%.1f", float64(ov.Storage.UsedBytes)/float64(ov.Storage.Codes)), "bytes/code",
				fmt.Sprintf("pages in use after W1 (codes, the campaign's index, the filter's file not counted): %d B for %d codes; file %d B; filter file %d B",
					ov.Storage.UsedBytes, ov.Storage.Codes, ov.Storage.FileBytes, fileSize(store.FilterPath(srv.db))))
		}
	}
	if want["W1-cli"] {
		var rates, secs []float64
		for r := 1; r <= cfg.runs; r++ {
			s, err := startBenchServer(ctx, self, filepath.Join(cfg.dir, fmt.Sprintf("w1cli-%d", r)))
			if err != nil {
				return err
			}
			took, err := s.w1cli(ctx, self, cfg.n)
			s.stop()
			if err != nil {
				return err
			}
			rates, secs = append(rates, float64(cfg.n)/took), append(secs, took)
			cfg.log("W1-cli run %d: %.3f s", r, took)
		}
		result(cfg.out, "W1-cli", fmt.Sprintf("%.0f", median(rates)), "codes/s", fmt.Sprintf("`promo generate --count %d` through the socket; runs (s): %s", cfg.n, floats(secs, "%.3f")))
	}
	if want["W2"] || want["W2-floor"] {
		if err := benchW2(ctx, self, cfg, srv, want); err != nil {
			return err
		}
	}
	if want["W3"] {
		var rates []float64
		var lat latencies
		var per []float64
		for r := 1; r <= cfg.runs; r++ {
			from := (r - 1) * cfg.clients * cfg.k
			before := srv.logCounters()
			secs, l, err := srv.w3(ctx, codes[from:from+cfg.clients*cfg.k], cfg.clients, cfg.k, false)
			if err != nil {
				return err
			}
			per = append(per, srv.logCounters().perSync(before, cfg.clients*cfg.k))
			rates = append(rates, float64(cfg.clients*cfg.k)/secs)
			lat = append(lat, l...)
			cfg.log("W3 run %d: %d redemptions in %.2f s", r, cfg.clients*cfg.k, secs)
		}
		result(cfg.out, "W3", fmt.Sprintf("%.0f", median(rates)), "redemptions/s", fmt.Sprintf("POST /v1/redeem, %d clients × %d distinct codes, fsync'd before 201 (group commit); runs: %s; %s; %s redemptions per fdatasync",
			cfg.clients, cfg.k, floats(rates, "%.0f"), lat.summary(), floats(per, "%.1f")))
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
		verdict, note, err := srv.race(ctx, codes[len(codes)-benchRaceCodes:], cfg.clients)
		if err != nil {
			return err
		}
		result(cfg.out, "W3-race", verdict, "", note)
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

// benchServer is a `promo serve` subprocess on a fresh database, with an
// admin client over its socket and keys for HTTP.
type benchServer struct {
	cmd      *exec.Cmd
	db, base string
	admin    *httpapi.Client
	adminKey string
	posKey   string
	exited   chan error
}

var servingLine = regexp.MustCompile(`promo: serving (http://\S+)`)

func startBenchServer(ctx context.Context, self, dir string, serveArgs ...string) (*benchServer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, unreachable("make "+dir+": "+err.Error(), err)
	}
	s := &benchServer{db: filepath.Join(dir, "promo.db"), exited: make(chan error, 1)}
	logPath := filepath.Join(dir, "serve.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, unreachable("create "+logPath+": "+err.Error(), err)
	}
	defer logFile.Close()
	args := append([]string{"--db", s.db, "serve", "--addr", "127.0.0.1:0"}, serveArgs...)
	if len(serveArgs) == 0 {
		args = append(args, "--guess-rate", "0") // W2 is a flood of guesses on purpose
	}
	s.cmd = exec.CommandContext(ctx, self, args...)
	s.cmd.Stderr = logFile // the server's log stays beside its database
	if err := s.cmd.Start(); err != nil {
		return nil, unreachable("start promo serve: "+err.Error(), err)
	}
	go func() { s.exited <- s.cmd.Wait() }()
	for deadline := time.Now().Add(30 * time.Second); s.base == ""; time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(logPath)
		if m := servingLine.FindSubmatch(b); m != nil {
			s.base = string(m[1])
			break
		}
		select {
		case err := <-s.exited:
			return nil, unreachable(fmt.Sprintf("promo serve exited: %v: %s", err, b), err)
		default:
		}
		if time.Now().After(deadline) {
			s.cmd.Process.Kill()
			return nil, unreachable("promo serve did not start within 30 s: "+string(b), nil)
		}
	}
	if s.admin, err = httpapi.Dial(s.db + ".sock"); err != nil {
		s.stop()
		return nil, err
	}
	if _, s.adminKey, err = s.admin.CreateKey(ctx, "bench-admin", store.RoleAdmin); err != nil {
		s.stop()
		return nil, err
	}
	if _, s.posKey, err = s.admin.CreateKey(ctx, "bench-pos", store.RolePOS); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

func (s *benchServer) stop() {
	if s.admin != nil {
		s.admin.Close()
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(60 * time.Second):
		s.cmd.Process.Kill()
	}
}

// post sends one JSON request on client and returns the status and body.
func (s *benchServer) post(ctx context.Context, client *http.Client, key, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", s.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, b, err
}

// oneConn is an HTTP client with exactly one keep-alive connection.
func oneConn() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, DisableCompression: true}}
}

var codePattern = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{12}$`)

// w1 generates n codes in one request and returns the seconds from sending
// it to the answer (the codes are durable then), after checking that the
// store holds exactly n distinct well-formed codes.
func (s *benchServer) w1(ctx context.Context, n int) (float64, []string, error) {
	if _, err := s.admin.CreateCampaign(ctx, store.CampaignSpec{ID: "w1", Benefit: &store.Benefit{Type: store.BenefitPercent, Value: 10}}); err != nil {
		return 0, nil, err
	}
	client := oneConn()
	body, _ := json.Marshal(map[string]int{"count": n})
	start := time.Now()
	status, b, err := s.post(ctx, client, s.adminKey, "/v1/campaigns/w1/generate", body)
	secs := time.Since(start).Seconds()
	if err != nil || status != http.StatusCreated {
		return 0, nil, fmt.Errorf("W1: generate answered %d %s: %v", status, b, err)
	}
	codes, err := s.checkCodes(n)
	return secs, codes, err
}

// checkCodes exports campaign w1 and checks it holds exactly n distinct
// codes of the peers' regex.
func (s *benchServer) checkCodes(n int) ([]string, error) {
	codes := make([]string, 0, n)
	seen := make(map[string]struct{}, n)
	err := s.admin.EachCode("w1", "", func(c store.Code) error {
		k := strings.ReplaceAll(c.Code, "-", "")
		if !codePattern.MatchString(k) {
			return fmt.Errorf("W1: %q does not match the peers' code pattern", c.Code)
		}
		if _, dup := seen[k]; dup {
			return fmt.Errorf("W1: %s twice", c.Code)
		}
		seen[k] = struct{}{}
		codes = append(codes, c.Code)
		return nil
	})
	if err == nil && len(codes) != n {
		err = fmt.Errorf("W1: the store holds %d codes, want %d", len(codes), n)
	}
	return codes, err
}

// w1cli generates n codes with `promo generate` through the socket.
func (s *benchServer) w1cli(ctx context.Context, self string, n int) (float64, error) {
	if _, err := s.admin.CreateCampaign(ctx, store.CampaignSpec{ID: "w1", Benefit: &store.Benefit{Type: store.BenefitPercent, Value: 10}}); err != nil {
		return 0, err
	}
	start := time.Now()
	out, err := exec.CommandContext(ctx, self, "--db", s.db, "generate", "w1", "--count", fmt.Sprint(n)).CombinedOutput()
	secs := time.Since(start).Seconds()
	if err != nil {
		return 0, fmt.Errorf("W1-cli: promo generate: %v: %s", err, out)
	}
	_, err = s.checkCodes(n)
	return secs, err
}

// w2 runs clients closed-loop validating random well-formed codes for d;
// every answer must be not_found.
func (s *benchServer) w2(ctx context.Context, clients int, d time.Duration) (int64, float64, error) {
	var done atomic.Int64
	var firstErr error
	var once sync.Once
	fail := func(err error) { once.Do(func() { firstErr = err }) }
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	start := time.Now()
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := dialRaw(s.base)
			if err != nil {
				fail(err)
				return
			}
			defer conn.Close()
			g, _ := gen.NewGenerator(gen.DefaultFormat(), nil)
			body := make([]byte, 0, 32)
			for n := 0; firstErr == nil; n++ {
				if n%64 == 0 && !time.Now().Before(deadline) {
					return
				}
				body = append(body[:0], `{"code":"`...)
				body, _ = g.AppendKey(body, 0, 0)
				body = append(body, `"}`...)
				status, b, err := conn.post("/v1/validate", s.posKey, body)
				if err != nil || status != http.StatusOK || !bytes.Contains(b, []byte(`"reason":"not_found"`)) {
					fail(fmt.Errorf("W2: %s answered %d %s: %v", body, status, b, err))
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	return done.Load(), time.Since(start).Seconds(), firstErr
}

// w3 gives each client its own k codes and redeems them one at a time,
// each answered 201; then the campaign must count exactly that many more
// redemptions. With idem, each code's customer redeems it ("cust-CODE",
// see benchW3Idem) under an Idempotency-Key of its own. It returns the
// seconds and every redemption's latency.
func (s *benchServer) w3(ctx context.Context, codes []string, clients, k int, idem bool) (float64, latencies, error) {
	campaign := "w1"
	if idem {
		campaign = "w3idem"
	}
	before, err := s.admin.Campaign(campaign)
	if err != nil {
		return 0, nil, err
	}
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := make(chan struct{})
	lat := make([]latencies, clients)
	for i := 0; i < clients; i++ {
		mine := codes[i*k : (i+1)*k]
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := dialRaw(s.base) // connected before the timer starts
			if err != nil {
				once.Do(func() { firstErr = err })
				return
			}
			defer conn.Close()
			lat[i] = make(latencies, 0, len(mine))
			<-start
			for j, code := range mine {
				body, key := []byte(`{"code":"`+code+`"}`), ""
				if idem {
					body = []byte(`{"code":"` + code + `","customer_id":"cust-` + code + `","order_amount":5000,"currency":"EUR","terminal":"till-` + strconv.Itoa(i) + `"}`)
					key = "till-" + strconv.Itoa(i) + "-" + code + "-" + strconv.Itoa(j)
				}
				t0 := time.Now()
				status, b, err := conn.postIdem("/v1/redeem", s.posKey, key, body)
				if err != nil || status != http.StatusCreated {
					once.Do(func() { firstErr = fmt.Errorf("W3: %s answered %d %s: %v", code, status, b, err) })
					return
				}
				lat[i] = append(lat[i], time.Since(t0))
			}
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	secs := time.Since(t0).Seconds()
	if firstErr != nil {
		return 0, nil, firstErr
	}
	after, err := s.admin.Campaign(campaign)
	if err != nil {
		return 0, nil, err
	}
	if got := after.Counts.Redeemed - before.Counts.Redeemed; got != int64(len(codes)) {
		return 0, nil, fmt.Errorf("W3: the store counts %d more redemptions, want %d", got, len(codes))
	}
	var all latencies
	for _, l := range lat {
		all = append(all, l...)
	}
	return secs, all, nil
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

// logCounters are the server's log and writer counters from /metrics.
type logCounters struct{ syncs, ops float64 }

func (s *benchServer) logCounters() logCounters {
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		return logCounters{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var c logCounters
	for _, line := range strings.Split(string(b), "\n") {
		name, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		v, _ := strconv.ParseFloat(value, 64)
		switch name {
		case "promo_log_syncs_total":
			c.syncs = v
		case "promo_store_operations_total":
			c.ops = v
		}
	}
	return c
}

// perSync is how many of n redemptions shared each fdatasync since before.
func (c logCounters) perSync(before logCounters, n int) float64 {
	if c.syncs <= before.syncs {
		return 0
	}
	return float64(n) / (c.syncs - before.syncs)
}

// benchW2 runs W2 against promo and, in turn, its load against a bare
// net/http handler that answers the bytes promo answers: the ratio says
// what promo's own work costs on top of the HTTP stack.
func benchW2(ctx context.Context, self string, cfg benchConfig, srv *benchServer, want map[string]bool) error {
	answer, err := srv.validateAnswer(ctx)
	if err != nil {
		return err
	}
	var floor *benchServer
	if want["W2-floor"] {
		if floor, err = startFloorServer(ctx, self, filepath.Join(cfg.dir, "floor"), answer); err != nil {
			return err
		}
		defer floor.stop()
		floor.posKey = srv.posKey
	}
	var rates, floorRates []float64
	for r := 1; r <= cfg.runs; r++ {
		if want["W2"] {
			n, secs, err := srv.w2(ctx, cfg.clients, cfg.t)
			if err != nil {
				return err
			}
			rates = append(rates, float64(n)/secs)
			cfg.log("W2 run %d: %d lookups in %.2f s", r, n, secs)
		}
		if floor != nil {
			n, secs, err := floor.w2(ctx, cfg.clients, cfg.t)
			if err != nil {
				return err
			}
			floorRates = append(floorRates, float64(n)/secs)
			cfg.log("W2-floor run %d: %d answers in %.2f s", r, n, secs)
		}
	}
	if want["W2"] {
		result(cfg.out, "W2", fmt.Sprintf("%.0f", median(rates)), "lookups/s", fmt.Sprintf("POST /v1/validate, %d clients, %s, every answer not_found; runs: %s; %s", cfg.clients, cfg.t, floats(rates, "%.0f"), srv.rejected(ctx)))
	}
	if floor != nil {
		note := fmt.Sprintf("a bare net/http handler reading the body and answering W2's %d bytes, same load; runs: %s", len(answer), floats(floorRates, "%.0f"))
		if len(rates) > 0 {
			var ratios []float64
			for i := range rates {
				ratios = append(ratios, rates[i]/floorRates[i])
			}
			note += fmt.Sprintf("; W2/W2-floor run by run: %s", floats(ratios, "%.2f"))
		}
		result(cfg.out, "W2-floor", fmt.Sprintf("%.0f", median(floorRates)), "answers/s", note)
	}
	return nil
}

// validateAnswer is promo's answer to one W2 request, as the floor serves it.
func (s *benchServer) validateAnswer(ctx context.Context) ([]byte, error) {
	conn, err := dialRaw(s.base)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	g, _ := gen.NewGenerator(gen.DefaultFormat(), nil)
	body, _ := g.AppendKey([]byte(`{"code":"`), 0, 0)
	status, b, err := conn.post("/v1/validate", s.posKey, append(body, `"}`...))
	if err != nil || status != http.StatusOK {
		return nil, fmt.Errorf("W2: a validate answered %d %s: %v", status, b, err)
	}
	return bytes.Clone(b), nil
}

// startFloorServer starts `promo bench --serve-floor` answering answer.
func startFloorServer(ctx context.Context, self, dir string, answer []byte) (*benchServer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, unreachable("make "+dir+": "+err.Error(), err)
	}
	file := filepath.Join(dir, "answer")
	if err := os.WriteFile(file, answer, 0o600); err != nil {
		return nil, unreachable("write "+file+": "+err.Error(), err)
	}
	s := &benchServer{exited: make(chan error, 1)}
	s.cmd = exec.CommandContext(ctx, self, "bench", "--serve-floor", "127.0.0.1:0", "--floor-answer", file)
	out, err := s.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, unreachable("start the floor server: "+err.Error(), err)
	}
	go func() { s.exited <- s.cmd.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	m := servingLine.FindStringSubmatch(line)
	if m == nil {
		s.cmd.Process.Kill()
		return nil, unreachable(fmt.Sprintf("the floor server did not start: %q %v", line, err), err)
	}
	s.base = m[1]
	go io.Copy(io.Discard, out)
	return s, nil
}

// serveFloor is the W2-floor server: net/http, one handler, no routing,
// auth, logging or metrics; it reads the request body and writes answer.
func serveFloor(ctx context.Context, addr, answerFile string, stderr io.Writer) error {
	answer, err := os.ReadFile(answerFile)
	if err != nil {
		return usageErrorf("--floor-answer: %v", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return unreachable("listen on "+addr+": "+err.Error(), err)
	}
	length := strconv.Itoa(len(answer))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{length}
		w.Write(answer)
	})}
	fmt.Fprintf(stderr, "promo: serving http://%s\n", ln.Addr())
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// benchW3Idem runs W3 with assigned codes redeemed by their customers
// under Idempotency-Keys, on a fresh server: a campaign bound to its
// customers, each code assigned before the timer starts.
func benchW3Idem(ctx context.Context, self string, cfg benchConfig) error {
	s, err := startBenchServer(ctx, self, filepath.Join(cfg.dir, "w3idem"))
	if err != nil {
		return err
	}
	defer s.stop()
	n := cfg.runs * cfg.clients * cfg.k
	if _, err := s.admin.CreateCampaign(ctx, store.CampaignSpec{ID: "w3idem", Kind: store.KindLoyalty,
		Benefit: &store.Benefit{Type: store.BenefitAmount, Value: 500, Currency: "EUR"}}); err != nil {
		return err
	}
	if _, err := s.admin.Generate(ctx, "w3idem", store.GenerateRequest{Count: n}); err != nil {
		return err
	}
	var codes []string
	if err := s.admin.EachCode("w3idem", "", func(c store.Code) error { codes = append(codes, c.Code); return nil }); err != nil {
		return err
	}
	// The mail merge gives customer cust-CODE its code: rows in creation
	// order get the codes in creation order.
	var csv bytes.Buffer
	csv.WriteString("customer_id\n")
	for _, c := range codes {
		csv.WriteString("cust-" + c + "\n")
	}
	i := 0
	if err := s.admin.AssignFile(ctx, "w3idem", bytes.NewReader(csv.Bytes()), store.ChannelEmail, nil, func(r store.AssignRow) error {
		if r.Code != codes[i] {
			return fmt.Errorf("W3-idem: customer %s got %s, expected %s", r.CustomerID, r.Code, codes[i])
		}
		i++
		return nil
	}); err != nil {
		return err
	}
	var rates, per []float64
	var lat latencies
	for r := 1; r <= cfg.runs; r++ {
		from := (r - 1) * cfg.clients * cfg.k
		before := s.logCounters()
		secs, l, err := s.w3(ctx, codes[from:from+cfg.clients*cfg.k], cfg.clients, cfg.k, true)
		if err != nil {
			return err
		}
		per = append(per, s.logCounters().perSync(before, cfg.clients*cfg.k))
		rates = append(rates, float64(cfg.clients*cfg.k)/secs)
		lat = append(lat, l...)
		cfg.log("W3-idem run %d: %d redemptions in %.2f s", r, cfg.clients*cfg.k, secs)
	}
	result(cfg.out, "W3-idem", fmt.Sprintf("%.0f", median(rates)), "redemptions/s", fmt.Sprintf("POST /v1/redeem of assigned codes by their customers, each with an Idempotency-Key, %d clients × %d codes; runs: %s; %s; %s redemptions per fdatasync",
		cfg.clients, cfg.k, floats(rates, "%.0f"), lat.summary(), floats(per, "%.1f")))
	return nil
}

// race has every client walk the same codes at once: each code must get
// exactly one 201 and clients-1 already_redeemed, and be redeemed once.
func (s *benchServer) race(ctx context.Context, codes []string, clients int) (string, string, error) {
	wins := make([]atomic.Int32, len(codes))
	lost := make([]atomic.Int32, len(codes))
	var other atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := dialRaw(s.base)
			if err != nil {
				other.Add(int32(len(codes)))
				return
			}
			defer conn.Close()
			<-start
			for j, code := range codes {
				status, _, err := conn.post("/v1/redeem", s.posKey, []byte(`{"code":"`+code+`"}`))
				switch {
				case err == nil && status == http.StatusCreated:
					wins[j].Add(1)
				case err == nil && status == http.StatusConflict:
					lost[j].Add(1)
				default:
					other.Add(1)
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	pass, totalWins, totalLost := other.Load() == 0, 0, 0
	for j, code := range codes {
		w, l := int(wins[j].Load()), int(lost[j].Load())
		totalWins, totalLost = totalWins+w, totalLost+l
		c, err := s.admin.GetCode(code)
		if err != nil {
			return "", "", err
		}
		pass = pass && w == 1 && l == clients-1 && c.RedemptionCount == 1
	}
	verdict := "FAIL"
	if pass {
		verdict = "PASS"
	}
	return verdict, fmt.Sprintf("%d clients × %d shared codes: %d wins, %d already_redeemed, %d other answers; the store shows each code redeemed once",
		clients, len(codes), totalWins, totalLost, other.Load()), nil
}

func (s *benchServer) rejected(ctx context.Context) string {
	ov, err := s.admin.Stats()
	if err != nil {
		return ""
	}
	r := ov.RejectedLookups
	total := r.Filter + r.Store
	if total == 0 {
		return ""
	}
	return fmt.Sprintf("%.3f%% of guesses passed the filter and read bbolt", 100*float64(r.Store)/float64(total))
}

// benchFlood measures what a guessing attack does to honest tills: a
// server with the default failed-lookup limit, 15 tills redeeming valid
// codes, first alone, then while one client from another address floods
// it with random guesses as fast as it can. It prints the tills' median
// and 99th-percentile latency and throughput both ways.
func benchFlood(ctx context.Context, self string, cfg benchConfig) error {
	s, err := startBenchServer(ctx, self, filepath.Join(cfg.dir, "flood"), "--guess-rate", "20", "--guess-burst", "40")
	if err != nil {
		return err
	}
	defer s.stop()
	if _, err := s.admin.CreateCampaign(ctx, store.CampaignSpec{ID: "w1", Benefit: &store.Benefit{Type: store.BenefitPercent, Value: 10}}); err != nil {
		return err
	}
	const tills, per = 15, 1000
	if _, err := s.admin.Generate(ctx, "w1", store.GenerateRequest{Count: 2 * tills * per}); err != nil {
		return err
	}
	var list []string
	if err := s.admin.EachCode("w1", "", func(c store.Code) error { list = append(list, c.Code); return nil }); err != nil {
		return err
	}
	_, guessKey, err := s.admin.CreateKey(ctx, "guesser", store.RolePOS)
	if err != nil {
		return err
	}
	measure := func(codes []string) ([]time.Duration, float64, error) {
		lat := make([][]time.Duration, tills)
		var firstErr error
		var once sync.Once
		var wg sync.WaitGroup
		start := time.Now()
		for i := 0; i < tills; i++ {
			mine := codes[i*per : (i+1)*per]
			wg.Add(1)
			go func() {
				defer wg.Done()
				conn, err := dialRaw(s.base)
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				defer conn.Close()
				for _, code := range mine {
					t0 := time.Now()
					status, b, err := conn.post("/v1/redeem", s.posKey, []byte(`{"code":"`+code+`"}`))
					if err != nil || status != http.StatusCreated {
						once.Do(func() { firstErr = fmt.Errorf("flood: a till's %s answered %d %s: %v", code, status, b, err) })
						return
					}
					lat[i] = append(lat[i], time.Since(t0))
				}
			}()
		}
		wg.Wait()
		secs := time.Since(start).Seconds()
		var all []time.Duration
		for _, l := range lat {
			all = append(all, l...)
		}
		slices.Sort(all)
		return all, float64(len(all)) / secs, firstErr
	}
	calm, calmRate, err := measure(list[:tills*per])
	if err != nil {
		return err
	}
	// The guesser: its own key and its own address (127.0.0.2), as fast as
	// one connection goes.
	stop := make(chan struct{})
	var guesses, limited atomic.Int64
	var gwg sync.WaitGroup
	gwg.Add(1)
	go func() {
		defer gwg.Done()
		conn, err := dialRawFrom(s.base, "127.0.0.2")
		if err != nil {
			cfg.log("flood: no second loopback address (%v); the guesser shares the tills' address", err)
			if conn, err = dialRaw(s.base); err != nil {
				return
			}
		}
		defer conn.Close()
		g, _ := gen.NewGenerator(gen.DefaultFormat(), nil)
		body := make([]byte, 0, 32)
		for {
			select {
			case <-stop:
				return
			default:
			}
			body = append(body[:0], `{"code":"`...)
			body, _ = g.AppendKey(body, 0, 0)
			body = append(body, `"}`...)
			status, _, err := conn.post("/v1/redeem", guessKey, body)
			if err != nil {
				return
			}
			guesses.Add(1)
			if status == http.StatusTooManyRequests {
				limited.Add(1)
			}
		}
	}()
	flooded, floodRate, err := measure(list[tills*per:])
	close(stop)
	gwg.Wait()
	if err != nil {
		return err
	}
	pct := func(l []time.Duration, p float64) float64 {
		return float64(l[int(p*float64(len(l)-1))].Microseconds()) / 1000
	}
	result(cfg.out, "flood", fmt.Sprintf("%.2f", pct(flooded, 0.99)), "ms p99",
		fmt.Sprintf("%d tills redeeming, while one client guesses from another address: p50 %.2f ms, p99 %.2f ms, %.0f redemptions/s; "+
			"without the guesser: p50 %.2f ms, p99 %.2f ms, %.0f redemptions/s; the guesser sent %d guesses, %d answered 429",
			tills, pct(flooded, 0.5), pct(flooded, 0.99), floodRate, pct(calm, 0.5), pct(calm, 0.99), calmRate, guesses.Load(), limited.Load()))
	return nil
}
