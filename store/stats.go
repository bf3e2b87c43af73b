package store

import (
	"encoding/binary"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"promo/store/kv"
)

// DayStats is one UTC day of a campaign: assignments and redemptions made
// that day (redemptions still in force, with their discount and order
// totals) and rollbacks made that day.
type DayStats struct {
	Date       string `json:"date"` // 2006-01-02
	Assigned   int64  `json:"assigned"`
	Redeemed   int64  `json:"redeemed"`
	RolledBack int64  `json:"rolled_back"`
	Discount   int64  `json:"discount"`
	Orders     int64  `json:"orders"`
}

// DimStats is a campaign's activity through one channel or terminal.
type DimStats struct {
	Name       string `json:"name"`
	Assigned   int64  `json:"assigned"`
	Redeemed   int64  `json:"redeemed"`
	RolledBack int64  `json:"rolled_back"`
	Discount   int64  `json:"discount"`
	Orders     int64  `json:"orders"`
}

// Referrer is a referral code's owner and what the code brought in.
type Referrer struct {
	CustomerID  string `json:"customer_id"`
	Code        string `json:"code"`
	Redemptions int64  `json:"redemptions"`
}

// CampaignStats is everything promo counts about a campaign.
type CampaignStats struct {
	Campaign string `json:"campaign"`
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Status   string `json:"status"`
	Counts   Counts `json:"counts"`
	// Currency is the campaign's currency, in which its amounts count;
	// "" for a campaign without one (its amounts are then sums of the
	// orders' amounts whatever their currency).
	Currency string `json:"currency"`
	// RedemptionRate is redemptions in force ÷ codes ever assigned; null
	// while nothing is assigned. It exceeds 1 when codes have several uses
	// (referral) or unassigned codes are redeemed: UseRate and
	// AssignedUseRate are the rates that mean the same for every kind.
	RedemptionRate *float64 `json:"redemption_rate"`
	// UsesAvailable is how many redemptions the campaign's codes allow in
	// all: codes × max_redemptions_per_code.
	UsesAvailable int64 `json:"uses_available"`
	// UseRate is redemptions in force ÷ UsesAvailable (0 to 1); null
	// while the campaign has no codes.
	UseRate *float64 `json:"use_rate"`
	// AssignedUseRate is the codes given to a customer with at least one
	// redemption in force ÷ the codes ever given to a customer (0 to 1);
	// null while nothing is assigned (printed codes: see UseRate).
	AssignedUseRate *float64   `json:"assigned_use_rate"`
	Daily           []DayStats `json:"daily"`
	ByChannel       []DimStats `json:"by_channel"`
	ByTerminal      []DimStats `json:"by_terminal"`
	// TopReferrers lists, for a referral campaign, the ten codes that were
	// redeemed most.
	TopReferrers []Referrer `json:"top_referrers,omitempty"`
	// Rejected counts refused validations and redemptions of this
	// campaign's codes by reason.
	Rejected map[string]int64 `json:"rejected"`
	// Budget is the campaign's budget and its use, when it has one.
	Budget *BudgetUse `json:"budget,omitempty"`
	// Batches are the campaign's generations and imports, oldest first.
	Batches []Batch `json:"batches,omitempty"`
	// SuspectedLeaks are codes refused to LeakCustomers or more distinct
	// customers, most refused first.
	SuspectedLeaks []Leak `json:"suspected_leaks,omitempty"`
}

// BudgetUse is a campaign's budget (0: no cap) beside what redemptions in
// force and live holds take of it.
type BudgetUse struct {
	Redemptions     int64 `json:"redemptions"`
	Discount        int64 `json:"discount"`
	RedemptionsUsed int64 `json:"redemptions_used"`
	DiscountUsed    int64 `json:"discount_used"`
	RedemptionsHeld int64 `json:"redemptions_held"`
	DiscountHeld    int64 `json:"discount_held"`
}

// Overview is the stats of all campaigns together.
type Overview struct {
	Campaigns []CampaignStats `json:"campaigns"`
	// Totals adds up every campaign's counts; its money fields add up
	// amounts of different currencies, so read TotalsByCurrency for money.
	Totals Counts `json:"totals"`
	// TotalsByCurrency is the money of the campaigns, one entry per
	// campaign currency ("" for campaigns without one), in order.
	TotalsByCurrency []CurrencyTotals `json:"totals_by_currency"`
	RejectedLookups  Rejected         `json:"rejected_lookups"`
	Filter           FilterInfo       `json:"filter"`
	Events           uint64           `json:"events"`
	Storage          StorageInfo      `json:"storage"`
}

// CurrencyTotals is the redemptions, discounts and order amounts of the
// campaigns of one currency, in its minor units.
type CurrencyTotals struct {
	Currency      string `json:"currency"` // "" for campaigns without a currency
	Campaigns     int    `json:"campaigns"`
	Redeemed      int64  `json:"redeemed"`
	DiscountTotal int64  `json:"discount_total"`
	OrderTotal    int64  `json:"order_total"`
}

// StorageInfo is the engine's storage: FileBytes the size of its files
// (the database file and the log's segments), UsedBytes the database
// file's pages in use (it also holds free pages and room bbolt allocated
// ahead). Log, the write-ahead log's figures, changes from moment to
// moment, so it is for /metrics, not part of the stats' JSON.
type StorageInfo struct {
	FileBytes int64        `json:"file_bytes"`
	UsedBytes int64        `json:"used_bytes"`
	Codes     int64        `json:"codes"`
	Log       *kv.LogStats `json:"-"`
}

// CampaignStats returns the campaign's counters, daily series, breakdowns
// and refusals. It returns not_found.
func (s *Store) CampaignStats(id string) (CampaignStats, error) {
	c, err := s.campaign(id)
	if err != nil {
		return CampaignStats{}, err
	}
	var out CampaignStats
	err = s.view(func(tx kv.Tx) error {
		var err error
		out, err = s.campaignStats(tx, c, true)
		return err
	})
	return out, err
}

// Stats returns every campaign's stats (without daily series) and the
// totals, failed lookups by stage, and the filter's fill.
func (s *Store) Stats() (Overview, error) {
	out := Overview{Campaigns: []CampaignStats{}, TotalsByCurrency: []CurrencyTotals{}, RejectedLookups: s.Rejected(), Filter: s.Filter()}
	byCur := map[string]*CurrencyTotals{}
	s.settleEvents() // out.Events counts every event committed before the call
	err := s.view(func(tx kv.Tx) error {
		for _, c := range s.cat.Load().sorted() {
			cs, err := s.campaignStats(tx, c, false)
			if err != nil {
				return err
			}
			out.Campaigns = append(out.Campaigns, cs)
			t, n := &out.Totals, cs.Counts
			t.Codes += n.Codes
			t.Generated += n.Generated
			t.Imported += n.Imported
			t.Assigned += n.Assigned
			t.Redeemed += n.Redeemed
			t.RolledBack += n.RolledBack
			t.Voided += n.Voided
			t.DiscountTotal += n.DiscountTotal
			t.OrderTotal += n.OrderTotal
			t.ByState.Available += n.ByState.Available
			t.ByState.Assigned += n.ByState.Assigned
			t.ByState.Redeemed += n.ByState.Redeemed
			t.ByState.Voided += n.ByState.Voided
			t.EverAssigned += n.EverAssigned
			t.AssignedNow += n.AssignedNow
			t.AssignedUsed += n.AssignedUsed
			ct := byCur[cs.Currency]
			if ct == nil {
				ct = &CurrencyTotals{Currency: cs.Currency}
				byCur[cs.Currency] = ct
			}
			ct.Campaigns++
			ct.Redeemed += n.Redeemed
			ct.DiscountTotal += n.DiscountTotal
			ct.OrderTotal += n.OrderTotal
		}
		for _, ct := range byCur {
			out.TotalsByCurrency = append(out.TotalsByCurrency, *ct)
		}
		sort.Slice(out.TotalsByCurrency, func(i, j int) bool {
			a, b := out.TotalsByCurrency[i].Currency, out.TotalsByCurrency[j].Currency
			return a != "" && (b == "" || a < b) // currencies by code, the currency-less last
		})
		out.Events = readSeq(tx, seqEvents)
		return nil
	})
	out.Storage = s.Storage()
	out.Storage.Codes = out.Totals.Codes
	return out, err
}

// LogStats returns the write-ahead log's figures as they are now, or nil
// on an engine without a log. Unlike Storage it takes no checkpoint
// first, so the writes held in memory and the lag behind the file are
// what a metrics scrape should see, not the zeros a checkpoint leaves.
func (s *Store) LogStats() *kv.LogStats {
	if st, ok := s.db.(kv.Stater); ok {
		return st.Stats().Log
	}
	return nil
}

// Storage returns the engine's storage figures. Behind the write-ahead log
// it checkpoints first, so that the database file's figures count every
// acknowledged write.
func (s *Store) Storage() StorageInfo {
	st, ok := s.db.(kv.Stater)
	if !ok {
		return StorageInfo{}
	}
	if c, ok := s.db.(interface{ Checkpoint() error }); ok && !s.opts.ReadOnly {
		if err := c.Checkpoint(); err != nil {
			s.log.Warn("checkpoint for the storage figures", "err", err)
		}
	}
	ks := st.Stats()
	return StorageInfo{FileBytes: ks.FileBytes, UsedBytes: ks.UsedBytes, Log: ks.Log}
}

func (s *Store) campaignStats(tx kv.Tx, c *Campaign, detail bool) (CampaignStats, error) {
	out := CampaignStats{Campaign: c.ID, Name: c.Name, Kind: c.Kind, Status: c.Status,
		Counts: readCounts(tx, c.Num), Daily: []DayStats{}, ByChannel: []DimStats{}, ByTerminal: []DimStats{},
		Rejected: s.campaignRejects(tx, c.Num), Currency: c.Benefit.Currency}
	n := out.Counts
	if n.Assigned > 0 {
		r := float64(n.Redeemed) / float64(n.Assigned)
		out.RedemptionRate = &r
		u := float64(n.AssignedUsed) / float64(n.Assigned)
		out.AssignedUseRate = &u
	}
	out.UsesAvailable = n.Codes * int64(max(1, c.MaxRedemptionsPerCode))
	if out.UsesAvailable > 0 {
		u := float64(n.Redeemed) / float64(out.UsesAvailable)
		out.UseRate = &u
	}
	if b := c.Budget; b != nil {
		held, heldDiscount := campaignHeld(tx, c.Num, s.now(), 0)
		out.Budget = &BudgetUse{Redemptions: b.Redemptions, Discount: b.Discount, RedemptionsUsed: out.Counts.Redeemed,
			DiscountUsed: out.Counts.DiscountTotal, RedemptionsHeld: held, DiscountHeld: heldDiscount}
	}
	scanCounters(tx, u32(c.Num), nDim, func(k []byte, d []int64) {
		if len(k) < 5 {
			return
		}
		dim := DimStats{Name: string(k[5:]), Assigned: d[dAssigned], Redeemed: d[dRedeemed],
			RolledBack: d[dRolledBack], Discount: d[dDiscount], Orders: d[dOrders]}
		switch k[4] {
		case dimDay:
			if detail && len(k) == 9 {
				n := binary.BigEndian.Uint32(k[5:])
				out.Daily = append(out.Daily, DayStats{Date: fmt.Sprintf("%04d-%02d-%02d", n/10000, n/100%100, n%100),
					Assigned: dim.Assigned, Redeemed: dim.Redeemed, RolledBack: dim.RolledBack, Discount: dim.Discount, Orders: dim.Orders})
			}
		case dimChannel:
			out.ByChannel = append(out.ByChannel, dim)
		case dimTerminal:
			out.ByTerminal = append(out.ByTerminal, dim)
		}
	})
	if detail {
		var err error
		if out.Batches, err = campaignBatches(tx, c.ID); err != nil {
			return out, internal(err, "read batches")
		}
		if out.SuspectedLeaks, err = suspectedLeaks(tx, c); err != nil {
			return out, internal(err, "read suspected leaks")
		}
	}
	if detail && c.Kind == KindReferral {
		var refs []Referrer
		err := walkIndex(tx, c.Num, 0, func(_ uint64, key []byte) (bool, error) {
			rec, err := decodeCodeRec(tx.Get(bucketCodes, key))
			if err != nil {
				return false, internal(err, "read code")
			}
			if rec.customer != "" && rec.redemptions > 0 {
				refs = append(refs, Referrer{CustomerID: rec.customer, Code: codeView(string(key), rec, c).Code, Redemptions: int64(rec.redemptions)})
			}
			return true, nil
		})
		if err != nil {
			return out, err
		}
		sort.SliceStable(refs, func(i, j int) bool { return refs[i].Redemptions > refs[j].Redemptions })
		out.TopReferrers = refs[:min(len(refs), 10)]
	}
	return out, nil
}

// campaignRejects counts refusals of a campaign's codes by reason. They are
// kept in memory and added to the counters bucket by maintenance, so that
// refusals (which change no data) never wait for a disk write.
type campaignRejects struct {
	m sync.Map // rejectKey → *atomic.Int64, not yet flushed
}

type rejectKey struct {
	num    uint32
	reason string
}

func (s *Store) countReject(num uint32, reason string) {
	k := rejectKey{num, reason}
	v, ok := s.campRejects.m.Load(k)
	if !ok {
		v, _ = s.campRejects.m.LoadOrStore(k, new(atomic.Int64))
	}
	v.(*atomic.Int64).Add(1)
}

func (s *Store) campaignRejects(tx kv.Tx, num uint32) map[string]int64 {
	out := map[string]int64{}
	pfx := counterKey(num, dimReject, nil)
	scanCounters(tx, pfx, 1, func(k []byte, v []int64) {
		out[string(k[len(pfx):])] += v[0]
	})
	s.campRejects.m.Range(func(k, v any) bool {
		if rk := k.(rejectKey); rk.num == num {
			out[rk.reason] += v.(*atomic.Int64).Load()
		}
		return true
	})
	return out
}

// flushCampaignRejects moves the in-memory refusal counts to the database.
func (s *Store) flushCampaignRejects(run func(func(*wtx) error) error) error {
	deltas := map[rejectKey]int64{}
	s.campRejects.m.Range(func(k, v any) bool {
		if n := v.(*atomic.Int64).Load(); n != 0 {
			deltas[k.(rejectKey)] = n
		}
		return true
	})
	if len(deltas) == 0 {
		return nil
	}
	for len(deltas) > 0 { // in transactions within the engine's limits (etcd's)
		part := map[rejectKey]int64{}
		for k, n := range deltas {
			if len(part) == s.perTx(len(deltas), 1) {
				break
			}
			part[k] = n
			delete(deltas, k)
		}
		err := run(func(tx *wtx) error {
			for k, n := range part {
				if err := bump(tx, counterKey(k.num, dimReject, []byte(k.reason)), 1, 0, n); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for k, n := range part {
			if v, ok := s.campRejects.m.Load(k); ok {
				v.(*atomic.Int64).Add(-n)
			}
		}
	}
	return nil
}
