package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	urfave "github.com/urfave/cli/v2"

	"promo/httpapi"
	"promo/httpapi/webhook"
	"promo/store"
)

func (e *env) serveCommand() *urfave.Command {
	return &urfave.Command{
		Name:      "serve",
		Usage:     "serve the HTTP API, and the admin socket the other commands use, until interrupted",
		UsageText: "promo serve [--addr :8080] [--tls-self-signed | --tls-cert FILE --tls-key FILE] [--trusted-proxy CIDR ...] [--guess-rate 20] [--guess-burst 40] [--guess-delay 500ms]",
		Description: describe("Opens the database (creating it if needed) and serves the HTTP API on --addr and the\n"+
			"admin socket FILE.sock (mode 0600: local file permission is the admin credential), logging to\n"+
			"stderr. While it runs, the other commands on the same --db go through the socket. SIGINT or\n"+
			"SIGTERM stops it gracefully. With --tls-cert and --tls-key, or --tls-self-signed, the API is\n"+
			"HTTPS only (TLS 1.2 or later); --tls-self-signed makes a certificate for this machine on first\n"+
			"start, keeps it beside the database (FILE.tls.crt, FILE.tls.key) and prints the fingerprints\n"+
			"tills pin. Plain HTTP on an address other than loopback sends API keys in clear: serve prints a\n"+
			"warning.",
			"promo --db /var/lib/promo/promo.db serve --addr :8443 --tls-self-signed",
			"promo serve --addr :443 --tls-cert /etc/promo/fullchain.pem --tls-key /etc/promo/privkey.pem",
			"promo serve --addr 127.0.0.1:8080 --trusted-proxy 127.0.0.1"),
		Flags: []urfave.Flag{
			&urfave.StringFlag{Name: "addr", Value: ":8080", Usage: "listen on `HOST:PORT`"},
			&urfave.Float64Flag{Name: "guess-rate", Value: 20, Usage: "failed lookups a minute allowed per API key; 0 turns the limit off (benchmarks only)"},
			&urfave.IntFlag{Name: "guess-burst", Value: 40, Usage: "failed lookups allowed at once before the rate applies"},
			&urfave.DurationFlag{Name: "guess-delay", Value: 500 * time.Millisecond, Usage: "how long a 429 for too many failed lookups is held back, so a guesser that ignores Retry-After cannot take the tills' CPU; 0 answers at once"},
			&urfave.StringSliceFlag{Name: "trusted-proxy", Usage: "a reverse proxy's address or `CIDR` range (repeatable): its X-Forwarded-For names the client in the logs"},
			&urfave.StringFlag{Name: "tls-cert", Usage: "serve HTTPS with the PEM certificate (and chain) in `FILE`; needs --tls-key"},
			&urfave.StringFlag{Name: "tls-key", Usage: "the PEM private key of --tls-cert, in `FILE`"},
			&urfave.BoolFlag{Name: "tls-self-signed", Usage: "serve HTTPS with a certificate made for this machine on first start and kept beside the database"},
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
	delay := c.Duration("guess-delay")
	if delay < 0 || delay > time.Minute {
		return usageErrorf("--guess-delay: want 0 (answer at once) to 1m, got %v", delay)
	}
	var proxies []netip.Prefix
	for _, v := range c.StringSlice("trusted-proxy") {
		p, err := httpapi.ParseTrustedProxy(v)
		if err != nil {
			return usageErrorf("--trusted-proxy: %v", err)
		}
		proxies = append(proxies, p)
	}
	certFile, keyFile, selfSigned := c.String("tls-cert"), c.String("tls-key"), c.Bool("tls-self-signed")
	switch {
	case selfSigned && (certFile != "" || keyFile != ""):
		return usageErrorf("--tls-self-signed makes its own certificate: give it, or --tls-cert and --tls-key, not both")
	case (certFile == "") != (keyFile == ""):
		return usageErrorf("--tls-cert FILE and --tls-key FILE go together: the certificate and its private key")
	}
	logs := newLogBuffer(e.stderr, 100*time.Millisecond)
	defer logs.Close()
	log := e.loggerTo(logs, slog.LevelInfo)
	var certs *httpapi.CertSource
	if certFile != "" {
		var err error
		if certs, err = httpapi.LoadCertificate(certFile, keyFile, log.Warn); err != nil {
			return err
		}
		e.printCertificate(certs, certFile, "")
	}
	var st *store.Store
	var err error
	// Only generations and imports call OnBulk, and requests start them
	// once st is set.
	stOpts := store.Options{Logger: log, OnBulk: bulkMemoryLimit(func() uint64 { return st.Filter().SizeBytes })}
	sock, spool := path+".sock", filepath.Dir(path)
	if onEtcd(c) {
		// Any number of nodes serve one cluster, several on one machine:
		// each its own admin socket (the CLI talks to the cluster itself).
		// No goroutine here waits in fdatasync: no spare processor.
		st, err = e.openEtcd(c, stOpts)
		sock, spool = filepath.Join(os.TempDir(), fmt.Sprintf("promo-%d.sock", os.Getpid())), os.TempDir()
	} else {
		// With a processor to spare, the log's fdatasync keeps its own.
		stOpts.Log.Log.RawSync = tuneProcs()
		st, err = store.Open(path, stOpts)
	}
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
	if selfSigned {
		var made httpapi.SelfSigned
		if certs, made, err = httpapi.SelfSignedCertificate(path, time.Now()); err != nil {
			return err
		}
		e.printSelfSigned(certs, made)
	}
	opts := httpapi.Options{
		Logger:                 log,
		AccessLog:              logs,
		FailedLookupsPerMinute: rate,
		FailedLookupBurst:      burst,
		LimitedDelay:           delay,
		TrustedProxies:         proxies,
		SpoolDir:               spool,
	}
	scheme := "http"
	if certs != nil {
		opts.TLS, scheme = httpapi.TLSConfig(certs), "https"
	} else if warning := plainHTTPWarning(addr); warning != "" {
		fmt.Fprintln(e.stderr, warning)
	}
	opts.OnReady = func(tcp net.Addr, socket string) {
		fmt.Fprintf(e.stderr, "promo: serving %s://%s (admin socket %s)\n", scheme, tcp, socket)
		e.printPages(st, scheme, tcp, path)
	}
	srv := httpapi.New(st, opts)
	// Webhook deliveries run beside the API, until the server stops.
	hooks, stopHooks := context.WithCancel(context.WithoutCancel(c.Context))
	hooksDone := make(chan struct{})
	go func() {
		defer close(hooksDone)
		webhook.New(webhookStore(hooks, st, log), webhook.Options{Logger: log}).Run(hooks)
	}()
	err = srv.Serve(c.Context, addr, sock)
	stopHooks()
	<-hooksDone
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
// a tenth of W2's CPU) under a soft memory limit (see memoryLimit). GOGC
// or GOMEMLIMIT in the environment override either.
func tuneGC(filterBytes uint64) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit(false, filterBytes))
	}
}

// bulkMemoryLimit returns the store.Options.OnBulk that sets memoryLimit
// as bulk work starts and ends, or nil when GOMEMLIMIT is set.
func bulkMemoryLimit(filterBytes func() uint64) func(bulk bool) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return nil
	}
	return func(bulk bool) { debug.SetMemoryLimit(memoryLimit(bulk, filterBytes())) }
}

// memoryLimit is the server's soft memory limit. While codes are added in
// bulk, it is tight, so that generating 10M codes stays near 200 MB
// resident instead of 300 MB. Otherwise it leaves 96 MiB more: a
// checkpoint under idempotent redemptions holds up to ~120 MB of bbolt's
// page buffers and nodes for half a second, and under the tight limit the
// collector then ran back to back (W3-idem gained 9-18% with the room).
func memoryLimit(bulk bool, filterBytes uint64) int64 {
	tight := max(160<<20, 3*int64(filterBytes))
	if bulk {
		return tight
	}
	return tight + 96<<20
}

// tuneProcs gives the Go scheduler one processor (P) more than it would
// take, unless GOMAXPROCS is set in the environment. A goroutine in
// fdatasync keeps its P for the whole call: Go hands a P stuck in a
// system call to other goroutines only when its monitor notices, one to
// two ticks of at least 20 µs later, and the log syncs 3,000 to 8,000
// times a second for 100-200 µs each. With as many Ps as cores, that left
// about a fifth of a 2-core machine idle under durable redemptions while
// requests waited for a P; the extra P keeps the cores busy while one
// thread waits for the disk. The W2-floor server takes the same setting,
// so its ceiling stays comparable. It reports whether it added the P: the
// log then makes its fdatasync a raw system call, which keeps its P
// without the hand-off (wal.Options.RawSync).
func tuneProcs() bool {
	if os.Getenv("GOMAXPROCS") != "" {
		return false
	}
	runtime.GOMAXPROCS(startProcs + 1)
	return true
}

// startProcs is the Ps Go chose at start (the CPUs this process may use),
// so that serving twice in one process (tests do) adds one P, not two.
var startProcs = runtime.GOMAXPROCS(0)

// plainHTTPWarning returns the warning for serving plain HTTP on addr, or
// "" when addr is loopback only (nothing crosses a network).
func plainHTTPWarning(addr string) string {
	host, _, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		return ""
	}
	where := "every interface"
	if host != "" && !net.ParseIP(host).IsUnspecified() {
		where = host
	}
	return fmt.Sprintf("promo: warning: serving plain HTTP on %s (%s): API keys and codes cross the network in clear, "+
		"readable by anyone on it; serve HTTPS with --tls-self-signed or --tls-cert and --tls-key (README: TLS), "+
		"or listen on 127.0.0.1 behind a TLS proxy", addr, where)
}

// printSelfSigned says what --tls-self-signed did and what tills pin.
func (e *env) printSelfSigned(certs *httpapi.CertSource, made httpapi.SelfSigned) {
	how := "kept from an earlier start"
	switch {
	case made.Made:
		how = "made now: pin it on every till"
	case made.Renewed:
		how = "renewed now with the same key: the public key pin is unchanged, the fingerprint is new"
	}
	e.printCertificate(certs, made.CertFile, "self-signed, "+how)
	if made.Tightened {
		fmt.Fprintf(e.stderr, "promo: %s was readable by others; its mode is now 0600\n", made.KeyFile)
	}
	if len(made.Missing) > 0 {
		fmt.Fprintf(e.stderr, "promo: note: the certificate does not name %s (this machine's now); tills that check names rather than the pin will refuse them: "+
			"move %s away and restart to make one that does (the key and its pin stay)\n", strings.Join(made.Missing, ", "), made.CertFile)
	}
}

// printCertificate prints the certificate served and its two fingerprints.
func (e *env) printCertificate(certs *httpapi.CertSource, file, how string) {
	leaf := certs.Leaf()
	info := httpapi.Describe(leaf)
	if how != "" {
		how += "; "
	}
	fmt.Fprintf(e.stderr, "promo: TLS certificate %s (%svalid until %s) for %s\n", file, how, info.NotAfter.UTC().Format(time.DateOnly), strings.Join(info.Names, ", "))
	fmt.Fprintf(e.stderr, "promo:   SHA-256 fingerprint  %s\n", info.Fingerprint)
	fmt.Fprintf(e.stderr, "promo:   public key pin       %s  (SPKI SHA-256, base64; Chromium: --ignore-certificate-errors-spki-list=%s)\n", info.SPKIPin, info.SPKIPin)
	if time.Until(info.NotAfter) < 0 {
		fmt.Fprintf(e.stderr, "promo: warning: the certificate in %s expired on %s: clients that check it will refuse to connect; renew it\n", file, info.NotAfter.UTC().Format(time.DateOnly))
	}
}

// printPages tells a person starting the server where the web pages are
// and, while the database has no key of a role, the command that makes
// one. promo never makes a key by itself: a secret printed at start-up
// would land in the service's journal, readable long after.
func (e *env) printPages(st *store.Store, scheme string, tcp net.Addr, db string) {
	host, port, err := net.SplitHostPort(tcp.String())
	if err != nil {
		return
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	base := scheme + "://" + net.JoinHostPort(host, port)
	fmt.Fprintf(e.stderr, "promo:   till       %s/pos\n", base)
	fmt.Fprintf(e.stderr, "promo:   dashboard  %s/admin\n", base)
	keys, err := st.Keys()
	if err != nil {
		return
	}
	has := map[string]bool{}
	for _, k := range keys {
		has[k.Role] = true
	}
	for _, want := range []struct{ role, name, page string }{{store.RoleAdmin, "admin-1", "the dashboard"}, {store.RolePOS, "till-1", "a till"}} {
		if !has[want.role] {
			fmt.Fprintf(e.stderr, "promo:   no %s key yet; for %s, run in another terminal: promo --db %s keys create %s --role %s\n",
				want.role, want.page, db, want.name, want.role)
		}
	}
}
