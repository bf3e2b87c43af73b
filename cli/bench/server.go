package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"promo/httpapi"
	"promo/store"
)

// benchServer: a `promo serve` subprocess on a fresh database, and what
// the workloads ask of it besides their load.

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

// startBenchServer starts `promo serve` on a fresh database in dir, a
// directory of the benchmark's own (a workload's under --dir): what an
// earlier run left there is removed first, so a second run starts as
// fresh as the first.
func startBenchServer(ctx context.Context, self, dir string, serveArgs ...string) (*benchServer, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, setupError("clear "+dir+" of an earlier run: "+err.Error(), err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, setupError("make "+dir+": "+err.Error(), err)
	}
	s := &benchServer{db: filepath.Join(dir, "promo.db"), exited: make(chan error, 1)}
	logPath := filepath.Join(dir, "serve.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, setupError("create "+logPath+": "+err.Error(), err)
	}
	defer logFile.Close()
	args := append([]string{"--db", s.db, "serve", "--addr", "127.0.0.1:0"}, serveArgs...)
	if len(serveArgs) == 0 {
		args = append(args, "--guess-rate", "0") // W2 is a flood of guesses on purpose
	}
	s.cmd = exec.CommandContext(ctx, self, args...)
	s.cmd.Stderr = logFile // the server's log stays beside its database
	if err := s.cmd.Start(); err != nil {
		return nil, setupError("start promo serve: "+err.Error(), err)
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
			return nil, setupError(fmt.Sprintf("promo serve exited: %v: %s", err, b), err)
		default:
		}
		if time.Now().After(deadline) {
			s.cmd.Process.Kill()
			return nil, setupError("promo serve did not start within 30 s: "+string(b), nil)
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
