// Package etcdkv is a kv.Engine over an etcd cluster (etcd 3.5 or later),
// so that any number of promo processes serve one store. It is the only
// package that imports the etcd client.
//
// # Layout
//
// Every bucket lives under Prefix + bucket + "/" (Prefix is "/promo/" by
// default; bucket names are short ASCII without "/"), each key as its raw
// bytes after that. Nothing else is kept in etcd: a key of the store is one
// etcd key, so etcd's ordering is the store's.
//
// # Views
//
// A View reads one snapshot: its first read is linearizable and fixes the
// revision, every later read asks for that revision. Data at a revision
// never changes, so those later reads are served by any member that has
// applied it (a member that has not yet answers "future revision", and the
// read is made again, linearizably). Scans page through a range (ranged
// Gets with a limit), so a range of any size never comes back in one
// response; a reverse Scan pages with keys-only requests sorted
// descending, which cost etcd a walk of its in-memory index over the range
// before the cursor, and then fetches the values of each page.
//
// # Updates
//
// An Update is optimistic. fn runs against a snapshot as a View's does
// (with Options.OptimisticReads, whose first read any member may serve, and
// which is checked before the Update's outcome is believed), its writes
// buffered (it sees them, in Gets and in Scans, merged over the
// snapshot). The commit is one etcd Txn: If every read still holds, Then
// the writes. Each key got from the snapshot adds a compare of its
// ModRevision with the one read (CreateRevision == 0 for a key that was
// absent); each Scan adds one ranged compare, that no key in the part of the
// range it visited was changed or created after the snapshot. A ranged
// compare cannot see a deletion: a key the Scan saw and another Update then
// deleted is gone, and no remaining key tells. Rules that rely on a Scan's
// keys still being there must also get a key that any Update deleting one
// of them changes.
//
// When a compare fails, fn runs again. The failed Txn brought back the
// current values of the keys fn got: for the first three conflicts in a
// row fn runs at once on them (it need not read them again, and commits
// before they change once more); after that it backs off a random while
// (under 2 ms, doubling to 64 ms) and reads afresh. fn runs at most
// Options.MaxAttempts times, within Options.Timeout; contention beyond
// that makes Update fail with an error wrapping kv.ErrUnavailable that
// says so. fn may therefore run more than once, and must not act outside
// the transaction before Update returns (the store's rules already tolerate
// this: their transactions can be abandoned before commit).
//
// # Failures
//
//   - A cluster without a quorum makes Update and View fail within
//     Options.Timeout with an error wrapping kv.ErrUnavailable; requests ask
//     for a leader, so a member cut off answers at once, and no read is ever
//     served from a member without one.
//   - A commit whose answer is lost (a timeout, a dropped connection, a
//     leader that failed, Close) may have taken effect, or may still: Update
//     then returns an error wrapping kv.ErrUncertain (which wraps
//     kv.ErrUnavailable), and never runs that commit again. Commits that
//     etcd refused before proposing them (no leader, too many requests) are
//     certain to have done nothing, and are tried again within the timeout.
//   - A transaction over the limits (see Limits) fails with kv.ErrTooLarge,
//     before anything is sent.
//
// An Engine is safe for concurrent use.
package etcdkv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"promo/store/kv"
)

// DefaultPrefix is the etcd key prefix of a store when Options.Prefix is
// empty.
const DefaultPrefix = "/promo/"

// etcd's defaults for --max-txn-ops and --max-request-bytes.
const (
	DefaultMaxOps   = 128
	DefaultMaxBytes = 1536 * 1024
)

// Options configure Open. Only Endpoints is required.
type Options struct {
	// Endpoints are the client URLs of the cluster's members
	// (https://host:2379 with TLS).
	Endpoints []string
	// Prefix is the etcd key prefix of the store; DefaultPrefix when
	// empty. Open adds a final "/" when it lacks one.
	Prefix string
	// CAFile names the PEM file of the CA that signed the members'
	// certificates; CertFile and KeyFile a client certificate and key, for
	// a cluster that asks for one. Any of them turns TLS on.
	CAFile, CertFile, KeyFile string
	// DialTimeout bounds Open's check that the cluster answers; 5 s when
	// zero.
	DialTimeout time.Duration
	// Timeout bounds each read of a View, and each Update as a whole (all
	// its attempts); 5 s when zero.
	Timeout time.Duration
	// MaxOps and MaxBytes must match the cluster's --max-txn-ops and
	// --max-request-bytes; etcd's defaults (128, 1.5 MiB) when zero.
	MaxOps, MaxBytes int
	// MaxAttempts is how many times Update runs fn when commits conflict;
	// 50 when zero.
	MaxAttempts int
	// OptimisticReads lets an Update's first read be served by any member
	// without the leader's confirmation that it is current (a serializable
	// read), saving etcd a round of the leader's heartbeats per Update. The
	// Update's outcome is never taken from such a snapshot unchecked: a
	// commit's compares check every read against the current state, and an
	// Update that writes nothing or whose fn fails checks its reads in a Txn
	// without writes (linearizable) before Update returns; a stale snapshot
	// makes fn run again. Views always read linearizably.
	OptimisticReads bool
	// Logger receives the etcd client's logs; nil discards them.
	Logger *zap.Logger
}

func (o *Options) setDefaults() {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if !strings.HasSuffix(o.Prefix, "/") {
		o.Prefix += "/"
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.MaxOps <= 0 {
		o.MaxOps = DefaultMaxOps
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 50
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
}

// Engine is a store in an etcd cluster. It is safe for concurrent use.
type Engine struct {
	cli    *clientv3.Client
	opts   Options
	ctx    context.Context // asks for a leader; cancelled by Close
	cancel context.CancelFunc
	closed atomic.Bool
	cache  readCache // for optimistic reads
}

var (
	_ kv.Engine  = (*Engine)(nil)
	_ kv.Limiter = (*Engine)(nil)
	_ kv.Stater  = (*Engine)(nil)

	_ kv.Prefetcher = (*tx)(nil)
)

// minVersion is the oldest etcd the engine runs on.
const minMajor, minMinor = 3, 5

// Open connects to the cluster and checks that its members answer within
// ctx and Options.DialTimeout and run etcd 3.5 or later. It fails with an
// error wrapping kv.ErrUnavailable when no member answers, and with a plain
// error for bad options, TLS files or an older etcd. Open does not need a
// quorum; Updates and Views do.
func Open(ctx context.Context, o Options) (*Engine, error) {
	o.setDefaults()
	if len(o.Endpoints) == 0 {
		return nil, errors.New("etcdkv: no etcd endpoints given")
	}
	tlsCfg, err := tlsConfig(o)
	if err != nil {
		return nil, err
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:            o.Endpoints,
		DialTimeout:          o.DialTimeout,
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 3 * time.Second,
		TLS:                  tlsCfg,
		// Room for the largest commit the limits let through; a request
		// over the cluster's own limit is refused by the cluster.
		MaxCallSendMsgSize: o.MaxBytes + 512*1024,
		Logger:             o.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("etcdkv: connecting to %s: %w", strings.Join(o.Endpoints, ","), err)
	}
	base, cancel := context.WithCancel(clientv3.WithRequireLeader(context.Background()))
	e := &Engine{cli: cli, opts: o, ctx: base, cancel: cancel}
	if err := e.check(ctx); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

func tlsConfig(o Options) (*tls.Config, error) {
	if o.CAFile == "" && o.CertFile == "" && o.KeyFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("etcdkv: reading the etcd CA: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("etcdkv: %s holds no PEM certificate", o.CAFile)
		}
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, errors.New("etcdkv: a client certificate needs both its certificate and its key file")
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("etcdkv: loading the etcd client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// check asks every endpoint for its status: one must answer, and none may
// run an etcd older than 3.5.
func (e *Engine) check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, e.opts.DialTimeout)
	defer cancel()
	type answer struct {
		ep      string
		version string
		err     error
	}
	answers := make([]answer, len(e.opts.Endpoints))
	var wg sync.WaitGroup
	for i, ep := range e.opts.Endpoints {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := e.cli.Status(ctx, ep)
			answers[i] = answer{ep: ep, err: err}
			if err == nil {
				answers[i].version = st.Version
			}
		}()
	}
	wg.Wait()
	var errs []string
	answered := 0
	for _, a := range answers {
		if a.err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", a.ep, a.err))
			continue
		}
		answered++
		var major, minor int
		if _, err := fmt.Sscanf(a.version, "%d.%d", &major, &minor); err != nil {
			return fmt.Errorf("etcdkv: etcd at %s reports version %q, which promo cannot read", a.ep, a.version)
		}
		if major < minMajor || major == minMajor && minor < minMinor {
			return fmt.Errorf("etcdkv: etcd at %s runs version %s; promo needs etcd %d.%d or later", a.ep, a.version, minMajor, minMinor)
		}
	}
	if answered == 0 {
		return fmt.Errorf("etcdkv: no etcd member answered within %v (%s): %w", e.opts.DialTimeout, strings.Join(errs, "; "), kv.ErrUnavailable)
	}
	return nil
}

// Close releases the client. Views and Updates under way fail (an Update
// whose commit was sent fails with kv.ErrUncertain); later ones fail with
// kv.ErrClosed. Close is safe to call more than once.
func (e *Engine) Close() error {
	if e.closed.Swap(true) {
		return nil
	}
	e.cancel()
	if err := e.cli.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("etcdkv: closing the client: %w", err)
	}
	return nil
}

// Limits returns the limits of one Update, as Options set them. etcd
// checks the compares and the writes of a Txn each against --max-txn-ops
// (it takes the longest of a Txn's lists): MaxOps bounds the keys written,
// and separately the reads checked (one compare per key got from the
// store, one per Scan). MaxBytes bounds the request as etcdkv estimates
// its encoding: every key with the prefix, every value, and 32 bytes per
// operation, plus 64 for the request.
func (e *Engine) Limits() kv.Limits {
	return kv.Limits{MaxOps: e.opts.MaxOps, MaxBytes: e.opts.MaxBytes}
}

// Stats returns the size of the cluster's database as the first member to
// answer reports it (the whole etcd database, not only this prefix: etcd
// does not count by prefix), or zero Stats when none answers within
// Options.Timeout.
func (e *Engine) Stats() kv.Stats {
	ctx, cancel := context.WithTimeout(e.ctx, e.opts.Timeout)
	defer cancel()
	for _, ep := range e.opts.Endpoints {
		st, err := e.cli.Status(ctx, ep)
		if err == nil {
			return kv.Stats{FileBytes: st.DbSize, UsedBytes: st.DbSizeInUse}
		}
	}
	return kv.Stats{}
}

// bucketPrefix is the etcd key prefix of bucket b.
func (e *Engine) bucketPrefix(b kv.Bucket) string {
	return e.opts.Prefix + string(b) + "/"
}

// View runs fn in a read transaction over one snapshot of the store. It
// returns fn's error, or the transaction's first failure: an error wrapping
// kv.ErrUnavailable when the cluster does not answer a read within
// Options.Timeout (no quorum) or compacted the snapshot away during a long
// View, kv.ErrClosed after Close. fn runs once.
func (e *Engine) View(fn func(kv.Tx) error) error {
	if e.closed.Load() {
		return fmt.Errorf("etcdkv: view: %w", kv.ErrClosed)
	}
	t := &tx{e: e}
	err := fn(t)
	if t.err != nil {
		return t.err
	}
	return err
}
