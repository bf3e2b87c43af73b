// Package etcdtest starts etcd clusters inside the test process, for the
// tests of the etcd engine and of everything that runs over it. Members
// listen on loopback ports chosen free, keep their data in a directory of
// the caller's, log only errors, and can be stopped, killed and restarted
// on their data for fault tests.
//
// Only tests import this package: it links the etcd server, which the promo
// binary must not.
//
// It is one file of about 500 lines on purpose: starting, stopping,
// killing and restarting members, and the TLS material for them, share the
// member type and its ports, and a reader of a fault test wants them in one
// place.
package etcdtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Options configure a cluster. The zero value is a 3-member cluster with
// etcd's default limits.
type Options struct {
	// Members is 1 or 3; 0 means 3.
	Members int
	// MaxTxnOps and MaxRequestBytes are etcd's --max-txn-ops and
	// --max-request-bytes; 0 keeps etcd's defaults (128, 1.5 MiB).
	MaxTxnOps       uint
	MaxRequestBytes uint
	// Fsync makes members sync their log as a production member does.
	// Without it (the default) they skip fdatasync, which is safe for tests
	// because a stopped member's process lives on: nothing is lost.
	Fsync bool
	// TLS makes clients reach members over TLS with a client certificate
	// (see Cluster.TLS); members talk to each other in plain HTTP.
	TLS bool
	// ElectionMs is etcd's --election-timeout in milliseconds; 0 keeps
	// etcd's default (1000). etcd gives up on a request it could not commit
	// within 5 s plus twice this ("etcdserver: request timed out"): a
	// cluster that takes transactions of thousands of writes on a loaded
	// machine wants more, a fault test that waits for new leaders less.
	ElectionMs uint
	// Logger receives the members' logs; nil logs errors to stderr.
	Logger *zap.Logger
}

// TLSFiles names the PEM files of a TLS cluster: the CA that signed the
// members' certificates, and a client certificate and key it accepts.
type TLSFiles struct {
	CAFile, CertFile, KeyFile string
}

// Cluster is a running etcd cluster. Its methods are safe for concurrent
// use; Close stops it.
type Cluster struct {
	dir     string
	opts    Options
	tls     *TLSFiles
	mu      sync.Mutex
	members []*member
}

type member struct {
	name            string
	dir             string
	peerURL, cliURL url.URL
	initialCluster  string
	etcd            *embed.Etcd   // nil when stopped
	gate            *rpcGate      // the client RPCs of the server last launched
	closed          chan struct{} // closed once the last stop has released the ports
	quiet           atomic.Bool   // the member is stopping: its errors are expected
	op              sync.Mutex    // held by a stop or restart of the member
}

// readyTimeout bounds how long a start or restart waits for members to
// serve: a cluster on this machine is ready in well under a second.
const readyTimeout = 20 * time.Second

// Start starts a cluster with its data in tb.TempDir() and stops it when the
// test ends. It returns once every member serves (a 3-member cluster starts
// in well under a second here) and fails the test if the cluster does not
// start.
func Start(tb testing.TB, opts Options) *Cluster {
	tb.Helper()
	c, err := New(tb.TempDir(), opts)
	if err != nil {
		tb.Fatalf("etcdtest: %v", err)
	}
	tb.Cleanup(c.Close)
	return c
}

// New starts a cluster with its data in dir, for a cluster shared by a test
// binary (started in TestMain); the caller must Close it. It returns once
// every member serves and the cluster has a leader.
func New(dir string, opts Options) (*Cluster, error) {
	switch opts.Members {
	case 0:
		opts.Members = 3
	case 1, 3:
	default:
		return nil, fmt.Errorf("etcdtest: %d members: want 1 or 3", opts.Members)
	}
	if opts.Logger == nil {
		enc := zap.NewDevelopmentEncoderConfig()
		opts.Logger = zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.Lock(os.Stderr), zap.ErrorLevel))
	}
	c := &Cluster{dir: dir, opts: opts}
	if opts.TLS {
		files, err := writeTLSFiles(filepath.Join(dir, "tls"))
		if err != nil {
			return nil, err
		}
		c.tls = files
	}
	// A port found free can be taken by another process before the member
	// listens on it: try again on fresh ports.
	var err error
	for try := 0; try < 3; try++ {
		if err = c.startAll(try); err == nil {
			return c, nil
		}
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	return nil, err
}

var errPortTaken = errors.New("a chosen port was taken")

func (c *Cluster) startAll(try int) error {
	ports, err := freePorts(2 * c.opts.Members)
	if err != nil {
		return err
	}
	scheme := "http"
	if c.tls != nil {
		scheme = "https"
	}
	c.members = make([]*member, c.opts.Members)
	var initial []string
	for i := range c.members {
		m := &member{
			name:    fmt.Sprintf("m%d", i),
			dir:     filepath.Join(c.dir, fmt.Sprintf("try%d-m%d", try, i)),
			peerURL: url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", ports[2*i])},
			cliURL:  url.URL{Scheme: scheme, Host: fmt.Sprintf("127.0.0.1:%d", ports[2*i+1])},
		}
		c.members[i] = m
		initial = append(initial, m.name+"="+m.peerURL.String())
	}
	for _, m := range c.members {
		m.initialCluster = strings.Join(initial, ",")
	}
	// Members start one after the other: a new member first asks the others
	// whether it was bootstrapped already, and a member that listens but
	// does not serve yet would keep it waiting a second. None waits for the
	// others here; waitReady waits for the cluster to elect a leader.
	for _, m := range c.members {
		var err error
		if m.etcd, err = c.launch(m); err != nil {
			c.Close()
			return err
		}
	}
	for _, m := range c.members {
		if err := waitReady(m); err != nil {
			c.Close()
			return err
		}
	}
	return nil
}

// launch starts m's server on its ports and data directory.
func (c *Cluster) launch(m *member) (*embed.Etcd, error) {
	cfg := embed.NewConfig()
	cfg.Name = m.name
	cfg.Dir = m.dir
	cfg.ListenPeerUrls = []url.URL{m.peerURL}
	cfg.AdvertisePeerUrls = []url.URL{m.peerURL}
	cfg.ListenClientUrls = []url.URL{m.cliURL}
	cfg.AdvertiseClientUrls = []url.URL{m.cliURL}
	cfg.InitialCluster = m.initialCluster
	cfg.InitialClusterToken = "etcdtest"
	cfg.ClusterState = embed.ClusterStateFlagNew // ignored once the member has data
	cfg.UnsafeNoFsync = !c.opts.Fsync
	cfg.EnableGRPCGateway = false
	m.gate = newRPCGate()
	cfg.GRPCAdditionalServerOptions = []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(m.gate.unary), grpc.ChainStreamInterceptor(m.gate.stream),
	}
	cfg.Metrics = "basic"
	if c.opts.MaxTxnOps > 0 {
		cfg.MaxTxnOps = c.opts.MaxTxnOps
	}
	if c.opts.MaxRequestBytes > 0 {
		cfg.MaxRequestBytes = c.opts.MaxRequestBytes
	}
	if c.opts.ElectionMs > 0 {
		cfg.ElectionMs = c.opts.ElectionMs
	}
	if c.tls != nil {
		cfg.ClientTLSInfo = transport.TLSInfo{
			CertFile:       filepath.Join(filepath.Dir(c.tls.CAFile), "server.crt"),
			KeyFile:        filepath.Join(filepath.Dir(c.tls.CAFile), "server.key"),
			TrustedCAFile:  c.tls.CAFile,
			ClientCertAuth: true,
		}
	}
	cfg.Logger = "zap"
	cfg.LogLevel = "error"
	lg := c.opts.Logger.WithOptions(zap.WrapCore(func(core zapcore.Core) zapcore.Core {
		return quietCore{Core: core, quiet: &m.quiet}
	}))
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(lg.With(zap.String("member", m.name)))
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		if strings.Contains(err.Error(), "address already in use") {
			return nil, fmt.Errorf("etcdtest: member %s: %w: %v", m.name, errPortTaken, err)
		}
		return nil, fmt.Errorf("etcdtest: member %s: %w", m.name, err)
	}
	return e, nil
}

func waitReady(m *member) error {
	select {
	case <-m.etcd.Server.ReadyNotify():
		return nil
	case err := <-m.etcd.Err():
		return fmt.Errorf("etcdtest: member %s: %w", m.name, err)
	case <-time.After(readyTimeout):
		return fmt.Errorf("etcdtest: member %s not ready after %v", m.name, readyTimeout)
	}
}

// freePorts returns n loopback TCP ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	ports := make([]int, n)
	ls := make([]net.Listener, n)
	defer func() {
		for _, l := range ls {
			if l != nil {
				l.Close()
			}
		}
	}()
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("etcdtest: finding a free port: %w", err)
		}
		ls[i] = l
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// Endpoints returns every member's client URL, stopped members included, as
// a client is configured with a cluster's members.
func (c *Cluster) Endpoints() []string {
	out := make([]string, len(c.members))
	for i, m := range c.members {
		out[i] = m.cliURL.String()
	}
	return out
}

// Endpoint returns member i's client URL.
func (c *Cluster) Endpoint(i int) string { return c.members[i].cliURL.String() }

// Members returns the number of members.
func (c *Cluster) Members() int { return len(c.members) }

// TLS returns the files a client needs for a TLS cluster, nil for a plain
// one.
func (c *Cluster) TLS() *TLSFiles { return c.tls }

// Stop stops member i gracefully: a leader hands its leadership over
// first. It takes about a second (the member waits for the others'
// connections to it to close). Stopping a stopped member does nothing.
func (c *Cluster) Stop(i int) { c.stop(i, false) }

// HardStop stops member i at once, as a crash would: no leadership
// transfer, requests under way fail (their clients see them cancelled,
// and may not know whether a write took effect), and new ones are refused
// as unavailable until the member's listeners close. Its data stays for
// Restart, which waits for its ports to be released.
func (c *Cluster) HardStop(i int) { c.stop(i, true) }

func (c *Cluster) stop(i int, hard bool) {
	c.members[i].op.Lock()
	defer c.members[i].op.Unlock()
	closed := make(chan struct{})
	c.mu.Lock()
	m := c.members[i]
	e, gate := m.etcd, m.gate
	if e != nil {
		m.etcd, m.closed = nil, closed
	}
	c.mu.Unlock()
	if e == nil {
		return
	}
	m.quiet.Store(true)
	if !hard {
		e.Close()
		close(closed)
		return
	}
	// The server stops now, once the client RPCs under way have returned;
	// closing its listeners waits up to a second for the other members'
	// connections, so that goes on in the background.
	gate.close()
	e.Server.HardStop()
	go func() {
		e.Close()
		close(closed)
	}()
}

// wait returns once member i's last stop has released its ports.
func (c *Cluster) wait(i int) {
	c.mu.Lock()
	closed := c.members[i].closed
	c.mu.Unlock()
	if closed != nil {
		<-closed
	}
}

// Restart starts stopped member i again on its data and ports, and returns
// once it serves, which needs a quorum of members running. Restarting a
// running member does nothing.
func (c *Cluster) Restart(i int) error {
	c.members[i].op.Lock()
	defer c.members[i].op.Unlock()
	c.mu.Lock()
	m := c.members[i]
	running := m.etcd != nil
	c.mu.Unlock()
	if running {
		return nil
	}
	c.wait(i)
	m.quiet.Store(false)
	e, err := c.launch(m)
	if err != nil {
		return err
	}
	c.mu.Lock()
	m.etcd = e
	c.mu.Unlock()
	return waitReady(m)
}

// Running reports whether member i runs.
func (c *Cluster) Running(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.members[i].etcd != nil
}

// Leader returns the index of a running member that leads the cluster by
// its own account, or -1 when none does.
func (c *Cluster) Leader() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, m := range c.members {
		if m.etcd != nil && m.etcd.Server.Leader() == m.etcd.Server.MemberID() {
			return i
		}
	}
	return -1
}

// HasLeader reports whether running member i knows a leader. A member cut
// off from a quorum loses its leader within an election timeout (1 s).
func (c *Cluster) HasLeader(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.members[i]
	return m.etcd != nil && m.etcd.Server.Leader() != 0
}

// AppliedIndex returns the newest raft index running member i applied, 0
// for a stopped member.
func (c *Cluster) AppliedIndex(i int) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.members[i]
	if m.etcd == nil {
		return 0
	}
	return m.etcd.Server.AppliedIndex()
}

// Close stops every member at once (members stopping together cannot hand
// leadership over). The data stays in the directory.
func (c *Cluster) Close() {
	for i := range c.members {
		c.stop(i, true)
	}
	for i := range c.members {
		c.wait(i)
	}
}

// rpcGate cuts a member's client RPCs off before HardStop stops its
// server. A server stopped under an RPC still being served would let it
// read the closed backend and panic the whole test process (a serializable
// Range does: etcd-io/etcd#14256), where a crashed etcd process would just
// be gone. Once closed, the gate refuses new RPCs as unavailable, cancels
// the contexts of those under way (each returns at once: those waiting for
// raft see their context end, the others only read), and waits for them.
type rpcGate struct {
	mu      sync.Mutex
	closed  bool
	stop    context.Context // done once closed
	cancel  context.CancelFunc
	running sync.WaitGroup
}

func newRPCGate() *rpcGate {
	stop, cancel := context.WithCancel(context.Background())
	return &rpcGate{stop: stop, cancel: cancel}
}

var errMemberStopped = status.Error(codes.Unavailable, "etcdtest: the member was stopped")

// enter admits an RPC with context ctx: it returns the context to serve it
// with, which ends when the gate closes, and the func to call once it
// returns; ok is false once the gate is closed.
func (g *rpcGate) enter(ctx context.Context) (_ context.Context, done func(), ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, nil, false
	}
	g.running.Add(1)
	ctx, cancel := context.WithCancel(ctx)
	unhook := context.AfterFunc(g.stop, cancel)
	return ctx, func() {
		unhook()
		cancel()
		g.running.Done()
	}, true
}

// close refuses new RPCs, cancels the ones under way and returns once they
// have returned.
func (g *rpcGate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.cancel()
	g.running.Wait()
}

func (g *rpcGate) unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, done, ok := g.enter(ctx)
	if !ok {
		return nil, errMemberStopped
	}
	defer done()
	return handler(ctx, req)
}

func (g *rpcGate) stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, done, ok := g.enter(ss.Context())
	if !ok {
		return errMemberStopped
	}
	defer done()
	return handler(srv, gatedStream{ServerStream: ss, ctx: ctx})
}

// gatedStream is a stream served with the gate's context.
type gatedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s gatedStream) Context() context.Context { return s.ctx }

// quietCore drops a member's log entries once it is stopping, when its
// listeners report errors that are expected.
type quietCore struct {
	zapcore.Core
	quiet *atomic.Bool
}

func (q quietCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if q.quiet.Load() {
		return ce
	}
	return q.Core.Check(e, ce)
}

func (q quietCore) With(fields []zapcore.Field) zapcore.Core {
	return quietCore{Core: q.Core.With(fields), quiet: q.quiet}
}

// Concurrently calls op n times from callers goroutines (op gets its
// caller's number) and returns the time it took, for benchmarks that set
// a store beside a bare client on one cluster; the first error fails tb.
func Concurrently(tb testing.TB, callers, n int, op func(caller int) error) time.Duration {
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for g := range callers {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if err := op(g); err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	if err, ok := failed.Load().(error); ok {
		tb.Fatal(err)
	}
	return took
}
