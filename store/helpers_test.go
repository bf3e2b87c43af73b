package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"promo/store/kv/etcdkv/etcdtest"
)

// clock is a settable clock for exact tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var engineFlag = flag.String("engine", "wal", "the engine the store's tests run on: wal (bbolt behind the write-ahead log, the default), bolt (bbolt alone) or etcd (an in-process etcd cluster)")

// testCluster is the etcd cluster of -engine=etcd, started by TestMain.
var testCluster *etcdtest.Cluster

func TestMain(m *testing.M) {
	flag.Parse()
	if *engineFlag != "etcd" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "store-etcd-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testCluster, err = etcdtest.New(dir, etcdtest.Options{Members: 1})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	testCluster.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

// onEtcd reports whether the tests run on etcd.
func onEtcd() bool { return *engineFlag == "etcd" }

// skipOnEtcd skips a test of something a store on etcd does not have
// (files beside the database, the write-ahead log).
func skipOnEtcd(t testing.TB, why string) {
	t.Helper()
	if onEtcd() {
		t.Skip("not on etcd: " + why)
	}
}

// etcdPrefix is the etcd prefix of the store the test names by path, so
// that reopening the same path reopens the same store.
func etcdPrefix(path string) string {
	sum := sha256.Sum256([]byte(path))
	return "/test/" + hex.EncodeToString(sum[:8]) + "/"
}

// openTest opens the store at path on the engine under test.
func openTest(path string, opts Options) (*Store, error) {
	switch *engineFlag {
	case "wal":
	case "bolt":
		opts.NoLog = true
	case "etcd":
		return OpenEtcd(context.Background(), EtcdOptions{Endpoints: testCluster.Endpoints(), Prefix: etcdPrefix(path)}, opts)
	default:
		panic("-engine: want wal, bolt or etcd, got " + *engineFlag)
	}
	return Open(path, opts)
}

// testStore opens a store in a temporary directory. On cleanup it closes
// the store, reopens it and requires Check to find nothing.
func testStore(t testing.TB, opts Options) (*Store, *clock) {
	t.Helper()
	c := newClock()
	if opts.Now == nil {
		opts.Now = c.Now
	}
	path := filepath.Join(t.TempDir(), "promo.db")
	s, err := openTest(path, opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, s.Close())
		s2, err := openTest(path, Options{Now: opts.Now})
		require.NoError(t, err)
		defer s2.Close()
		findings, err := s2.Check(context.Background())
		require.NoError(t, err)
		require.Empty(t, findings)
	})
	return s, c
}

var ctx = context.Background()

func ptr[T any](v T) *T { return &v }

// mustCampaign creates a campaign from spec, filling a percent benefit if
// none is given.
func mustCampaign(t testing.TB, s *Store, spec CampaignSpec) *Campaign {
	t.Helper()
	if spec.Benefit == nil {
		spec.Benefit = &Benefit{Type: BenefitPercent, Value: 10}
	}
	c, err := s.CreateCampaign(ctx, spec)
	require.NoError(t, err)
	return c
}

// mustGenerate generates n codes and returns them in creation order.
func mustGenerate(t testing.TB, s *Store, campaign string, n int) []string {
	t.Helper()
	res, err := s.Generate(ctx, campaign, GenerateRequest{Count: n})
	require.NoError(t, err)
	require.Equal(t, n, res.Generated)
	page, err := s.Codes(campaign, CodeQuery{Limit: n + 10})
	require.NoError(t, err)
	var out []string
	for _, c := range page.Codes {
		out = append(out, c.Code)
	}
	return out
}

func requireCode(t testing.TB, err error, code string) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, ErrorCode(err), "error: %v", err)
}
