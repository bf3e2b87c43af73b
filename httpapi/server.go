// Package httpapi serves promo's HTTP API over the store — a gorilla/mux
// router, API-key auth, JSON in and out, one table from error codes to
// statuses, and the failed-lookup rate limit — and is the client the CLI
// uses to talk to a running server over its unix socket. It holds no
// business rules: every handler decodes, calls one store method, and writes.
//
// routes.go is the route table; each resource has one file holding its
// handlers and, below them, the Client's calls of the same routes
// (campaigns.go, codes.go, redeem.go, stats.go, admin.go, upload.go), as
// benbjohnson/wtf's http package does. wire.go declares the JSON bodies
// both sides share, errors.go the error statuses and the error body in
// both directions, stream.go the request and response helpers.
package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"promo/store"
)

// Options configure a Server. The zero value is usable.
type Options struct {
	// Logger gets diagnostics and, unless AccessLog is set, one line per
	// request; nil means slog.Default().
	Logger *slog.Logger
	// AccessLog, if set, gets the line per request instead of Logger, in
	// slog's text format but formatted without slog's handler. Each line
	// comes in one Write, from many goroutines at once.
	AccessLog io.Writer
	// MaxBodyBytes bounds JSON request bodies (default 1 MiB).
	MaxBodyBytes int64
	// MaxUploadBytes bounds CSV uploads: import, bulk assign (default 256 MiB).
	MaxUploadBytes int64
	// SpoolDir holds bulk assignments' uploads while they are checked
	// (default: the system's temporary directory). `promo serve` uses the
	// database's directory: on disk, where a tmpfs would hold them in RAM.
	SpoolDir string
	// FailedLookupsPerMinute and FailedLookupBurst limit failed lookups
	// (not_found, typo) per API key (defaults 20 and 40). A negative rate
	// turns the limit off (benchmarks only).
	FailedLookupsPerMinute float64
	FailedLookupBurst      int
	// LimitedDelay holds back each 429 answer for too many failed lookups
	// this long (at most; the request's context may end it first), so a
	// client that goes on guessing once its bucket is empty sends one
	// request per LimitedDelay per connection instead of as many as the
	// server can refuse: refusals are cheap, but at thousands a second
	// they take the CPU that honest tills' redemptions need. Zero answers
	// at once; `promo serve` holds them 500 ms (--guess-delay).
	LimitedDelay time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client address in the logs. Requests from other peers are
	// logged with the peer's address, whatever their headers say.
	TrustedProxies []netip.Prefix
	// ShutdownTimeout bounds the wait for requests in flight on shutdown
	// (default 30 s).
	ShutdownTimeout time.Duration
	// ReadHeaderTimeout drops clients that send their headers too slowly
	// (default 5 s).
	ReadHeaderTimeout time.Duration
	// TLS, if set, makes the TCP listener serve HTTPS only (see
	// TLSConfig); the admin socket stays plain.
	TLS *tls.Config
	// OnReady is called once the TCP listener and the socket accept.
	OnReady func(tcp net.Addr, socket string)
}

// Server is the HTTP API over one store. It is safe for concurrent use.
type Server struct {
	ids     *requestIDs
	st      *store.Store
	opts    Options
	log     *slog.Logger
	router  *mux.Router
	static  map[string]http.Handler // "METHOD /path" of each route without variables
	routes  []route
	limits  *lookupLimiter
	metrics *metrics
	uploads chan struct{} // a slot per upload being read

	lifeMu sync.Mutex
	life   context.Context // Serve's context: done when the server stops
}

// lifetime returns a context that ends when Serve is told to stop, so that
// long-polls answer instead of holding up the shutdown.
func (s *Server) lifetime() context.Context {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.life == nil {
		return context.Background()
	}
	return s.life
}

// New returns a server for st.
func New(st *store.Store, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.MaxUploadBytes <= 0 {
		opts.MaxUploadBytes = 256 << 20
	}
	if opts.FailedLookupsPerMinute == 0 {
		opts.FailedLookupsPerMinute = 20
	}
	if opts.FailedLookupBurst <= 0 {
		opts.FailedLookupBurst = 40
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 30 * time.Second
	}
	if opts.ReadHeaderTimeout <= 0 {
		opts.ReadHeaderTimeout = 5 * time.Second
	}
	s := &Server{st: st, opts: opts, log: opts.Logger, ids: newRequestIDs(),
		limits:  newLookupLimiter(opts.FailedLookupsPerMinute, opts.FailedLookupBurst, opts.LimitedDelay),
		uploads: make(chan struct{}, uploadSlots)}
	s.metrics = newMetrics(st)
	s.routes = s.routeTable()
	s.router = mux.NewRouter()
	s.static = map[string]http.Handler{}
	for _, rt := range s.routes {
		rt := rt
		h := s.wrap(rt)
		s.router.Handle(rt.path, h).Methods(rt.method)
		if !strings.Contains(rt.path, "{") {
			s.static[rt.method+" "+rt.path] = h
		}
	}
	s.router.NotFoundHandler = s.plain(func(w http.ResponseWriter, r *http.Request) error {
		return store.Errorf(store.ENotFound, "no route %s %s; see the API reference in README.md", r.Method, r.URL.Path)
	})
	paths := mux.NewRouter() // path-only matchers, to list the methods a path allows
	matchers := make([]*mux.Route, len(s.routes))
	for i, rt := range s.routes {
		matchers[i] = paths.NewRoute().Path(rt.path)
	}
	s.router.MethodNotAllowedHandler = s.plain(func(w http.ResponseWriter, r *http.Request) error {
		var allowed []string
		for i, m := range matchers {
			if m.Match(r, &mux.RouteMatch{}) {
				allowed = append(allowed, s.routes[i].method)
			}
		}
		if len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
		}
		return &store.Error{Code: store.EMethodNotAllowed, Message: fmt.Sprintf("%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(allowed, ", "))}
	})
	return s
}

// Handler returns the API as an http.Handler: requests need an API key.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// serveHTTP finds a route without variables (the tills' two among them)
// in a map, and leaves the rest to gorilla/mux: the router tries each
// route's regular expression in turn and copies the request twice to
// carry the match, which cost W2's invalid guesses a twentieth of their
// time. The map answers exactly what mux would (TestServer_StaticRoutes):
// no route with variables matches a path without them, and a method the
// map lacks still gets mux's 405 with Allow.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if h := s.static[r.Method+" "+r.URL.Path]; h != nil {
		h.ServeHTTP(w, r)
		return
	}
	s.router.ServeHTTP(w, r)
}

// Registry returns the server's Prometheus registry.
func (s *Server) Registry() *prometheus.Registry { return s.metrics.reg }

type ctxKey int

const (
	ctxLocal ctxKey = iota // the request came over the admin socket
	ctxCaller
)

// Caller is who made a request: an API key, or "local" over the socket.
type Caller struct {
	Name string
	Role string
}

// callerOf returns the caller observe recorded for r.
func callerOf(r *http.Request) Caller {
	if c, _ := r.Context().Value(ctxCaller).(*Caller); c != nil {
		return *c
	}
	return Caller{}
}

// exchange is what observe keeps for one request, in one allocation
// rather than five (a fifth of the allocations promo adds to an invalid
// guess): the writer that records the status and size, the request's
// context carrying its caller, and the room for the X-Request-Id header's
// value and the log line.
type exchange struct {
	statusWriter
	ctx  callerCtx
	id   [1]string
	line [256]byte
}

// callerCtx is a request's context with room for its caller, which wrap
// fills once the API key is known (callerOf reads it).
type callerCtx struct {
	context.Context
	caller Caller
}

func (c *callerCtx) Value(key any) any {
	if key == ctxCaller {
		return &c.caller
	}
	return c.Context.Value(key)
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// wrap adds to a route: request id, auth and role, the handler's error
// written as the error body, metrics, and one log line.
func (s *Server) wrap(rt route) http.Handler {
	return s.observe(rt.method+" "+rt.path, func(w http.ResponseWriter, r *http.Request) error {
		caller, err := s.authenticate(r, rt.role)
		*r.Context().Value(ctxCaller).(*Caller) = caller // logged even when refused
		if err != nil {
			return err
		}
		return rt.handle(w, r)
	})
}

// plain is wrap without auth, for the not-found and method handlers.
func (s *Server) plain(h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return s.observe("unmatched", h)
}

func (s *Server) observe(name string, h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	logName := logValue(name)
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if len(id) == 0 || len(id) > 64 || strings.ContainsFunc(id, func(c rune) bool { return c <= ' ' || c > '~' }) {
			id = s.ids.next()
		}
		ex := &exchange{statusWriter: statusWriter{ResponseWriter: rw}, ctx: callerCtx{Context: r.Context()}}
		ex.id[0] = id
		rw.Header()["X-Request-Id"] = ex.id[:]
		r = r.WithContext(&ex.ctx)
		w := &ex.statusWriter
		if err := h(w, r); err != nil {
			if w.status != 0 { // the response had begun: nothing more to send
				s.log.Error("request failed mid-response", "route", name, "request_id", id, "err", err)
			} else {
				writeError(w, s.log, name, err)
			}
		}
		d := time.Since(start)
		s.metrics.observe(name, r.Method, w.status, d)
		// The route's pattern, never its path: paths carry codes
		// (/v1/codes/{code}), and logs are read by more people than codes
		// should be.
		if s.opts.AccessLog != nil {
			line := accessLine(ex.line[:0], start.Add(d), id, r.Method, logName, w.status, w.bytes, d, callerOf(r).Name, s.clientAddr(r))
			s.opts.AccessLog.Write(line)
			return
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request", slog.String("id", id), slog.String("method", r.Method),
			slog.String("route", name), slog.Int("status", w.status),
			slog.Int64("bytes", w.bytes), slog.Float64("ms", float64(d.Microseconds())/1000),
			slog.String("key", callerOf(r).Name), slog.String("remote", s.clientAddr(r)))
	})
}

// authenticate returns the caller if it may use a route needing role.
func (s *Server) authenticate(r *http.Request, role string) (Caller, error) {
	if local, _ := r.Context().Value(ctxLocal).(bool); local {
		return Caller{Name: "local", Role: store.RoleAdmin}, nil
	}
	if role == "" {
		return Caller{}, nil
	}
	scheme, secret, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
		return Caller{}, store.Errorf(store.EUnauthorized, "send an API key: Authorization: Bearer pk_...")
	}
	key, err := s.st.Authenticate(strings.TrimSpace(secret))
	if err != nil {
		return Caller{}, err
	}
	if !store.RoleAllows(key.Role, role) {
		return Caller{Name: key.Name, Role: key.Role}, store.Errorf(store.EForbidden, "the key %q has role %s; this needs %s", key.Name, key.Role, role)
	}
	return Caller{Name: key.Name, Role: key.Role}, nil
}

// Serve listens on addr (TCP, API keys required; HTTPS only when
// Options.TLS is set) and on socketPath (a unix socket of mode 0600: every
// request over it is admin, the file permission being the credential), and
// serves until ctx ends. Then it stops
// accepting, lets requests in flight finish (up to ShutdownTimeout), and
// returns. It returns an error if either listener cannot start.
func (s *Server) Serve(ctx context.Context, addr, socketPath string) error {
	s.lifeMu.Lock()
	s.life = ctx
	s.lifeMu.Unlock()
	tcp, err := net.Listen("tcp", addr)
	if err != nil {
		return &store.Error{Code: store.EUnavailable, Message: fmt.Sprintf("listen on %s: %v", addr, err), Err: err}
	}
	sock, err := listenSocket(socketPath)
	if err != nil {
		tcp.Close()
		return err
	}
	defer os.Remove(socketPath)
	stop := make(chan struct{})
	defer close(stop)
	watch := watchDeadlines(stop) // the servers' timeouts, applied by a sweep (deadlines.go)
	tcp, sock = watch.listener(tcp), watch.listener(sock)
	newServer := func(local bool) *http.Server {
		return &http.Server{
			Handler:           s.Handler(),
			ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
			ReadTimeout:       5 * time.Minute,
			WriteTimeout:      30 * time.Minute,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
			ConnContext: func(c context.Context, _ net.Conn) context.Context {
				return context.WithValue(c, ctxLocal, local)
			},
		}
	}
	servers := []*http.Server{newServer(false), newServer(true)}
	errc := make(chan error, 2)
	if s.opts.TLS != nil {
		servers[0].TLSConfig = s.opts.TLS.Clone()
		go func() { errc <- servers[0].ServeTLS(tcp, "", "") }()
	} else {
		go func() { errc <- servers[0].Serve(tcp) }()
	}
	go func() { errc <- servers[1].Serve(sock) }()
	if s.opts.OnReady != nil {
		s.opts.OnReady(tcp.Addr(), socketPath)
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(servers))
	for i, srv := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = srv.Shutdown(sctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// listenSocket listens on a unix socket of mode 0600 at path: it listens
// under a temporary name, sets the mode, then renames, so the socket is
// never reachable with a wider mode. A stale socket nobody answers on is
// replaced; a live one is an error.
func listenSocket(path string) (net.Listener, error) {
	if _, err := os.Stat(path); err == nil {
		if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
			c.Close()
			return nil, &store.Error{Code: store.EUnavailable, Message: fmt.Sprintf("another promo serve answers on %s", path)}
		}
		os.Remove(path)
	}
	// The temporary name is no longer than the final one: a unix socket's
	// path must fit in 107 bytes.
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmpBase := "." + hex.EncodeToString(rnd[:])
	if n := len(filepath.Base(path)); n < len(tmpBase) {
		tmpBase = tmpBase[:max(n, 3)]
	}
	tmp := filepath.Join(filepath.Dir(path), tmpBase)
	os.Remove(tmp)
	l, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, &store.Error{Code: store.EUnavailable, Message: fmt.Sprintf("listen on %s: %v", path, err), Err: err}
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		l.Close()
		os.Remove(tmp)
		return nil, &store.Error{Code: store.EUnavailable, Message: fmt.Sprintf("chmod %s: %v", tmp, err), Err: err}
	}
	if err := os.Rename(tmp, path); err != nil {
		l.Close()
		os.Remove(tmp)
		return nil, &store.Error{Code: store.EUnavailable, Message: fmt.Sprintf("place socket %s: %v", path, err), Err: err}
	}
	return l, nil
}
