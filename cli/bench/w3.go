package bench

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"promo/store"
)

// W3, W3-idem and W3-race: durable redemptions.

// w3 gives each client its own k codes and redeems them one at a time,
// each answered 201; then the campaign must count exactly that many more
// redemptions. With idem, each code's customer redeems it ("cust-CODE",
// see benchW3Idem) under an Idempotency-Key of its own. It returns the
// seconds and every redemption's latency.
func (s *benchServer) w3(ctx context.Context, codes []string, clients, k int, idem bool) (float64, latencies, error) {
	campaign := "w1"
	if idem {
		campaign = "w3idem"
	}
	before, err := s.admin.Campaign(campaign)
	if err != nil {
		return 0, nil, err
	}
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := make(chan struct{})
	lat := make([]latencies, clients)
	for i := 0; i < clients; i++ {
		mine := codes[i*k : (i+1)*k]
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := dialRaw(s.base) // connected before the timer starts
			if err != nil {
				once.Do(func() { firstErr = err })
				return
			}
			defer conn.Close()
			lat[i] = make(latencies, 0, len(mine))
			<-start
			for j, code := range mine {
				body, key := []byte(`{"code":"`+code+`"}`), ""
				if idem {
					body = []byte(`{"code":"` + code + `","customer_id":"cust-` + code + `","order_amount":5000,"currency":"EUR","terminal":"till-` + strconv.Itoa(i) + `"}`)
					key = "till-" + strconv.Itoa(i) + "-" + code + "-" + strconv.Itoa(j)
				}
				t0 := time.Now()
				status, b, err := conn.postIdem("/v1/redeem", s.posKey, key, body)
				if err != nil || status != http.StatusCreated {
					once.Do(func() { firstErr = fmt.Errorf("W3: %s answered %d %s: %v", code, status, b, err) })
					return
				}
				lat[i] = append(lat[i], time.Since(t0))
			}
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	secs := time.Since(t0).Seconds()
	if firstErr != nil {
		return 0, nil, firstErr
	}
	after, err := s.admin.Campaign(campaign)
	if err != nil {
		return 0, nil, err
	}
	if got := after.Counts.Redeemed - before.Counts.Redeemed; got != int64(len(codes)) {
		return 0, nil, fmt.Errorf("W3: the store counts %d more redemptions, want %d", got, len(codes))
	}
	var all latencies
	for _, l := range lat {
		all = append(all, l...)
	}
	return secs, all, nil
}

// w3Runs runs w3 cfg.Runs times, each on the next Clients×K of codes, and
// returns each run's rate and redemptions per fdatasync and every
// latency. With idem the codes are assigned ones (W3-idem).
func (s *benchServer) w3Runs(ctx context.Context, cfg Config, codes []string, idem bool) (rates, per []float64, lat latencies, err error) {
	name := "W3"
	if idem {
		name = "W3-idem"
	}
	for r := 1; r <= cfg.Runs; r++ {
		from := (r - 1) * cfg.Clients * cfg.K
		before := s.logCounters()
		secs, l, err := s.w3(ctx, codes[from:from+cfg.Clients*cfg.K], cfg.Clients, cfg.K, idem)
		if err != nil {
			return nil, nil, nil, err
		}
		per = append(per, s.logCounters().perSync(before, cfg.Clients*cfg.K))
		rates = append(rates, float64(cfg.Clients*cfg.K)/secs)
		lat = append(lat, l...)
		cfg.Log("%s run %d: %d redemptions in %.2f s", name, r, cfg.Clients*cfg.K, secs)
	}
	return rates, per, lat, nil
}

// benchW3Idem runs W3 with assigned codes redeemed by their customers
// under Idempotency-Keys, on a fresh server: a campaign bound to its
// customers, each code assigned before the timer starts.
func benchW3Idem(ctx context.Context, self string, cfg Config) error {
	s, err := startBenchServer(ctx, self, filepath.Join(cfg.Dir, "w3idem"))
	if err != nil {
		return err
	}
	defer s.stop()
	n := cfg.Runs * cfg.Clients * cfg.K
	if _, err := s.admin.CreateCampaign(ctx, store.CampaignSpec{ID: "w3idem", Kind: store.KindLoyalty,
		Benefit: &store.Benefit{Type: store.BenefitAmount, Value: 500, Currency: "EUR"}}); err != nil {
		return err
	}
	if _, err := s.admin.Generate(ctx, "w3idem", store.GenerateRequest{Count: n}); err != nil {
		return err
	}
	var codes []string
	if err := s.admin.EachCode("w3idem", "", func(c store.Code) error { codes = append(codes, c.Code); return nil }); err != nil {
		return err
	}
	// The mail merge gives customer cust-CODE its code: rows in creation
	// order get the codes in creation order.
	var csv bytes.Buffer
	csv.WriteString("customer_id\n")
	for _, c := range codes {
		csv.WriteString("cust-" + c + "\n")
	}
	i := 0
	if err := s.admin.AssignFile(ctx, "w3idem", bytes.NewReader(csv.Bytes()), store.ChannelEmail, nil, func(r store.AssignRow) error {
		if r.Code != codes[i] {
			return fmt.Errorf("W3-idem: customer %s got %s, expected %s", r.CustomerID, r.Code, codes[i])
		}
		i++
		return nil
	}); err != nil {
		return err
	}
	rates, per, lat, err := s.w3Runs(ctx, cfg, codes, true)
	if err != nil {
		return err
	}
	result(cfg.Out, "W3-idem", fmt.Sprintf("%.0f", median(rates)), "redemptions/s", fmt.Sprintf("POST /v1/redeem of assigned codes by their customers, each with an Idempotency-Key, %d clients × %d codes; runs: %s; %s; %s redemptions per fdatasync",
		cfg.Clients, cfg.K, floats(rates, "%.0f"), lat.summary(), floats(per, "%.1f")))
	return nil
}

// race has every client walk the same codes at once: each code must get
// exactly one 201 and clients-1 already_redeemed, and be redeemed once.
func (s *benchServer) race(ctx context.Context, codes []string, clients int) (string, string, error) {
	wins := make([]atomic.Int32, len(codes))
	lost := make([]atomic.Int32, len(codes))
	var other atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := dialRaw(s.base)
			if err != nil {
				other.Add(int32(len(codes)))
				return
			}
			defer conn.Close()
			<-start
			for j, code := range codes {
				status, _, err := conn.post("/v1/redeem", s.posKey, []byte(`{"code":"`+code+`"}`))
				switch {
				case err == nil && status == http.StatusCreated:
					wins[j].Add(1)
				case err == nil && status == http.StatusConflict:
					lost[j].Add(1)
				default:
					other.Add(1)
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	pass, totalWins, totalLost := other.Load() == 0, 0, 0
	for j, code := range codes {
		w, l := int(wins[j].Load()), int(lost[j].Load())
		totalWins, totalLost = totalWins+w, totalLost+l
		c, err := s.admin.GetCode(code)
		if err != nil {
			return "", "", err
		}
		pass = pass && w == 1 && l == clients-1 && c.RedemptionCount == 1
	}
	verdict := "FAIL"
	if pass {
		verdict = "PASS"
	}
	return verdict, fmt.Sprintf("%d clients × %d shared codes: %d wins, %d already_redeemed, %d other answers; the store shows each code redeemed once",
		clients, len(codes), totalWins, totalLost, other.Load()), nil
}
