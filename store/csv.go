package store

import (
	"strconv"
	"time"
)

// CSV columns shared by every export (HTTP and CLI), so a file made one way
// reads the same as one made the other.
var (
	CodeCSVHeader       = []string{"code", "campaign", "state", "customer_id", "channel", "assigned_at", "expires_at", "redemption_count", "batch"}
	RedemptionCSVHeader = []string{"id", "code", "campaign", "customer_id", "order_id", "order_amount", "currency", "discount", "terminal", "channel", "redeemed_at", "rolled_back_at", "rollback_reason", "reward_code"}
	AssignCSVHeader     = []string{"customer_id", "email", "name", "code"}
)

// CSV returns the code as a CSV record in CodeCSVHeader's order.
func (c Code) CSV() []string {
	return []string{c.Code, c.Campaign, c.State, c.CustomerID, c.Channel, csvTime(c.AssignedAt), csvTime(c.ExpiresAt),
		strconv.Itoa(c.RedemptionCount), c.Batch}
}

// CSV returns the redemption as a CSV record in RedemptionCSVHeader's order.
func (r Redemption) CSV() []string {
	return []string{r.ID, r.Code, r.Campaign, r.CustomerID, r.OrderID, strconv.FormatInt(r.OrderAmount, 10), r.Currency,
		strconv.FormatInt(r.Discount, 10), r.Terminal, r.Channel, csvTime(&r.RedeemedAt), csvTime(r.RolledBackAt),
		r.RollbackReason, r.RewardCode}
}

// CSV returns the row as a mail-merge record in AssignCSVHeader's order.
func (r AssignRow) CSV() []string { return []string{r.CustomerID, r.Email, r.Name, r.Code} }

func csvTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
