package bench

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"promo/gen"
	"promo/store"
)

// benchFlood measures what a guessing attack does to honest tills: a
// server with the default failed-lookup limit, 15 tills redeeming valid
// codes, first alone, then while one client from another address floods
// it with random guesses as fast as it can. It prints the tills' median
// and 99th-percentile latency and throughput both ways.
func benchFlood(ctx context.Context, self string, cfg Config) error {
	s, err := startBenchServer(ctx, self, filepath.Join(cfg.Dir, "flood"), "--guess-rate", "20", "--guess-burst", "40")
	if err != nil {
		return err
	}
	defer s.stop()
	if _, err := s.admin.CreateCampaign(ctx, store.CampaignSpec{ID: "w1", Benefit: &store.Benefit{Type: store.BenefitPercent, Value: 10}}); err != nil {
		return err
	}
	const tills, per = 15, 1000
	if _, err := s.admin.Generate(ctx, "w1", store.GenerateRequest{Count: 2 * tills * per}); err != nil {
		return err
	}
	var list []string
	if err := s.admin.EachCode("w1", "", func(c store.Code) error { list = append(list, c.Code); return nil }); err != nil {
		return err
	}
	_, guessKey, err := s.admin.CreateKey(ctx, "guesser", store.RolePOS)
	if err != nil {
		return err
	}
	measure := func(codes []string) ([]time.Duration, float64, error) {
		lat := make([][]time.Duration, tills)
		var firstErr error
		var once sync.Once
		var wg sync.WaitGroup
		start := time.Now()
		for i := 0; i < tills; i++ {
			mine := codes[i*per : (i+1)*per]
			wg.Add(1)
			go func() {
				defer wg.Done()
				conn, err := dialRaw(s.base)
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				defer conn.Close()
				for _, code := range mine {
					t0 := time.Now()
					status, b, err := conn.post("/v1/redeem", s.posKey, []byte(`{"code":"`+code+`"}`))
					if err != nil || status != http.StatusCreated {
						once.Do(func() { firstErr = fmt.Errorf("flood: a till's %s answered %d %s: %v", code, status, b, err) })
						return
					}
					lat[i] = append(lat[i], time.Since(t0))
				}
			}()
		}
		wg.Wait()
		secs := time.Since(start).Seconds()
		var all []time.Duration
		for _, l := range lat {
			all = append(all, l...)
		}
		slices.Sort(all)
		return all, float64(len(all)) / secs, firstErr
	}
	calm, calmRate, err := measure(list[:tills*per])
	if err != nil {
		return err
	}
	// The guesser: its own key and its own address (127.0.0.2), as fast as
	// one connection goes.
	stop := make(chan struct{})
	var guesses, limited atomic.Int64
	var gwg sync.WaitGroup
	gwg.Add(1)
	go func() {
		defer gwg.Done()
		conn, err := dialRawFrom(s.base, "127.0.0.2")
		if err != nil {
			cfg.Log("flood: no second loopback address (%v); the guesser shares the tills' address", err)
			if conn, err = dialRaw(s.base); err != nil {
				return
			}
		}
		defer conn.Close()
		g, _ := gen.NewGenerator(gen.DefaultFormat(), nil)
		body := make([]byte, 0, 32)
		for {
			select {
			case <-stop:
				return
			default:
			}
			body = append(body[:0], `{"code":"`...)
			body, _ = g.AppendKey(body, 0, 0)
			body = append(body, `"}`...)
			status, _, err := conn.post("/v1/redeem", guessKey, body)
			if err != nil {
				return
			}
			guesses.Add(1)
			if status == http.StatusTooManyRequests {
				limited.Add(1)
			}
		}
	}()
	flooded, floodRate, err := measure(list[tills*per:])
	close(stop)
	gwg.Wait()
	if err != nil {
		return err
	}
	pct := func(l []time.Duration, p float64) float64 {
		return float64(l[int(p*float64(len(l)-1))].Microseconds()) / 1000
	}
	result(cfg.Out, "flood", fmt.Sprintf("%.2f", pct(flooded, 0.99)), "ms p99",
		fmt.Sprintf("%d tills redeeming, while one client guesses from another address: p50 %.2f ms, p99 %.2f ms, %.0f redemptions/s; "+
			"without the guesser: p50 %.2f ms, p99 %.2f ms, %.0f redemptions/s; the guesser sent %d guesses, %d answered 429",
			tills, pct(flooded, 0.5), pct(flooded, 0.99), floodRate, pct(calm, 0.5), pct(calm, 0.99), calmRate, guesses.Load(), limited.Load()))
	return nil
}
