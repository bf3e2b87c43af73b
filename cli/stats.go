package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"

	urfave "github.com/urfave/cli/v2"

	"promo/store"
)

func (e *env) statsCommand() *urfave.Command {
	return &urfave.Command{
		Name:      "stats",
		Usage:     "show what the codes did: one campaign in detail, or all campaigns",
		UsageText: "promo stats [ID]",
		Description: describe("With ID: the campaign's counts, its daily assignments and redemptions as a bar chart,\n"+
			"and breakdowns by channel and terminal, top referrers and refusals by reason. Without: every\n"+
			"campaign, the totals, rejected lookups by stage (typo, filter, store) and the Bloom filter.",
			"promo stats welcome-2026",
			"promo stats"),
		Action: func(c *urfave.Context) error {
			id, err := optionalArg(c)
			if err != nil {
				return err
			}
			return e.withBackend(c, false, func(b Backend) error {
				if id == "" {
					return e.overview(b)
				}
				return e.campaignStats(b, id)
			})
		},
	}
}

// chartDays is how many days of activity the daily chart shows.
const chartDays = 30

func (e *env) campaignStats(b Backend, id string) error {
	s, err := b.CampaignStats(id)
	if err != nil {
		return err
	}
	if e.json {
		return e.printJSON(s)
	}
	camp, err := b.Campaign(id)
	if err != nil {
		return err
	}
	cur, w := camp.Benefit.Currency, e.stdout
	n := s.Counts
	t := newTable(w)
	t.row("campaign", fmt.Sprintf("%s (%s), %s, %s", s.Campaign, s.Name, s.Kind, s.Status))
	t.row("codes now", fmt.Sprintf("%d: available %d, assigned now %d, redeemed %d, voided %d",
		n.Codes, n.ByState.Available, n.ByState.Assigned, n.ByState.Redeemed, n.ByState.Voided))
	t.row("made", fmt.Sprintf("generated %d, imported %d", n.Generated, n.Imported))
	t.row("handed out", plural(n.Assigned, "code", "codes")+" ever assigned to a customer")
	t.row("redemptions", fmt.Sprintf("%d in force, %d rolled back", n.Redeemed, n.RolledBack))
	t.row("use rate", useRateText(s))
	t.row("assigned used", assignedUseText(s))
	t.row("discounts", fmt.Sprintf("%s on orders of %s", money(n.DiscountTotal, cur), money(n.OrderTotal, cur)))
	if err := t.flush(); err != nil {
		return err
	}
	if len(s.Daily) > 0 {
		printDaily(w, s.Daily)
	}
	for _, dim := range []struct {
		title, column string
		rows          []store.DimStats
	}{{"BY CHANNEL", "CHANNEL", s.ByChannel}, {"BY TERMINAL", "TERMINAL", s.ByTerminal}} {
		if len(dim.rows) == 0 {
			continue
		}
		section(w, dim.title)
		t := newTable(w, dim.column, "HANDED OUT", "REDEEMED", "ROLLED BACK", "DISCOUNT", "ORDERS")
		for _, d := range dim.rows {
			t.row(d.Name, d.Assigned, d.Redeemed, d.RolledBack, money(d.Discount, cur), money(d.Orders, cur))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if len(s.TopReferrers) > 0 {
		section(w, "TOP REFERRERS")
		t := newTable(w, "CUSTOMER", "CODE", "REDEMPTIONS")
		for _, r := range s.TopReferrers {
			t.row(r.CustomerID, r.Code, r.Redemptions)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if len(s.Rejected) > 0 {
		section(w, "REFUSALS")
		reasons := make([]string, 0, len(s.Rejected))
		for r := range s.Rejected {
			reasons = append(reasons, r)
		}
		sort.Slice(reasons, func(i, j int) bool {
			a, b := s.Rejected[reasons[i]], s.Rejected[reasons[j]]
			return a > b || a == b && reasons[i] < reasons[j]
		})
		t := newTable(w, "REASON", "COUNT")
		for _, r := range reasons {
			t.row(r, s.Rejected[r])
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	return printControls(w, s, cur)
}

// useRateText is the use rate with what it divides: redemptions in force
// over the uses the campaign's codes allow.
func useRateText(s store.CampaignStats) string {
	if s.UseRate == nil {
		return "- (no codes yet)"
	}
	return fmt.Sprintf("%.1f%%: %s of the %s its codes allow", 100**s.UseRate, plural(s.Counts.Redeemed, "redemption", "redemptions"), plural(s.UsesAvailable, "use", "uses"))
}

// assignedUseText is the assigned-use rate with what it divides: assigned
// codes with a redemption in force over the codes ever assigned.
func assignedUseText(s store.CampaignStats) string {
	if s.AssignedUseRate == nil {
		return "- (no code assigned to a customer: see the use rate)"
	}
	return fmt.Sprintf("%.1f%%: %d of the %s handed out used at least once", 100**s.AssignedUseRate, s.Counts.AssignedUsed, plural(s.Counts.Assigned, "code", "codes"))
}

// printControls shows a campaign's budget use, suspected leaks and batches.
func printControls(w io.Writer, s store.CampaignStats, cur string) error {
	if b := s.Budget; b != nil {
		section(w, "BUDGET")
		t := newTable(w, "OF", "CAP", "USED", "HELD IN CARTS", "LEFT")
		if b.Redemptions > 0 {
			t.row("redemptions", b.Redemptions, b.RedemptionsUsed, b.RedemptionsHeld, max(0, b.Redemptions-b.RedemptionsUsed-b.RedemptionsHeld))
		}
		if b.Discount > 0 {
			t.row("discount", money(b.Discount, cur), money(b.DiscountUsed, cur), money(b.DiscountHeld, cur),
				money(max(0, b.Discount-b.DiscountUsed-b.DiscountHeld), cur))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if len(s.SuspectedLeaks) > 0 {
		section(w, "SUSPECTED LEAKS (refused to "+fmt.Sprint(store.LeakCustomers)+" or more customers: shared? `promo void CODE`)")
		t := newTable(w, "CODE", "REFUSALS", "CUSTOMERS", "FLAGGED")
		for _, l := range s.SuspectedLeaks {
			t.row(l.Code, l.Refusals, l.Customers, timeText(&l.FlaggedAt))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if len(s.Batches) > 0 {
		section(w, "BATCHES")
		t := newTable(w, "BATCH", "KIND", "CODES", "CREATED")
		for _, b := range s.Batches {
			t.row(b.ID, b.Kind, b.Done, timeText(&b.CreatedAt))
		}
		return t.flush()
	}
	return nil
}

// printDaily shows the last days with activity as a bar chart of
// redemptions.
func printDaily(w io.Writer, days []store.DayStats) {
	if len(days) > chartDays {
		days = days[len(days)-chartDays:]
	}
	section(w, fmt.Sprintf("DAILY (the last %s with activity)", plural(int64(len(days)), "day", "days")))
	peak := int64(0)
	for _, d := range days {
		peak = max(peak, d.Redeemed)
	}
	const width = 40
	t := newTable(w, "DATE", "HANDED OUT", "REDEEMED", "ROLLED BACK", "")
	for _, d := range days {
		bar := ""
		if peak > 0 && d.Redeemed > 0 {
			bar = strings.Repeat("█", max(1, int(d.Redeemed*width/peak)))
		}
		t.row(d.Date, d.Assigned, d.Redeemed, d.RolledBack, bar)
	}
	_ = t.flush()
}

func (e *env) overview(b Backend) error {
	o, err := b.Stats()
	if err != nil {
		return err
	}
	if e.json {
		return e.printJSON(o)
	}
	camps, err := b.Campaigns()
	if err != nil {
		return err
	}
	currency := map[string]string{}
	for _, c := range camps {
		currency[c.ID] = c.Benefit.Currency
	}
	w := e.stdout
	if len(o.Campaigns) == 0 {
		fmt.Fprintln(w, "no campaigns yet")
	} else {
		t := newTable(w, "CAMPAIGN", "KIND", "STATUS", "CODES", "AVAILABLE", "HANDED OUT", "REDEEMED", "ROLLED BACK", "USE RATE", "DISCOUNTS")
		for _, s := range o.Campaigns {
			rate := "-"
			if s.UseRate != nil {
				rate = fmt.Sprintf("%.1f%%", 100**s.UseRate)
			}
			n := s.Counts
			t.row(s.Campaign, s.Kind, s.Status, n.Codes, n.ByState.Available, n.Assigned, n.Redeemed, n.RolledBack,
				rate, money(n.DiscountTotal, currency[s.Campaign]))
		}
		n := o.Totals
		total := "by currency below"
		if len(o.TotalsByCurrency) == 1 {
			total = money(o.TotalsByCurrency[0].DiscountTotal, o.TotalsByCurrency[0].Currency)
		}
		t.row("TOTAL", "", "", n.Codes, n.ByState.Available, n.Assigned, n.Redeemed, n.RolledBack, "", total)
		if err := t.flush(); err != nil {
			return err
		}
		fmt.Fprintln(w, "USE RATE: redemptions in force of the uses the codes allow")
		if len(o.TotalsByCurrency) > 1 {
			section(w, "MONEY BY CURRENCY")
			t := newTable(w, "CURRENCY", "CAMPAIGNS", "REDEMPTIONS", "DISCOUNTS", "ORDERS")
			for _, c := range o.TotalsByCurrency {
				t.row(orNone(c.Currency), c.Campaigns, c.Redeemed, money(c.DiscountTotal, c.Currency), money(c.OrderTotal, c.Currency))
			}
			if err := t.flush(); err != nil {
				return err
			}
		}
	}
	section(w, "REJECTED LOOKUPS")
	r := o.RejectedLookups
	t := newTable(w, "MALFORMED", "TYPO", "FILTER", "STORE")
	t.row(r.Malformed, r.Typo, r.Filter, r.Store)
	if err := t.flush(); err != nil {
		return err
	}
	section(w, "FILTER")
	f := o.Filter
	t = newTable(w)
	t.row("codes", fmt.Sprintf("%d of a capacity of %d, in %s", f.Count, f.Capacity, plural(int64(f.Layers), "layer", "layers")))
	t.row("size", sizeText(int64(f.SizeBytes)))
	t.row("false positives", fmt.Sprintf("%.3f%% of absent codes reach the database", 100*f.FPRate))
	t.row("events", o.Events)
	return t.flush()
}
