package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"promo/gen"
	"promo/store/kv"
)

// Campaign kinds.
const (
	KindWelcome      = "welcome"
	KindLoyalty      = "loyalty"
	KindReferral     = "referral"
	KindCartRecovery = "cart_recovery"
	KindVIP          = "vip"
	KindGeneric      = "generic"
)

// Campaign statuses.
const (
	StatusActive   = "active"
	StatusPaused   = "paused"
	StatusArchived = "archived"
)

// Benefit types.
const (
	BenefitPercent      = "percent"
	BenefitAmount       = "amount"
	BenefitFreeShipping = "free_shipping"
	BenefitCustom       = "custom"
)

// Benefit is what a code gives. Money is an integer in minor units with an
// ISO 4217 currency.
type Benefit struct {
	Type     string `json:"type"`
	Value    int64  `json:"value,omitempty"`
	Currency string `json:"currency,omitempty"`
	Text     string `json:"text,omitempty"`
}

// Budget caps what a campaign gives away: its redemptions in force, its
// discount total (minor units of the campaign's currency), or both; 0 is no
// cap. Live holds count against it. A rollback gives the room back.
type Budget struct {
	Redemptions int64 `json:"redemptions,omitempty"`
	Discount    int64 `json:"discount,omitempty"`
}

// Referral links a referral campaign to the campaign its rewards come from.
type Referral struct {
	RewardCampaign string `json:"reward_campaign"`
}

// Campaign is a set of codes sharing one offer, format and rules.
type Campaign struct {
	ID                    string         `json:"id"`
	Name                  string         `json:"name"`
	Kind                  string         `json:"kind"`
	Benefit               Benefit        `json:"benefit"`
	StartsAt              *time.Time     `json:"starts_at"`
	ExpiresAt             *time.Time     `json:"expires_at"`
	ValidFor              Duration       `json:"valid_for,omitempty"`
	MinOrder              int64          `json:"min_order"`
	MaxRedemptionsPerCode int            `json:"max_redemptions_per_code"`
	OnePerCustomer        bool           `json:"one_per_customer"`
	BoundToCustomer       bool           `json:"bound_to_customer"`
	Format                gen.Format     `json:"format"`
	MinGuessOdds          float64        `json:"min_guess_odds,omitempty"`
	Referral              *Referral      `json:"referral,omitempty"`
	Budget                *Budget        `json:"budget,omitempty"`
	Status                string         `json:"status"`
	Metadata              map[string]any `json:"metadata"`
	CreatedAt             time.Time      `json:"created_at"`
	UpdatedAt             time.Time      `json:"updated_at"`
	// Counts is filled by Campaign and Campaigns.
	Counts *Counts `json:"counts,omitempty"`

	Num uint32 `json:"-"` // internal number, used in keys
}

// storedCampaign is a campaign as kept in its bucket, with its number.
type storedCampaign struct {
	*Campaign
	Num uint32 `json:"num"`
}

func decodeCampaign(v []byte) (*Campaign, error) {
	sc := storedCampaign{Campaign: &Campaign{}}
	if err := json.Unmarshal(v, &sc); err != nil {
		return nil, err
	}
	sc.Campaign.Num = sc.Num
	return sc.Campaign, nil
}

// CampaignSpec is what a caller sends to create a campaign. Fields left out
// take the kind's defaults (see README.md).
type CampaignSpec struct {
	ID                    string         `json:"id"`
	Name                  string         `json:"name"`
	Kind                  string         `json:"kind"`
	Benefit               *Benefit       `json:"benefit"`
	StartsAt              *time.Time     `json:"starts_at"`
	ExpiresAt             *time.Time     `json:"expires_at"`
	ValidFor              Duration       `json:"valid_for"`
	MinOrder              int64          `json:"min_order"`
	MaxRedemptionsPerCode *int           `json:"max_redemptions_per_code"`
	OnePerCustomer        *bool          `json:"one_per_customer"`
	BoundToCustomer       *bool          `json:"bound_to_customer"`
	Format                *gen.Format    `json:"format"`
	MinGuessOdds          float64        `json:"min_guess_odds"`
	Referral              *Referral      `json:"referral"`
	Budget                *Budget        `json:"budget"`
	Status                string         `json:"status"`
	Metadata              map[string]any `json:"metadata"`
}

// CampaignPatch changes a campaign: only the fields present are changed; a
// date or budget set to null is cleared.
type CampaignPatch struct {
	Name      *string        `json:"name,omitempty"`
	StartsAt  OptionalTime   `json:"starts_at,omitzero"`
	ExpiresAt OptionalTime   `json:"expires_at,omitzero"`
	Status    *string        `json:"status,omitempty"`
	Budget    OptionalBudget `json:"budget,omitzero"`
}

// OptionalBudget distinguishes a budget left out (Set false) from null
// (Set true, Budget nil: no budget).
type OptionalBudget struct {
	Set    bool
	Budget *Budget
}

// MarshalJSON writes the budget, or null to clear it.
func (o OptionalBudget) MarshalJSON() ([]byte, error) { return json.Marshal(o.Budget) }

// UnmarshalJSON records that the field was present.
func (o *OptionalBudget) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Budget = nil
		return nil
	}
	o.Budget = &Budget{}
	return json.Unmarshal(b, o.Budget)
}

// CreateCampaign validates spec and stores a new campaign. It returns
// invalid_request naming the field at fault, conflict when the id is taken,
// and not_found when a referral's reward campaign does not exist.
func (s *Store) CreateCampaign(ctx context.Context, spec CampaignSpec) (*Campaign, error) {
	c, err := newCampaign(spec, s.now().UTC())
	if err != nil {
		return nil, err
	}
	err = s.update(ctx, func(tx *wtx) error {
		if tx.Get(bucketCampaigns, []byte(c.ID)) != nil {
			return Errorf(EConflict, "campaign %q already exists; pick another id", c.ID)
		}
		if c.Referral != nil && tx.Get(bucketCampaigns, []byte(c.Referral.RewardCampaign)) == nil {
			return &Error{Code: ENotFound, Field: "referral.reward_campaign",
				Message: fmt.Sprintf("referral.reward_campaign: no campaign %q; create it first", c.Referral.RewardCampaign)}
		}
		c.Num = uint32(tx.nextSeq(seqCampaigns))
		tx.Put(bucketCampNums, numKey(c.Num), []byte(c.ID))
		if err := putCampaign(tx, c); err != nil {
			return err
		}
		s.refreshCatalog(tx)
		return appendEvent(tx, s.now(), &Event{Type: EventCampaignCreated, Campaign: c.ID})
	})
	if err != nil {
		return nil, err
	}
	return s.Campaign(c.ID)
}

// Campaign returns the campaign with its counts, or not_found.
func (s *Store) Campaign(id string) (*Campaign, error) {
	c, err := s.campaign(id)
	if err != nil {
		return nil, err
	}
	out := *c
	err = s.view(func(tx kv.Tx) error {
		counts := readCounts(tx, c.Num)
		out.Counts = &counts
		return nil
	})
	return &out, err
}

// Campaigns returns every campaign with its counts, ordered by id.
func (s *Store) Campaigns() ([]*Campaign, error) {
	list := s.cat.Load().sorted()
	out := make([]*Campaign, len(list))
	err := s.view(func(tx kv.Tx) error {
		for i, c := range list {
			cp := *c
			counts := readCounts(tx, c.Num)
			cp.Counts = &counts
			out[i] = &cp
		}
		return nil
	})
	return out, err
}

// UpdateCampaign applies patch: name, dates, status, budget. An archived
// campaign cannot change status again. A budget may be set below what is
// already used: later redemptions are then refused. It returns not_found
// or invalid_request.
func (s *Store) UpdateCampaign(ctx context.Context, id string, patch CampaignPatch) (*Campaign, error) {
	if patch.Name != nil {
		if err := checkControls("name", *patch.Name); err != nil {
			return nil, err
		}
	}
	err := s.update(ctx, func(tx *wtx) error {
		c, err := getCampaignTx(tx, id)
		if err != nil {
			return err
		}
		if patch.Name != nil {
			c.Name = strings.TrimSpace(*patch.Name)
			if c.Name == "" || len(c.Name) > 200 {
				return fieldErr("name", "want 1 to 200 characters")
			}
		}
		if patch.StartsAt.Set {
			c.StartsAt = patch.StartsAt.Time
		}
		if patch.ExpiresAt.Set {
			c.ExpiresAt = patch.ExpiresAt.Time
		}
		if c.StartsAt != nil && c.ExpiresAt != nil && !c.ExpiresAt.After(*c.StartsAt) {
			return fieldErr("expires_at", "must be after starts_at")
		}
		if patch.Budget.Set {
			c.Budget = patch.Budget.Budget
			if err := validateBudget(c); err != nil {
				return err
			}
		}
		if patch.Status != nil && *patch.Status != c.Status {
			switch {
			case c.Status == StatusArchived:
				return Errorf(EConflict, "campaign %q is archived; an archived campaign stays archived", id)
			case *patch.Status != StatusActive && *patch.Status != StatusPaused && *patch.Status != StatusArchived:
				return fieldErr("status", "want active, paused or archived, got %q", *patch.Status)
			}
			c.Status = *patch.Status
		}
		c.UpdatedAt = s.now().UTC()
		if err := putCampaign(tx, c); err != nil {
			return err
		}
		s.refreshCatalog(tx)
		return appendEvent(tx, s.now(), &Event{Type: EventCampaignUpdated, Campaign: c.ID, Status: c.Status})
	})
	if err != nil {
		return nil, err
	}
	return s.Campaign(id)
}
