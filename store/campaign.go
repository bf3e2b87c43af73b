package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"promo/gen"
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
	Status                string         `json:"status"`
	Metadata              map[string]any `json:"metadata"`
}

// CampaignPatch changes a campaign: only the fields present are changed; a
// date set to null is cleared.
type CampaignPatch struct {
	Name      *string      `json:"name,omitempty"`
	StartsAt  OptionalTime `json:"starts_at,omitzero"`
	ExpiresAt OptionalTime `json:"expires_at,omitzero"`
	Status    *string      `json:"status,omitempty"`
}

// OptionalTime distinguishes a JSON field left out (Set false) from null
// (Set true, Time nil).
type OptionalTime struct {
	Set  bool
	Time *time.Time
}

// MarshalJSON writes the time, or null to clear it.
func (o OptionalTime) MarshalJSON() ([]byte, error) { return json.Marshal(o.Time) }

// UnmarshalJSON records that the field was present.
func (o *OptionalTime) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Time = nil
		return nil
	}
	var t time.Time
	if err := json.Unmarshal(b, &t); err != nil {
		return fmt.Errorf("want an RFC 3339 time such as \"2027-01-31T23:59:59Z\" or null")
	}
	o.Time = &t
	return nil
}

// Duration is a time.Duration written as "48h", "90m" or "7d".
type Duration time.Duration

// ParseDuration accepts Go durations plus a whole number of days ("7d").
func ParseDuration(s string) (Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		if _, err := fmt.Sscanf(n, "%d", &days); err == nil && fmt.Sprint(days) == n && days > 0 && days <= 3650 {
			return Duration(time.Duration(days) * 24 * time.Hour), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("want a duration such as \"48h\", \"90m\" or \"7d\", got %q", s)
	}
	return Duration(d), nil
}

func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// MarshalJSON writes the duration as a string; zero is "".
func (d Duration) MarshalJSON() ([]byte, error) {
	if d == 0 {
		return []byte(`""`), nil
	}
	return json.Marshal(d.String())
}

// UnmarshalJSON reads a duration string; "" and null mean none.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s *string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"48h\"")
	}
	if s == nil || *s == "" {
		*d = 0
		return nil
	}
	v, err := ParseDuration(*s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

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

// catalog is an immutable snapshot of all campaigns, for lookups that must
// not decode JSON: by id, by number, and the formats to match input against.
type catalog struct {
	byID     map[string]*Campaign
	byNum    map[uint32]*Campaign
	matchers []*gen.Matcher // one per distinct format shape
}

func loadCatalog(tx *bolt.Tx) (*catalog, error) {
	cat := &catalog{byID: map[string]*Campaign{}, byNum: map[uint32]*Campaign{}}
	err := tx.Bucket(bucketCampaigns).ForEach(func(k, v []byte) error {
		c, err := decodeCampaign(v)
		if err != nil {
			return fmt.Errorf("campaign %q: %w", k, err)
		}
		cat.byID[c.ID] = c
		cat.byNum[c.Num] = c
		return nil
	})
	if err != nil {
		return nil, err
	}
	var shapes []gen.Format
	for _, c := range cat.sorted() {
		dup := false
		for _, f := range shapes {
			dup = dup || f.SameShape(c.Format)
		}
		if !dup {
			shapes = append(shapes, c.Format)
			cat.matchers = append(cat.matchers, gen.NewMatcher(c.Format))
		}
	}
	return cat, nil
}

func (c *catalog) sorted() []*Campaign {
	list := make([]*Campaign, 0, len(c.byID))
	for _, v := range c.byID {
		list = append(list, v)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	return list
}

// refreshCatalog reloads the catalog after tx commits.
func (s *Store) refreshCatalog(tx *bolt.Tx) {
	tx.OnCommit(func() {
		err := s.db.View(func(tx *bolt.Tx) error {
			cat, err := loadCatalog(tx)
			if err == nil {
				s.cat.Store(cat)
			}
			return err
		})
		if err != nil {
			s.log.Error("reloading campaigns", "err", err)
		}
	})
}

func (s *Store) campaign(id string) (*Campaign, error) {
	if c := s.cat.Load().byID[id]; c != nil {
		return c, nil
	}
	return nil, Errorf(ENotFound, "no campaign %q", id)
}

func putCampaign(tx *bolt.Tx, c *Campaign) error {
	cp := *c
	cp.Counts = nil
	b, err := json.Marshal(storedCampaign{Campaign: &cp, Num: c.Num})
	if err != nil {
		return err
	}
	return tx.Bucket(bucketCampaigns).Put([]byte(c.ID), b)
}

// getCampaignTx reads a campaign as tx sees it, for operations that change
// campaigns (the catalog may lag within a shared transaction).
func getCampaignTx(tx *bolt.Tx, id string) (*Campaign, error) {
	v := tx.Bucket(bucketCampaigns).Get([]byte(id))
	if v == nil {
		return nil, Errorf(ENotFound, "no campaign %q", id)
	}
	c, err := decodeCampaign(v)
	if err != nil {
		return nil, fmt.Errorf("campaign %q: %w", id, err)
	}
	return c, nil
}

func numKey(num uint32) []byte { return binary.BigEndian.AppendUint32(nil, num) }

// CreateCampaign validates spec and stores a new campaign. It returns
// invalid_request naming the field at fault, conflict when the id is taken,
// and not_found when a referral's reward campaign does not exist.
func (s *Store) CreateCampaign(ctx context.Context, spec CampaignSpec) (*Campaign, error) {
	c, err := newCampaign(spec, s.now().UTC())
	if err != nil {
		return nil, err
	}
	err = s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCampaigns)
		if b.Get([]byte(c.ID)) != nil {
			return Errorf(EConflict, "campaign %q already exists; pick another id", c.ID)
		}
		if c.Referral != nil && b.Get([]byte(c.Referral.RewardCampaign)) == nil {
			return &Error{Code: ENotFound, Field: "referral.reward_campaign",
				Message: fmt.Sprintf("referral.reward_campaign: no campaign %q; create it first", c.Referral.RewardCampaign)}
		}
		seq, err := tx.Bucket(bucketCampNums).NextSequence()
		if err != nil {
			return err
		}
		c.Num = uint32(seq)
		if err := tx.Bucket(bucketCampNums).Put(numKey(c.Num), []byte(c.ID)); err != nil {
			return err
		}
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
	err = s.view(func(tx *bolt.Tx) error {
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
	err := s.view(func(tx *bolt.Tx) error {
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

// UpdateCampaign applies patch: name, dates, status. An archived campaign
// cannot change status again. It returns not_found or invalid_request.
func (s *Store) UpdateCampaign(ctx context.Context, id string, patch CampaignPatch) (*Campaign, error) {
	if patch.Name != nil {
		if err := checkControls("name", *patch.Name); err != nil {
			return nil, err
		}
	}
	err := s.update(ctx, func(tx *bolt.Tx) error {
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
