package store

import (
	"strconv"
	"strings"
	"time"
)

// CSV columns shared by every export (HTTP and CLI), so a file made one way
// reads the same as one made the other.
var (
	CodeCSVHeader       = []string{"code", "campaign", "state", "customer_id", "channel", "assigned_at", "expires_at", "redemption_count", "batch"}
	RedemptionCSVHeader = []string{"id", "code", "campaign", "customer_id", "order_id", "order_amount", "currency", "discount", "terminal", "channel", "redeemed_at", "rolled_back_at", "rollback_reason", "reward_code"}
	AssignCSVHeader     = []string{"customer_id", "email", "name", "code"}
)

// CSV returns the code as a CSV record in CodeCSVHeader's order, each
// field safe to open in a spreadsheet (see SpreadsheetSafe).
func (c Code) CSV() []string {
	return spreadsheetSafe([]string{c.Code, c.Campaign, c.State, c.CustomerID, c.Channel, csvTime(c.AssignedAt), csvTime(c.ExpiresAt),
		strconv.Itoa(c.RedemptionCount), c.Batch})
}

// CSV returns the redemption as a CSV record in RedemptionCSVHeader's
// order, each field safe to open in a spreadsheet (see SpreadsheetSafe).
func (r Redemption) CSV() []string {
	return spreadsheetSafe([]string{r.ID, r.Code, r.Campaign, r.CustomerID, r.OrderID, strconv.FormatInt(r.OrderAmount, 10), r.Currency,
		strconv.FormatInt(r.Discount, 10), r.Terminal, r.Channel, csvTime(&r.RedeemedAt), csvTime(r.RolledBackAt),
		r.RollbackReason, r.RewardCode})
}

// CSV returns the row as a mail-merge record in AssignCSVHeader's order,
// each field safe to open in a spreadsheet (see SpreadsheetSafe).
func (r AssignRow) CSV() []string {
	return spreadsheetSafe([]string{r.CustomerID, r.Email, r.Name, r.Code})
}

// SpreadsheetSafe returns field as a spreadsheet shows it as text: a field
// starting with '=', '+', '-', '@', a tab or a carriage return would be run
// as a formula ("CSV injection": =HYPERLINK(…) in a customer id sends the
// person who opens the export elsewhere), so it gets a leading "'", as
// OWASP recommends. That holds for every field, a customer id "-42"
// included: a spreadsheet would read that one as a number, and telling
// harmless fields from harmful ones is what the attacker relies on.
// Programs should read the JSON exports, which are never changed.
func SpreadsheetSafe(field string) string {
	if field != "" && strings.IndexByte("=+-@\t\r", field[0]) >= 0 {
		return "'" + field
	}
	return field
}

func spreadsheetSafe(rec []string) []string {
	for i, f := range rec {
		rec[i] = SpreadsheetSafe(f)
	}
	return rec
}

func csvTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
