package store

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"promo/gen"
)

func TestStore_CreateCampaign_Validation(t *testing.T) {
	s, _ := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "rewards"})
	past := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		spec  CampaignSpec
		code  string
		field string
	}{
		{"BadID", CampaignSpec{ID: "Welcome 2026"}, EInvalid, "id"},
		{"EmptyID", CampaignSpec{ID: ""}, EInvalid, "id"},
		{"LongID", CampaignSpec{ID: strings.Repeat("a", 65)}, EInvalid, "id"},
		{"BadKind", CampaignSpec{ID: "a", Kind: "black_friday"}, EInvalid, "kind"},
		{"NoBenefit", CampaignSpec{ID: "a", Benefit: &Benefit{}}, EInvalid, "benefit.type"},
		{"PercentTooBig", CampaignSpec{ID: "a", Benefit: &Benefit{Type: "percent", Value: 120}}, EInvalid, "benefit.value"},
		{"AmountNoCurrency", CampaignSpec{ID: "a", Benefit: &Benefit{Type: "amount", Value: 500}}, EInvalid, "benefit.currency"},
		{"BadCurrency", CampaignSpec{ID: "a", Benefit: &Benefit{Type: "amount", Value: 500, Currency: "EURO"}}, EInvalid, "benefit.currency"},
		{"CustomNoText", CampaignSpec{ID: "a", Benefit: &Benefit{Type: "custom"}}, EInvalid, "benefit.text"},
		{"FreeShippingValue", CampaignSpec{ID: "a", Benefit: &Benefit{Type: "free_shipping", Value: 3}}, EInvalid, "benefit.value"},
		{"CustomValue", CampaignSpec{ID: "a", Benefit: &Benefit{Type: "custom", Text: "A free coffee", Value: -1}}, EInvalid, "benefit.value"}, // found by Portman's fuzzing
		{"EndsBeforeStart", CampaignSpec{ID: "a", StartsAt: ptr(past.Add(time.Hour)), ExpiresAt: &past}, EInvalid, "expires_at"},
		{"NegativeMinOrder", CampaignSpec{ID: "a", MinOrder: -1}, EInvalid, "min_order"},
		{"ZeroMaxRedemptions", CampaignSpec{ID: "a", MaxRedemptionsPerCode: ptr(0)}, EInvalid, "max_redemptions_per_code"},
		{"BadFormatLength", CampaignSpec{ID: "a", Format: &gen.Format{Alphabet: "crockford", Length: 2}}, EInvalid, "format.length"},
		{"BadAlphabet", CampaignSpec{ID: "a", Format: &gen.Format{Alphabet: "ABO", Length: 8}}, EInvalid, "format.alphabet"},
		{"ReferralWithoutReward", CampaignSpec{ID: "a", Kind: KindReferral}, EInvalid, "referral.reward_campaign"},
		{"ReferralUnknownReward", CampaignSpec{ID: "a", Kind: KindReferral, Referral: &Referral{RewardCampaign: "nope"}}, ENotFound, "referral.reward_campaign"},
		{"ReferralBound", CampaignSpec{ID: "a", Kind: KindReferral, Referral: &Referral{RewardCampaign: "rewards"}, BoundToCustomer: ptr(true)}, EInvalid, "bound_to_customer"},
		{"ReferralOnNonReferral", CampaignSpec{ID: "a", Referral: &Referral{RewardCampaign: "rewards"}}, EInvalid, "referral"},
		{"ArchivedAtBirth", CampaignSpec{ID: "a", Status: "archived"}, EInvalid, "status"},
		{"Taken", CampaignSpec{ID: "rewards"}, EConflict, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.spec.Benefit == nil {
				tc.spec.Benefit = &Benefit{Type: BenefitPercent, Value: 10}
			}
			_, err := s.CreateCampaign(ctx, tc.spec)
			requireCode(t, err, tc.code)
			var e *Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tc.field, e.Field)
			if tc.field != "" {
				require.True(t, strings.HasPrefix(e.Message, tc.field+": "), e.Message)
			}
		})
	}
	list, err := s.Campaigns()
	require.NoError(t, err)
	require.Len(t, list, 1, "no refused campaign was stored")
}

func TestStore_CreateCampaign_KindDefaults(t *testing.T) {
	s, _ := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "thanks"})
	for _, tc := range []struct {
		kind       string
		max        int
		one, bound bool
	}{
		{KindWelcome, 1, true, true},
		{KindLoyalty, 1, false, true},
		{KindCartRecovery, 1, true, true},
		{KindVIP, 1, false, true},
		{KindGeneric, 1, false, false},
		{KindReferral, 10, true, false},
	} {
		spec := CampaignSpec{ID: "k-" + strings.ReplaceAll(tc.kind, "_", "-"), Kind: tc.kind}
		if tc.kind == KindReferral {
			spec.Referral = &Referral{RewardCampaign: "thanks"}
		}
		c := mustCampaign(t, s, spec)
		require.Equal(t, tc.max, c.MaxRedemptionsPerCode, tc.kind)
		require.Equal(t, tc.one, c.OnePerCustomer, tc.kind)
		require.Equal(t, tc.bound, c.BoundToCustomer, tc.kind)
		require.Equal(t, gen.DefaultFormat(), c.Format)
		require.Equal(t, StatusActive, c.Status)
	}
}

func TestCampaignSpec_JSON(t *testing.T) {
	var spec CampaignSpec
	require.NoError(t, json.Unmarshal([]byte(`{
		"id": "welcome-2026", "name": "Welcome offer", "kind": "welcome",
		"benefit": {"type": "percent", "value": 10},
		"starts_at": null, "expires_at": "2027-01-31T23:59:59Z", "valid_for": "48h",
		"min_order": 2000, "max_redemptions_per_code": 1, "one_per_customer": true,
		"bound_to_customer": true, "format": {"length": 9, "prefix": "W"}, "metadata": {"team": "crm"}
	}`), &spec))
	s, _ := testStore(t, Options{})
	c, err := s.CreateCampaign(ctx, spec)
	require.NoError(t, err)
	require.Equal(t, Duration(48*time.Hour), c.ValidFor)
	require.Equal(t, 9, c.Format.Length)
	require.Equal(t, 4, c.Format.Group, "format fields left out keep their defaults")
	b, err := json.Marshal(c)
	require.NoError(t, err)
	require.Contains(t, string(b), `"valid_for":"48h"`)
	require.Contains(t, string(b), `"expires_at":"2027-01-31T23:59:59Z"`)
	require.NotContains(t, string(b), `"num"`)
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"48h": 48 * time.Hour, "90m": 90 * time.Minute, "7d": 7 * 24 * time.Hour, "1h30m": 90 * time.Minute} {
		d, err := ParseDuration(in)
		require.NoError(t, err)
		require.Equal(t, want, time.Duration(d))
	}
	for _, in := range []string{"", "7", "d", "-1d", "1.5d", "tomorrow"} {
		_, err := ParseDuration(in)
		require.Error(t, err, in)
	}
	require.Equal(t, "48h", Duration(48*time.Hour).String())
	require.Equal(t, "168h", Duration(7*24*time.Hour).String())
	require.Equal(t, "1h30m", Duration(90*time.Minute).String())
}

func TestStore_UpdateCampaign(t *testing.T) {
	s, _ := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "c", ExpiresAt: ptr(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))})
	var patch CampaignPatch
	require.NoError(t, json.Unmarshal([]byte(`{"name": "New name", "expires_at": null, "status": "paused"}`), &patch))
	c, err := s.UpdateCampaign(ctx, "c", patch)
	require.NoError(t, err)
	require.Equal(t, "New name", c.Name)
	require.Nil(t, c.ExpiresAt)
	require.Equal(t, StatusPaused, c.Status)

	_, err = s.UpdateCampaign(ctx, "c", CampaignPatch{Status: ptr("deleted")})
	requireCode(t, err, EInvalid)
	_, err = s.UpdateCampaign(ctx, "nope", CampaignPatch{Name: ptr("x")})
	requireCode(t, err, ENotFound)
	_, err = s.UpdateCampaign(ctx, "c", CampaignPatch{Status: ptr(StatusArchived)})
	require.NoError(t, err)
	_, err = s.UpdateCampaign(ctx, "c", CampaignPatch{Status: ptr(StatusActive)})
	requireCode(t, err, EConflict)

	var bad CampaignPatch
	require.ErrorContains(t, json.Unmarshal([]byte(`{"starts_at": "soon"}`), &bad), "RFC 3339")
}

func TestCampaignPatch_JSONRoundTrip(t *testing.T) {
	for _, in := range []string{`{}`, `{"name":"x"}`, `{"starts_at":null}`, `{"expires_at":"2027-01-31T23:59:59Z","status":"paused"}`} {
		var p CampaignPatch
		require.NoError(t, json.Unmarshal([]byte(in), &p))
		out, err := json.Marshal(p)
		require.NoError(t, err)
		require.JSONEq(t, in, string(out))
	}
}
