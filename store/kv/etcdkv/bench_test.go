package etcdkv_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"promo/store/kv"
	"promo/store/kv/etcdkv"
	"promo/store/kv/etcdkv/etcdtest"
)

// Redemption-shaped updates, against bare Txns with as many key writes, on
// a 3-member cluster of this process that syncs its log as production
// members do (-args -etcd.fsync=false: that does not):
//
//	go test -run '^$' -bench Update -benchtime 8000x ./store/kv/etcdkv
//
// Each update reads one of benchCodes random keys, writes it back changed,
// and appends benchWrites-1 new keys; each bare Txn puts the same keys
// without a read or a compare. The engine runs with linearizable and with
// optimistic first reads (Options.OptimisticReads). Engine and bare Txns
// run in one benchmark, in alternating chunks, so that they share the
// machine's state; the ratio is the engine's rate over the bare one.
const (
	benchCodes  = 10_000
	benchWrites = 8
)

var benchFsync = flag.Bool("etcd.fsync", true, "benchmark members sync their log (false: CPU-bound figures)")

func BenchmarkUpdate(b *testing.B) {
	for _, optimistic := range []bool{false, true} {
		reads := map[bool]string{false: "linearizable", true: "optimistic"}[optimistic]
		for _, callers := range []int{16, 64} {
			b.Run(fmt.Sprintf("reads=%s/callers=%d", reads, callers), func(b *testing.B) {
				benchmarkUpdate(b, optimistic, callers)
			})
		}
	}
}

// benchmarkUpdate runs on a cluster of its own, so that each figure starts
// from the same state.
func benchmarkUpdate(b *testing.B, optimistic bool, callers int) {
	c := etcdtest.Start(b, etcdtest.Options{Fsync: *benchFsync})
	prefix := "/bench/"
	e := open(b, c, etcdkv.Options{Prefix: prefix, Timeout: 30 * time.Second, OptimisticReads: optimistic})
	value := make([]byte, 100)
	for i := 0; i < benchCodes; i += 100 {
		if err := e.Update(func(tx kv.RwTx) error {
			for j := i; j < i+100; j++ {
				tx.Put("codes", fmt.Appendf(nil, "%08d", j), value)
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	cli := client(b, c)
	var seq atomic.Int64 // unique keys for appends

	update := func() error {
		code := fmt.Appendf(nil, "%08d", rand.N(benchCodes))
		return e.Update(func(tx kv.RwTx) error {
			v := tx.Get("codes", code)
			changed := append([]byte{'r'}, v[1:]...)
			tx.Put("codes", code, changed)
			n := seq.Add(1)
			for j := 1; j < benchWrites; j++ {
				tx.Put("events", fmt.Appendf(nil, "%012d-%d", n, j), value)
			}
			return nil
		})
	}
	bare := func() error {
		code := fmt.Sprintf("%scodes/%08d", prefix, rand.N(benchCodes))
		ops := []clientv3.Op{clientv3.OpPut(code, string(value))}
		n := seq.Add(1)
		for j := 1; j < benchWrites; j++ {
			ops = append(ops, clientv3.OpPut(fmt.Sprintf("%sevents/%012d-%d", prefix, n, j), string(value)))
		}
		_, err := cli.Txn(context.Background()).Then(ops...).Commit()
		return err
	}

	// Alternating chunks share the machine's ups and downs.
	var engineTime, bareTime time.Duration
	chunks := min(32, b.N)
	b.ResetTimer()
	for i := 0; i < chunks; i++ {
		n := b.N*(i+1)/chunks - b.N*i/chunks
		engineTime += etcdtest.Concurrently(b, callers, n, func(int) error { return update() })
		bareTime += etcdtest.Concurrently(b, callers, n, func(int) error { return bare() })
	}
	engineRate := float64(b.N) / engineTime.Seconds()
	bareRate := float64(b.N) / bareTime.Seconds()
	b.ReportMetric(engineRate, "updates/s")
	b.ReportMetric(bareRate, "bare-txns/s")
	b.ReportMetric(engineRate/bareRate, "ratio")
	b.ReportMetric(0, "ns/op") // the two rates say it; one op is two
}
