package store

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// recountFromEvents rebuilds every campaign's counters from the event log
// alone, the way a shop's CRM fed by /v1/events would.
func recountFromEvents(t *testing.T, s *Store) map[string]Counts {
	events, err := s.Events(0, 0)
	require.NoError(t, err)
	out := map[string]Counts{}
	for i, e := range events {
		require.Equal(t, uint64(i+1), e.Seq, "the log has no gaps")
		c := out[e.Campaign]
		switch e.Type {
		case EventCodesGenerated:
			c.Generated += e.Count
		case EventCodesImported:
			c.Imported += e.Count
		case EventCodeAssigned:
			c.Assigned++
		case EventCodeRedeemed:
			c.Redeemed++
			c.DiscountTotal += e.Discount
			c.OrderTotal += e.OrderAmount
		case EventRolledBack:
			c.Redeemed--
			c.RolledBack++
			c.DiscountTotal -= e.Discount
			c.OrderTotal -= e.OrderAmount
		case EventCodeVoided:
			c.Voided++
		}
		c.Codes = c.Generated + c.Imported
		out[e.Campaign] = c
	}
	return out
}

// After a random mixed workload from many goroutines, every counter equals
// a recount of the data (Check) and a recount of the event log.
func TestStore_RandomWorkload_CountersMatchRecounts(t *testing.T) {
	s, clk := testStore(t, Options{ChunkSize: 300})
	mustCampaign(t, s, CampaignSpec{ID: "thanks", Benefit: &Benefit{Type: BenefitAmount, Value: 500, Currency: "EUR"}})
	mustCampaign(t, s, CampaignSpec{ID: "ref", Kind: KindReferral, Referral: &Referral{RewardCampaign: "thanks"}, MaxRedemptionsPerCode: ptr(3)})
	mustCampaign(t, s, CampaignSpec{ID: "welcome", Kind: KindWelcome})
	mustCampaign(t, s, CampaignSpec{ID: "event", MaxRedemptionsPerCode: ptr(2), Benefit: &Benefit{Type: BenefitPercent, Value: 15}})
	mustCampaign(t, s, CampaignSpec{ID: "cart", Kind: KindCartRecovery, ValidFor: Duration(time.Hour)})
	campaigns := []string{"ref", "welcome", "event", "cart", "thanks"}
	for _, c := range campaigns {
		mustGenerate(t, s, c, 200)
	}
	_, err := s.Import(ctx, "event", strings.NewReader("code\nFAIR-1\nFAIR-2\nFAIR-3\n"), ImportOptions{})
	require.NoError(t, err)

	var mu sync.Mutex
	var codes, redemptions []string
	remember := func(list *[]string, v string) {
		mu.Lock()
		*list = append(*list, v)
		mu.Unlock()
	}
	pick := func(r *rand.Rand, list *[]string) string {
		mu.Lock()
		defer mu.Unlock()
		if len(*list) == 0 {
			return "NONE"
		}
		return (*list)[r.IntN(len(*list))]
	}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 42))
			for i := 0; i < 300; i++ {
				camp := campaigns[r.IntN(len(campaigns))]
				customer := fmt.Sprintf("cust-%d", r.IntN(40))
				var err error
				switch op := r.IntN(10); {
				case op < 3:
					var c Code
					c, err = s.Assign(ctx, camp, AssignRequest{CustomerID: customer, Channel: Channels[r.IntN(len(Channels))]})
					if err == nil {
						remember(&codes, c.Code)
					}
				case op < 7:
					var red Redemption
					red, err = s.Redeem(ctx, RedeemRequest{Code: pick(r, &codes), CustomerID: customer,
						OrderAmount: int64(r.IntN(10_000)), Terminal: fmt.Sprintf("t%d", r.IntN(3))})
					if err == nil {
						remember(&redemptions, red.ID)
					}
				case op < 8:
					_, err = s.Rollback(ctx, pick(r, &redemptions), RollbackRequest{Reason: "test"})
				case op < 9:
					_, err = s.Void(ctx, pick(r, &codes), "test")
				default:
					if r.IntN(10) == 0 {
						_, err = s.Generate(ctx, camp, GenerateRequest{Count: 1 + r.IntN(500)})
					} else {
						clk.Add(time.Duration(r.IntN(20)) * time.Minute)
					}
				}
				if err != nil && !isRuleError(err) {
					t.Errorf("unexpected: %v", err)
				}
			}
		}(w)
	}
	wg.Wait()

	findings, err := s.Check(ctx)
	require.NoError(t, err)
	require.Empty(t, findings)
	fromEvents := recountFromEvents(t, s)
	total := int64(0)
	for _, id := range campaigns {
		c, err := s.Campaign(id)
		require.NoError(t, err)
		want := *c.Counts
		// States are not events (Check recounts them from the codes).
		want.ByState, want.AssignedNow, want.AssignedUsed = StateCounts{}, 0, 0
		got := fromEvents[id]
		got.EverAssigned = got.Assigned
		require.Equal(t, want, got, "campaign %s", id)
		total += c.Counts.Redeemed
	}
	require.Greater(t, total, int64(50), "the workload redeemed codes")
}
