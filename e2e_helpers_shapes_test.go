//go:build unix

package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Helpers of the end-to-end tests: the JSON shapes and CSV exports the
// tests read, declared here, field by field, rather than borrowed from
// promo's packages, so that a change to the wire format fails these tests.

type errorJSON struct {
	Error struct {
		Code    string          `json:"code"`
		Message string          `json:"message"`
		Field   string          `json:"field"`
		Details json.RawMessage `json:"details"`
		// DetailsTotal counts an upload's bad lines; Details lists the
		// first 100 (as []problemJSON).
		DetailsTotal int `json:"details_total"`
	} `json:"error"`
}

// problemJSON is one bad line of an upload refused, in errorJSON's Details.
type problemJSON struct {
	Line   int    `json:"line"`
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

type validationJSON struct {
	Valid    bool   `json:"valid"`
	Reason   string `json:"reason"`
	Message  string `json:"message"`
	Code     string `json:"code"`
	Campaign string `json:"campaign"`
	Discount int64  `json:"discount"`
}

type redemptionJSON struct {
	ID           string     `json:"id"`
	Code         string     `json:"code"`
	Campaign     string     `json:"campaign"`
	CustomerID   string     `json:"customer_id"`
	OrderID      string     `json:"order_id"`
	OrderAmount  int64      `json:"order_amount"`
	Currency     string     `json:"currency"`
	Discount     int64      `json:"discount"`
	Terminal     string     `json:"terminal"`
	RolledBackAt *time.Time `json:"rolled_back_at"`
	RewardCode   string     `json:"reward_code"`
	RewardError  string     `json:"reward_error"`
}

type codeJSON struct {
	Code            string           `json:"code"`
	Campaign        string           `json:"campaign"`
	State           string           `json:"state"`
	CustomerID      string           `json:"customer_id"`
	Channel         string           `json:"channel"`
	AssignedAt      *time.Time       `json:"assigned_at"`
	ExpiresAt       *time.Time       `json:"expires_at"`
	RedemptionCount int              `json:"redemption_count"`
	MaxRedemptions  int              `json:"max_redemptions"`
	Redemptions     []redemptionJSON `json:"redemptions"`
}

type countsJSON struct {
	Codes         int64 `json:"codes"`
	Generated     int64 `json:"generated"`
	Imported      int64 `json:"imported"`
	Assigned      int64 `json:"assigned"`
	Redeemed      int64 `json:"redeemed"`
	RolledBack    int64 `json:"rolled_back"`
	Voided        int64 `json:"voided"`
	DiscountTotal int64 `json:"discount_total"`
	OrderTotal    int64 `json:"order_total"`
	ByState       struct {
		Available int64 `json:"available"`
		Assigned  int64 `json:"assigned"`
		Redeemed  int64 `json:"redeemed"`
		Voided    int64 `json:"voided"`
	} `json:"by_state"`
}

type statsJSON struct {
	Campaign     string     `json:"campaign"`
	Kind         string     `json:"kind"`
	Status       string     `json:"status"`
	Counts       countsJSON `json:"counts"`
	TopReferrers []struct {
		CustomerID  string `json:"customer_id"`
		Code        string `json:"code"`
		Redemptions int64  `json:"redemptions"`
	} `json:"top_referrers"`
}

type overviewJSON struct {
	Campaigns []statsJSON `json:"campaigns"`
	Totals    countsJSON  `json:"totals"`
	Events    uint64      `json:"events"`
}

type eventJSON struct {
	Seq         uint64 `json:"seq"`
	Type        string `json:"type"`
	Campaign    string `json:"campaign"`
	Code        string `json:"code"`
	CustomerID  string `json:"customer_id"`
	Redemption  string `json:"redemption"`
	OrderAmount int64  `json:"order_amount"`
	Discount    int64  `json:"discount"`
	Count       int64  `json:"count"`
	RewardCode  string `json:"reward_code"`
}

type customerJSON struct {
	CustomerID  string           `json:"customer_id"`
	Codes       []codeJSON       `json:"codes"`
	Rewards     []codeJSON       `json:"rewards"`
	Redemptions []redemptionJSON `json:"redemptions"`
}

// codeRow is one line of `promo export ID` (store's CodeCSVHeader).
type codeRow struct {
	Code, Campaign, State, CustomerID, Channel string
	RedemptionCount                            int
}

var codeHeader = []string{"code", "campaign", "state", "customer_id", "channel", "assigned_at", "expires_at", "redemption_count", "batch"}

func parseCodeCSV(t *testing.T, text string) []codeRow {
	t.Helper()
	recs := readCSV(t, text, codeHeader)
	out := make([]codeRow, 0, len(recs))
	for _, r := range recs {
		n, err := strconv.Atoi(r[7])
		require.NoError(t, err, "redemption_count of %v", r)
		out = append(out, codeRow{Code: r[0], Campaign: r[1], State: r[2], CustomerID: r[3], Channel: r[4], RedemptionCount: n})
	}
	return out
}

// redemptionRow is one line of `promo export ID --redemptions`.
type redemptionRow struct {
	ID, Code, Campaign, CustomerID, OrderID string
	OrderAmount, Discount                   int64
	RolledBack                              bool
	RewardCode                              string
}

var redemptionHeader = []string{"id", "code", "campaign", "customer_id", "order_id", "order_amount", "currency", "discount",
	"terminal", "channel", "redeemed_at", "rolled_back_at", "rollback_reason", "reward_code"}

func parseRedemptionCSV(t *testing.T, text string) []redemptionRow {
	t.Helper()
	recs := readCSV(t, text, redemptionHeader)
	out := make([]redemptionRow, 0, len(recs))
	for _, r := range recs {
		amount, err1 := strconv.ParseInt(r[5], 10, 64)
		discount, err2 := strconv.ParseInt(r[7], 10, 64)
		require.NoError(t, errors.Join(err1, err2), "amounts of %v", r)
		out = append(out, redemptionRow{ID: r[0], Code: r[1], Campaign: r[2], CustomerID: r[3], OrderID: r[4],
			OrderAmount: amount, Discount: discount, RolledBack: r[11] != "", RewardCode: r[13]})
	}
	return out
}

// readCSV parses CSV text, requires its header, and returns the rows.
func readCSV(t *testing.T, text string, header []string) [][]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	require.NoError(t, err, "CSV: %s", tail(text, 5))
	require.NotEmpty(t, recs, "CSV without a header")
	require.Equal(t, header, recs[0])
	return recs[1:]
}
