package store

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"promo/store/kv/etcdkv/etcdtest"
)

// Benchmarks of the store on a 3-member etcd cluster embedded in the test
// process (no fsync: a test cluster, CPU-bound on a small machine), each
// beside the bare clientv3 figure of the same writes on the same cluster in
// the same run, so that the ratio says what promo's rules cost:
//
//	go test -run '^$' -bench Cluster -benchtime 4000x ./store
//	go test -run '^$' -bench Cluster_Generate -cluster.codes 1000000 ./store

var clusterCodes = flag.Int("cluster.codes", 100_000, "codes BenchmarkCluster_Generate generates")

// BenchmarkCluster_Redeem redeems b.N codes through one or two promo nodes
// from 16 or 64 goroutines, in chunks that alternate with the bare figure:
// clientv3 Txns of as many puts as one redemption writes, one per call.
func BenchmarkCluster_Redeem(b *testing.B) {
	for _, nodes := range []int{1, 2} {
		for _, callers := range []int{16, 64} {
			b.Run(fmt.Sprintf("nodes=%d/callers=%d", nodes, callers), func(b *testing.B) {
				benchmarkClusterRedeem(b, nodes, callers)
			})
		}
	}
}

func benchmarkClusterRedeem(b *testing.B, nodes, callers int) {
	c := etcdtest.Start(b, etcdtest.Options{})
	eo := EtcdOptions{Endpoints: c.Endpoints(), Prefix: "/bench/"}
	stores := make([]*Store, nodes)
	for i := range stores {
		s, err := OpenEtcd(ctx, eo, Options{})
		require.NoError(b, err)
		b.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	mustCampaign(b, stores[0], CampaignSpec{ID: "c", Kind: KindGeneric})
	res, err := stores[0].Generate(ctx, "c", GenerateRequest{Count: b.N + 1})
	require.NoError(b, err)
	require.Equal(b, b.N+1, res.Generated)
	var codes []string
	require.NoError(b, stores[0].EachCode("c", "", func(c Code) error { codes = append(codes, c.Code); return nil }))

	cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second})
	require.NoError(b, err)
	b.Cleanup(func() { cli.Close() })
	// The keys one redemption writes when it commits alone: the bare Txn
	// writes as many.
	before, err := cli.Get(ctx, "/bench/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	require.NoError(b, err)
	_, err = stores[0].Redeem(ctx, RedeemRequest{Code: codes[0], OrderAmount: 1000})
	require.NoError(b, err)
	written, err := cli.Get(ctx, "/bench/", clientv3.WithPrefix(), clientv3.WithKeysOnly(),
		clientv3.WithMinModRev(before.Header.Revision+1))
	require.NoError(b, err)
	writes := len(written.Kvs)
	codes = codes[1:]

	value := strings.Repeat("v", 100)
	var bareSeq atomic.Int64
	bare := func(int) error {
		n := bareSeq.Add(1)
		ops := make([]clientv3.Op, writes)
		for j := range ops {
			ops[j] = clientv3.OpPut(fmt.Sprintf("/bare/%012d/%d", n, j), value)
		}
		_, err := cli.Txn(ctx).Then(ops...).Commit()
		return err
	}
	var next atomic.Int64
	redeem := func(caller int) error {
		code := codes[next.Add(1)-1]
		_, err := stores[caller%nodes].Redeem(ctx, RedeemRequest{Code: code, OrderAmount: 1000})
		return err
	}

	var promoTime, bareTime time.Duration
	commits0, ops0 := writerTotals(stores)
	chunks := min(16, b.N)
	b.ResetTimer()
	for i := range chunks {
		n := b.N*(i+1)/chunks - b.N*i/chunks
		promoTime += etcdtest.Concurrently(b, callers, n, redeem)
		bareTime += etcdtest.Concurrently(b, callers, n, bare)
	}
	b.StopTimer()
	commits, ops := writerTotals(stores)
	promoRate, bareRate := float64(b.N)/promoTime.Seconds(), float64(b.N)/bareTime.Seconds()
	b.ReportMetric(promoRate, "redemptions/s")
	b.ReportMetric(bareRate, "bare-txns/s")
	b.ReportMetric(promoRate/bareRate, "ratio")
	b.ReportMetric(float64(writes), "keys/redemption")
	b.ReportMetric(float64(ops-ops0)/float64(max(commits-commits0, 1)), "redemptions/txn")
	b.ReportMetric(0, "ns/op") // the rates say it; one op is two

	st, err := stores[nodes-1].CampaignStats("c")
	require.NoError(b, err)
	require.EqualValues(b, b.N+1, st.Counts.Redeemed, "every redemption counted once")
}

func writerTotals(stores []*Store) (commits, ops int64) {
	for _, s := range stores {
		w := s.Writer()
		commits, ops = commits+w.Commits, ops+w.Operations
	}
	return commits, ops
}

// BenchmarkCluster_Generate generates -cluster.codes codes into a cluster
// at etcd's default limits, then writes the same keys and values again
// under another prefix with a bare loop of Txns of as many puts as etcd
// takes (128), one at a time as promo's writer runs its transactions.
func BenchmarkCluster_Generate(b *testing.B) {
	for range b.N {
		c := etcdtest.Start(b, etcdtest.Options{})
		s, err := OpenEtcd(ctx, EtcdOptions{Endpoints: c.Endpoints(), Prefix: "/gen/"}, Options{})
		require.NoError(b, err)
		mustCampaign(b, s, CampaignSpec{ID: "big", Kind: KindGeneric})
		n := *clusterCodes
		start := time.Now()
		res, err := s.Generate(ctx, "big", GenerateRequest{Count: n})
		promoTime := time.Since(start)
		require.NoError(b, err)
		require.Equal(b, n, res.Generated)
		require.NoError(b, s.Close())

		cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second})
		require.NoError(b, err)
		status, err := cli.Status(ctx, c.Endpoint(c.Leader()))
		require.NoError(b, err)
		var keys, bytes int
		var puts []clientv3.Op
		for from := "/gen/"; ; {
			page, err := cli.Get(ctx, from, clientv3.WithRange(clientv3.GetPrefixRangeEnd("/gen/")), clientv3.WithLimit(10_000))
			require.NoError(b, err)
			for _, kv := range page.Kvs {
				keys, bytes = keys+1, bytes+len(kv.Key)+len(kv.Value)
				puts = append(puts, clientv3.OpPut("/bare/"+strings.TrimPrefix(string(kv.Key), "/gen/"), string(kv.Value)))
			}
			if !page.More {
				break
			}
			from = string(page.Kvs[len(page.Kvs)-1].Key) + "\x00"
		}
		rand.Shuffle(len(puts), func(i, j int) { puts[i], puts[j] = puts[j], puts[i] }) // codes come in random order
		start = time.Now()
		for i := 0; i < len(puts); i += 128 {
			_, err := cli.Txn(context.Background()).Then(puts[i:min(i+128, len(puts))]...).Commit()
			require.NoError(b, err)
		}
		bareTime := time.Since(start)
		cli.Close()

		b.ReportMetric(float64(n)/promoTime.Seconds(), "codes/s")
		b.ReportMetric(promoTime.Seconds(), "promo-s")
		b.ReportMetric(bareTime.Seconds(), "bare-put-s")
		b.ReportMetric(bareTime.Seconds()/promoTime.Seconds(), "ratio")
		b.ReportMetric(float64(bytes)/float64(n), "kv-bytes/code")
		b.ReportMetric(float64(keys)/float64(n), "keys/code")
		b.ReportMetric(float64(status.DbSizeInUse)/float64(n), "db-bytes/code") // promo's alone, before the copy
		c.Close()
	}
	b.ReportMetric(0, "ns/op")
}
