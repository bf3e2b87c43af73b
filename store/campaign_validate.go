package store

import (
	"encoding/json"
	"regexp"
	"strings"
	"time"

	"promo/gen"
)

var (
	campaignIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)
	currencyPattern   = regexp.MustCompile(`^[A-Z]{3}$`)
	kinds             = []string{KindWelcome, KindLoyalty, KindReferral, KindCartRecovery, KindVIP, KindGeneric}
)

// maxMoney bounds every amount: 10^13 minor units is beyond any order.
const maxMoney = 10_000_000_000_000

// newCampaign validates spec and fills the kind's defaults. Every error
// names its field.
func newCampaign(spec CampaignSpec, now time.Time) (*Campaign, error) {
	c := &Campaign{
		ID: spec.ID, Name: strings.TrimSpace(spec.Name), Kind: spec.Kind, StartsAt: spec.StartsAt,
		ExpiresAt: spec.ExpiresAt, ValidFor: spec.ValidFor, MinOrder: spec.MinOrder,
		MinGuessOdds: spec.MinGuessOdds, Referral: spec.Referral, Status: spec.Status,
		Metadata: spec.Metadata, CreatedAt: now, UpdatedAt: now,
	}
	if !campaignIDPattern.MatchString(c.ID) {
		return nil, fieldErr("id", "want 1 to 64 lower-case letters, digits and dashes, starting with a letter or digit (e.g. \"welcome-2026\"), got %q", c.ID)
	}
	if c.Name == "" {
		c.Name = c.ID
	}
	if len(c.Name) > 200 {
		return nil, fieldErr("name", "at most 200 characters, got %d", len(c.Name))
	}
	if c.Kind == "" {
		c.Kind = KindGeneric
	}
	if !contains(kinds, c.Kind) {
		return nil, fieldErr("kind", "want one of %s, got %q", strings.Join(kinds, ", "), c.Kind)
	}
	if spec.Benefit == nil {
		return nil, fieldErr("benefit", "required: {\"type\": \"percent\", \"value\": 10}, {\"type\": \"amount\", \"value\": 500, \"currency\": \"EUR\"}, {\"type\": \"free_shipping\"} or {\"type\": \"custom\", \"text\": \"...\"}")
	}
	c.Benefit = *spec.Benefit
	if err := validateBenefit(&c.Benefit); err != nil {
		return nil, err
	}
	if c.StartsAt != nil && c.ExpiresAt != nil && !c.ExpiresAt.After(*c.StartsAt) {
		return nil, fieldErr("expires_at", "must be after starts_at")
	}
	if c.ValidFor < 0 {
		return nil, fieldErr("valid_for", "must be positive")
	}
	if c.MinOrder < 0 || c.MinOrder > maxMoney {
		return nil, fieldErr("min_order", "want 0 to %d minor units, got %d", int64(maxMoney), c.MinOrder)
	}
	// Kind defaults: see README.md, "Campaign kinds".
	max, one, bound := 1, false, false
	switch c.Kind {
	case KindWelcome, KindCartRecovery:
		one, bound = true, true
	case KindLoyalty, KindVIP:
		bound = true
	case KindReferral:
		max, one = 10, true
	}
	c.MaxRedemptionsPerCode = derefOr(spec.MaxRedemptionsPerCode, max)
	c.OnePerCustomer = derefOr(spec.OnePerCustomer, one)
	c.BoundToCustomer = derefOr(spec.BoundToCustomer, bound)
	if c.MaxRedemptionsPerCode < 1 || c.MaxRedemptionsPerCode > 1_000_000 {
		return nil, fieldErr("max_redemptions_per_code", "want 1 to 1000000, got %d", c.MaxRedemptionsPerCode)
	}
	c.Format = gen.DefaultFormat()
	if spec.Format != nil {
		c.Format = *spec.Format
	}
	c.Format.Alphabet = strings.ToLower(c.Format.Alphabet)
	if c.Format.Alphabet != "crockford" && c.Format.Alphabet != "numeric" && c.Format.Alphabet != "alpha" {
		c.Format.Alphabet = strings.ToUpper(c.Format.Alphabet)
	}
	if err := c.Format.Validate(); err != nil {
		fe := err.(*gen.FormatError)
		return nil, fieldErr("format."+fe.Field, "%s", fe.Message)
	}
	if c.MinGuessOdds != 0 && (c.MinGuessOdds < 1 || c.MinGuessOdds > 1e18) {
		return nil, fieldErr("min_guess_odds", "want 1 to 1e18 (1 in N guesses may hit a live code), got %g", c.MinGuessOdds)
	}
	if c.Kind == KindReferral {
		if c.Referral == nil || c.Referral.RewardCampaign == "" {
			return nil, fieldErr("referral.reward_campaign", "required for a referral campaign: the campaign whose codes reward referrers")
		}
		if c.Referral.RewardCampaign == c.ID {
			return nil, fieldErr("referral.reward_campaign", "must be another campaign")
		}
		if c.BoundToCustomer {
			return nil, fieldErr("bound_to_customer", "a referral code is redeemed by others than its owner, so it cannot be bound")
		}
	} else if c.Referral != nil {
		return nil, fieldErr("referral", "only for kind referral")
	}
	c.Budget = spec.Budget
	if err := validateBudget(c); err != nil {
		return nil, err
	}
	if c.Status == "" {
		c.Status = StatusActive
	}
	if c.Status != StatusActive && c.Status != StatusPaused {
		return nil, fieldErr("status", "a new campaign is active or paused, got %q", c.Status)
	}
	if c.Metadata == nil {
		c.Metadata = map[string]any{}
	}
	if b, _ := json.Marshal(c.Metadata); len(b) > 8192 {
		return nil, fieldErr("metadata", "at most 8 KiB of JSON, got %d bytes", len(b))
	}
	if err := checkCampaignText(c); err != nil {
		return nil, err
	}
	return c, nil
}

// maxBudgetRedemptions bounds a redemption budget.
const maxBudgetRedemptions = 1_000_000_000

// validateBudget checks c's budget; a budget of zeros is none.
func validateBudget(c *Campaign) error {
	b := c.Budget
	if b == nil {
		return nil
	}
	if b.Redemptions < 0 || b.Redemptions > maxBudgetRedemptions {
		return fieldErr("budget.redemptions", "want 0 (no cap) to %d redemptions, got %d", maxBudgetRedemptions, b.Redemptions)
	}
	if b.Discount < 0 || b.Discount > maxMoney {
		return fieldErr("budget.discount", "want 0 (no cap) to %d minor units, got %d", int64(maxMoney), b.Discount)
	}
	if b.Discount > 0 && c.Benefit.Currency == "" {
		return fieldErr("budget.discount", "a discount budget needs the campaign's currency (benefit.currency), so that discounts add up in one currency")
	}
	if b.Redemptions == 0 && b.Discount == 0 {
		c.Budget = nil
	}
	return nil
}

func validateBenefit(b *Benefit) error {
	b.Currency = strings.ToUpper(b.Currency)
	if b.Currency != "" && !currencyPattern.MatchString(b.Currency) {
		return fieldErr("benefit.currency", "want an ISO 4217 code such as \"EUR\", got %q", b.Currency)
	}
	switch b.Type {
	case BenefitPercent:
		if b.Value < 1 || b.Value > 100 {
			return fieldErr("benefit.value", "a percent benefit is 1 to 100, got %d", b.Value)
		}
	case BenefitAmount:
		if b.Value < 1 || b.Value > maxMoney {
			return fieldErr("benefit.value", "an amount is 1 to %d minor units (cents), got %d", int64(maxMoney), b.Value)
		}
		if b.Currency == "" {
			return fieldErr("benefit.currency", "required for an amount benefit, e.g. \"EUR\"")
		}
	case BenefitFreeShipping:
		if b.Value != 0 {
			return fieldErr("benefit.value", "free_shipping takes no value")
		}
	case BenefitCustom:
		if strings.TrimSpace(b.Text) == "" || len(b.Text) > 500 {
			return fieldErr("benefit.text", "a custom benefit needs a text of 1 to 500 characters")
		}
		if b.Value != 0 {
			return fieldErr("benefit.value", "a custom benefit takes no value: say what it gives in text")
		}
	default:
		return fieldErr("benefit.type", "want percent, amount, free_shipping or custom, got %q", b.Type)
	}
	if b.Type != BenefitCustom && b.Text != "" {
		return fieldErr("benefit.text", "only for a custom benefit")
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func derefOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
