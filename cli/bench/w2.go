package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"promo/gen"
)

// W2 and W2-floor: invalid guesses, against promo and against a bare
// net/http handler answering the same bytes.

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

// benchW2 runs W2 against promo and, in turn, its load against a bare
// net/http handler that answers the bytes promo answers: the ratio says
// what promo's own work costs on top of the HTTP stack.
func benchW2(ctx context.Context, self string, cfg Config, srv *benchServer, want map[string]bool) error {
	answer, err := srv.validateAnswer(ctx)
	if err != nil {
		return err
	}
	var floor *benchServer
	if want["W2-floor"] {
		if floor, err = startFloorServer(ctx, self, filepath.Join(cfg.Dir, "floor"), answer); err != nil {
			return err
		}
		defer floor.stop()
		floor.posKey = srv.posKey
	}
	var rates, floorRates []float64
	for r := 1; r <= cfg.Runs; r++ {
		if want["W2"] {
			n, secs, err := srv.w2(ctx, cfg.Clients, cfg.T)
			if err != nil {
				return err
			}
			rates = append(rates, float64(n)/secs)
			cfg.Log("W2 run %d: %d lookups in %.2f s", r, n, secs)
		}
		if floor != nil {
			n, secs, err := floor.w2(ctx, cfg.Clients, cfg.T)
			if err != nil {
				return err
			}
			floorRates = append(floorRates, float64(n)/secs)
			cfg.Log("W2-floor run %d: %d answers in %.2f s", r, n, secs)
		}
	}
	if want["W2"] {
		result(cfg.Out, "W2", fmt.Sprintf("%.0f", median(rates)), "lookups/s", fmt.Sprintf("POST /v1/validate, %d clients, %s, every answer not_found; runs: %s; %s", cfg.Clients, cfg.T, floats(rates, "%.0f"), srv.rejected(ctx)))
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
		result(cfg.Out, "W2-floor", fmt.Sprintf("%.0f", median(floorRates)), "answers/s", note)
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
		return nil, setupError("make "+dir+": "+err.Error(), err)
	}
	file := filepath.Join(dir, "answer")
	if err := os.WriteFile(file, answer, 0o600); err != nil {
		return nil, setupError("write "+file+": "+err.Error(), err)
	}
	s := &benchServer{exited: make(chan error, 1)}
	s.cmd = exec.CommandContext(ctx, self, "bench", "--serve-floor", "127.0.0.1:0", "--floor-answer", file)
	out, err := s.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, setupError("start the floor server: "+err.Error(), err)
	}
	go func() { s.exited <- s.cmd.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	m := servingLine.FindStringSubmatch(line)
	if m == nil {
		s.cmd.Process.Kill()
		return nil, setupError(fmt.Sprintf("the floor server did not start: %q %v", line, err), err)
	}
	s.base = m[1]
	go io.Copy(io.Discard, out)
	return s, nil
}

// ServeFloor is the W2-floor server, `promo bench --serve-floor ADDR
// --floor-answer FILE`: net/http, one handler, no routing, auth, logging
// or metrics; it reads the request body and writes answer. It prints its
// serving line on stderr and serves until ctx ends.
func ServeFloor(ctx context.Context, addr string, answer []byte, stderr io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return setupError("listen on "+addr+": "+err.Error(), err)
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
