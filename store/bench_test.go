package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"promo/gen"
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
			s := benchStore(b, Options{})
			ctx := context.Background()
			if _, err := s.CreateCampaign(ctx, CampaignSpec{ID: "c", Benefit: &Benefit{Type: BenefitPercent, Value: 10}}); err != nil {
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
			b.ResetTimer()
			var wg sync.WaitGroup
			var next atomic.Int64
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						if _, err := s.Redeem(ctx, RedeemRequest{Code: <-codes, OrderAmount: 1000}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "redemptions/s")
			w1 := s.Writer()
			b.ReportMetric(float64(w1.Operations-w0.Operations)/float64(w1.Commits-w0.Commits), "redemptions/commit")
			if l1 := s.Storage().Log; l1 != nil {
				b.ReportMetric(float64(b.N)/float64(l1.Syncs-l0.Syncs), "redemptions/fdatasync")
			}
		})
	}
}

func mkdirTemp() (string, error) { return os.MkdirTemp("", "promo-bench-") }
