package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"sync"
	"time"

	urfave "github.com/urfave/cli/v2"

	"promo/httpapi"
	"promo/store"
)

func (e *env) serveCommand() *urfave.Command {
	return &urfave.Command{
		Name:      "serve",
		Usage:     "serve the HTTP API, and the admin socket the other commands use, until interrupted",
		UsageText: "promo serve [--addr :8080] [--guess-rate 20] [--guess-burst 40]",
		Description: describe("Opens the database (creating it if needed) and serves the HTTP API on --addr and the\n"+
			"admin socket FILE.sock (mode 0600: local file permission is the admin credential), logging to\n"+
			"stderr. While it runs, the other commands on the same --db go through the socket. SIGINT or\n"+
			"SIGTERM stops it gracefully.",
			"promo --db /var/lib/promo/promo.db serve --addr :8080"),
		Flags: []urfave.Flag{
			&urfave.StringFlag{Name: "addr", Value: ":8080", Usage: "listen on `HOST:PORT`"},
			&urfave.Float64Flag{Name: "guess-rate", Value: 20, Usage: "failed lookups a minute allowed per API key; 0 turns the limit off (benchmarks only)"},
			&urfave.IntFlag{Name: "guess-burst", Value: 40, Usage: "failed lookups allowed at once before the rate applies"},
			&urfave.StringSliceFlag{Name: "trusted-proxy", Usage: "a reverse proxy's address or `CIDR` range (repeatable): its X-Forwarded-For names the client in the logs"},
		},
		Action: e.serve,
	}
}

func (e *env) serve(c *urfave.Context) error {
	if _, err := needArgs(c); err != nil {
		return err
	}
	addr, path := c.String("addr"), c.String("db")
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return usageErrorf("--addr: want HOST:PORT such as :8080 or 127.0.0.1:8080, got %q", addr)
	}
	if path == "" {
		return usageErrorf("--db: give the database file, e.g. --db promo.db")
	}
	rate, burst := c.Float64("guess-rate"), c.Int("guess-burst")
	if rate < 0 || burst < 1 {
		return usageErrorf("--guess-rate: want 0 (off) or more, and --guess-burst 1 or more; got %g and %d", rate, burst)
	}
	if rate == 0 {
		rate = -1 // httpapi: a negative rate is off
	}
	var proxies []netip.Prefix
	for _, v := range c.StringSlice("trusted-proxy") {
		p, err := httpapi.ParseTrustedProxy(v)
		if err != nil {
			return usageErrorf("--trusted-proxy: %v", err)
		}
		proxies = append(proxies, p)
	}
	logs := newLogBuffer(e.stderr, 100*time.Millisecond)
	defer logs.Close()
	log := e.loggerTo(logs, slog.LevelInfo)
	st, err := store.Open(path, store.Options{Logger: log})
	if errors.Is(err, store.ErrLocked) {
		return unreachable(fmt.Sprintf("%s is in use by another promo process (is `promo serve` already running on it?)", path), err)
	}
	if err != nil {
		return err
	}
	tuneGC(st.Filter().SizeBytes)
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("closing the database", "err", err)
		}
	}()
	srv := httpapi.New(st, httpapi.Options{
		Logger:                 log,
		FailedLookupsPerMinute: rate,
		FailedLookupBurst:      burst,
		TrustedProxies:         proxies,
		OnReady: func(tcp net.Addr, socket string) {
			fmt.Fprintf(e.stderr, "promo: serving http://%s (admin socket %s)\n", tcp, socket)
		},
	})
	err = srv.Serve(c.Context, addr, path+".sock")
	if err == nil {
		fmt.Fprintln(e.stderr, "promo: stopped; every request in flight was answered")
	}
	return err
}

// logBuffer batches the server's log lines into one write every interval
// (or every 64 KiB) instead of one write per request: under load the
// per-request write was a tenth of the server's CPU. A crash loses at most
// the last interval's lines.
type logBuffer struct {
	mu   sync.Mutex
	w    *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

func newLogBuffer(w io.Writer, interval time.Duration) *logBuffer {
	b := &logBuffer{w: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-b.stop:
				return
			case <-t.C:
				b.flush()
			}
		}
	}()
	return b
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Write(p)
}

func (b *logBuffer) flush() {
	b.mu.Lock()
	b.w.Flush()
	b.mu.Unlock()
}

// Close stops the flusher and writes what is buffered.
func (b *logBuffer) Close() error {
	close(b.stop)
	<-b.done
	b.flush()
	return nil
}

// tuneGC sets the collector for a server whose live heap is mostly the
// filter: a high GC target (less collection work on every request, about
// a tenth of W2's CPU) under a soft memory limit (so bulk generation of
// 10M codes stays near 170 MB resident instead of 300 MB). GOGC or
// GOMEMLIMIT in the environment override either.
func tuneGC(filterBytes uint64) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(max(160<<20, 3*int64(filterBytes)))
	}
}
