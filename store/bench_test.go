package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"promo/gen"
	"promo/store/kv"
)

// peakHeap samples the heap every 5 ms until stop is called, and returns
// the highest HeapInuse seen, in MiB.
func peakHeap() (stop func() float64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return func() float64 {
		close(done)
		wg.Wait()
		return float64(peak.Load()) / (1 << 20)
	}
}

func benchStore(b *testing.B, opts Options) *Store {
	b.Helper()
	s, err := openTest(filepath.Join(b.TempDir(), "bench.db"), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkStore_Generate1M generates and durably stores 1,000,000 codes
// into a fresh store per iteration, reporting codes/s and the peak heap.
func BenchmarkStore_Generate1M(b *testing.B) {
	const n = 1_000_000
	for b.Loop() {
		b.StopTimer()
		s := benchStore(b, Options{})
		if _, err := s.CreateCampaign(context.Background(), CampaignSpec{ID: "w1", Benefit: &Benefit{Type: BenefitPercent, Value: 10}}); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		stop := peakHeap()
		b.StartTimer()
		start := time.Now()
		if _, err := s.Generate(context.Background(), "w1", GenerateRequest{Count: n}); err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		b.ReportMetric(stop(), "peak-heap-MiB")
		b.ReportMetric(n/took.Seconds(), "codes/s")
	}
}

var lookupStore struct {
	once sync.Once
	s    *Store
	err  error
}

// storeWith1M returns a shared store holding 1M codes, made once.
func storeWith1M(b *testing.B) *Store {
	lookupStore.once.Do(func() {
		dir, err := mkdirTemp()
		if err != nil {
			lookupStore.err = err
			return
		}
		s, err := openTest(filepath.Join(dir, "lookup.db"), Options{})
		if err != nil {
			lookupStore.err = err
			return
		}
		if _, err = s.CreateCampaign(context.Background(), CampaignSpec{ID: "c", Benefit: &Benefit{Type: BenefitPercent, Value: 10}}); err == nil {
			_, err = s.Generate(context.Background(), "c", GenerateRequest{Count: 1_000_000})
		}
		lookupStore.s, lookupStore.err = s, err
	})
	if lookupStore.err != nil {
		b.Fatal(lookupStore.err)
	}
	return lookupStore.s
}

// BenchmarkStore_ValidateAbsent validates random well-formed codes that do
// not exist against a store of 1M codes, from parallel goroutines: the
// filter answers, bbolt is not read.
func BenchmarkStore_ValidateAbsent(b *testing.B) {
	s := storeWith1M(b)
	before := s.Rejected()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		g, _ := gen.NewGenerator(gen.DefaultFormat(), nil)
		buf := make([]byte, 0, 16)
		for pb.Next() {
			buf, _ = g.AppendKey(buf[:0], 0, 0)
			v, err := s.Validate(RedeemRequest{Code: string(buf)})
			if err != nil || v.Valid {
				b.Fatal("a random guess was found", err)
			}
		}
	})
	after := s.Rejected()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
	if n := after.Filter + after.Store - before.Filter - before.Store; n > 0 {
		b.ReportMetric(100*float64(after.Store-before.Store)/float64(n), "%-reached-bbolt")
	}
}

// BenchmarkStore_Redeem redeems distinct codes, durably, with 1, 16 and 64
// goroutines: group commit lets concurrent redemptions share an fsync.
// Run with -engine=bolt for bbolt alone, to compare.
func BenchmarkStore_Redeem(b *testing.B) {
	for _, workers := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("goroutines=%d", workers), func(b *testing.B) {
			benchRedeem(b, workers, nil)
		})
	}
}

// BenchmarkStore_RedeemBudget measures what a budget costs the redemption
// path: the same 16 goroutines with no budget and with one on both the
// redemptions and the discount, which no redemption reaches. Compare the
// two in one run (-count alternates them).
func BenchmarkStore_RedeemBudget(b *testing.B) {
	for _, c := range []struct {
		name   string
		budget *Budget
	}{
		{"budget=none", nil},
		{"budget=both", &Budget{Redemptions: maxBudgetRedemptions, Discount: maxMoney}},
	} {
		b.Run(c.name, func(b *testing.B) { benchRedeem(b, 16, c.budget) })
	}
}

// benchRedeem redeems b.N distinct codes of one campaign, with the budget
// given, from workers goroutines.
func benchRedeem(b *testing.B, workers int, budget *Budget) {
	s := benchStore(b, Options{})
	ctx := context.Background()
	benefit := &Benefit{Type: BenefitAmount, Value: 500, Currency: "EUR"}
	if _, err := s.CreateCampaign(ctx, CampaignSpec{ID: "c", Benefit: benefit, Budget: budget}); err != nil {
		b.Fatal(err)
	}
	// Enough codes for the largest b.N the benchmark will try.
	if _, err := s.Generate(ctx, "c", GenerateRequest{Count: 200_000}); err != nil {
		b.Fatal(err)
	}
	codes := make(chan string, 200_000)
	if err := s.EachCode("c", "", func(c Code) error { codes <- c.Code; return nil }); err != nil {
		b.Fatal(err)
	}
	w0, l0 := s.Writer(), s.Storage().Log
	cpu0 := cpuTime()
	b.ResetTimer()
	var wg sync.WaitGroup
	var next atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if _, err := s.Redeem(ctx, RedeemRequest{Code: <-codes, OrderAmount: 5000, Currency: "EUR"}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	reportRedemptions(b, s, w0, l0, cpu0)
}

// cpuTime is the process's user and system time so far: on a machine
// whose disk speed drifts, CPU per operation compares two variants more
// steadily than their rates do.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func mkdirTemp() (string, error) { return os.MkdirTemp("", "promo-bench-") }

// BenchmarkStore_RedeemAssigned redeems assigned codes by their customers,
// each with an Idempotency-Key, as tills do, with 16 goroutines.
func BenchmarkStore_RedeemAssigned(b *testing.B) {
	s := benchStore(b, Options{})
	ctx := context.Background()
	if _, err := s.CreateCampaign(ctx, CampaignSpec{ID: "c", Kind: KindLoyalty, Benefit: &Benefit{Type: BenefitAmount, Value: 500, Currency: "EUR"}}); err != nil {
		b.Fatal(err)
	}
	const n = 100_000
	if _, err := s.Generate(ctx, "c", GenerateRequest{Count: n}); err != nil {
		b.Fatal(err)
	}
	rows := make([]AssignRow, n)
	for i := range rows {
		rows[i] = AssignRow{CustomerID: fmt.Sprintf("cust-%d", i), Channel: ChannelEmail}
	}
	type job struct{ code, customer string }
	jobs := make(chan job, n)
	if err := s.AssignMany(ctx, "c", rows, func(r AssignRow) error { jobs <- job{r.Code, r.CustomerID}; return nil }); err != nil {
		b.Fatal(err)
	}
	w0, l0 := s.Writer(), s.Storage().Log
	cpu0 := cpuTime()
	b.ResetTimer()
	var wg sync.WaitGroup
	var next atomic.Int64
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				j := <-jobs
				req := RedeemRequest{Code: j.code, CustomerID: j.customer, OrderAmount: 5000, Currency: "EUR", Terminal: fmt.Sprintf("till-%d", w),
					Idempotency: &Idempotency{Scope: "till", Key: fmt.Sprintf("sale-%d", i)}}
				if _, err := s.Redeem(ctx, req); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	reportRedemptions(b, s, w0, l0, cpu0)
}

// reportRedemptions reports b.N redemptions since the writer's, the log's
// and the process's figures w0, l0 and cpu0: their rate, CPU each, and how
// many shared a commit and an fdatasync.
func reportRedemptions(b *testing.B, s *Store, w0 WriterStats, l0 *kv.LogStats, cpu0 time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "redemptions/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/redemption")
	w1 := s.Writer()
	b.ReportMetric(float64(w1.Operations-w0.Operations)/float64(w1.Commits-w0.Commits), "redemptions/commit")
	reportLog(b, l0, s.Storage().Log)
}

// reportLog reports the log's work during the benchmark: redemptions per
// fdatasync and the fdatasync's mean time.
func reportLog(b *testing.B, l0, l1 *kv.LogStats) {
	if l0 == nil || l1 == nil || l1.Syncs == l0.Syncs {
		return
	}
	syncs := float64(l1.Syncs - l0.Syncs)
	b.ReportMetric(float64(b.N)/syncs, "redemptions/fdatasync")
	b.ReportMetric(1e6*(l1.SyncSeconds-l0.SyncSeconds)/syncs, "µs/fdatasync")
}
