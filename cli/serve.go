package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"net"

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
			&urfave.Float64Flag{Name: "guess-rate", Value: 20, Usage: "failed lookups a minute allowed per API key and per client address; 0 turns the limit off (benchmarks only)"},
			&urfave.IntFlag{Name: "guess-burst", Value: 40, Usage: "failed lookups allowed at once before the rate applies"},
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
	log := e.logger(slog.LevelInfo)
	st, err := store.Open(path, store.Options{Logger: log})
	if errors.Is(err, store.ErrLocked) {
		return unreachable(fmt.Sprintf("%s is in use by another promo process (is `promo serve` already running on it?)", path), err)
	}
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("closing the database", "err", err)
		}
	}()
	srv := httpapi.New(st, httpapi.Options{
		Logger:                 log,
		FailedLookupsPerMinute: rate,
		FailedLookupBurst:      burst,
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
