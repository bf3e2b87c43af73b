package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	urfave "github.com/urfave/cli/v2"

	"promo/gen"
	"promo/httpapi"
	"promo/store"
)

func (e *env) campaignCommand() *urfave.Command {
	return &urfave.Command{
		Name:      "campaign",
		Usage:     "create, list, show, pause, resume or archive campaigns",
		UsageText: "promo campaign create|list|show|pause|resume|archive|budget [ID] [FLAGS]",
		Description: describe("A campaign is a set of codes sharing one offer, one format and one set of rules.",
			`promo campaign create welcome-2026 --name "Welcome offer" --kind welcome --percent 10 --expires 2027-01-31`,
			"promo campaign list",
			"promo campaign pause welcome-2026"),
		Subcommands: []*urfave.Command{
			e.campaignCreateCommand(),
			e.campaignListCommand(),
			e.campaignShowCommand(),
			e.campaignStatusCommand("pause", store.StatusPaused, "stop a campaign's codes from validating until it is resumed"),
			e.campaignStatusCommand("resume", store.StatusActive, "let a paused campaign's codes validate again"),
			e.campaignStatusCommand("archive", store.StatusArchived, "end a campaign for good: its codes answer expired, it takes no new codes"),
			e.campaignBudgetCommand(),
		},
	}
}

func (e *env) campaignCreateCommand() *urfave.Command {
	return &urfave.Command{
		Name:  "create",
		Usage: "create a campaign",
		UsageText: "promo campaign create ID [--name NAME] [--kind KIND] (--percent N | --amount N --currency EUR | --free-shipping | --custom TEXT)\n" +
			"  [--starts T] [--expires T] [--valid-for 48h] [--min-order N] [--max-redemptions N]\n" +
			"  [--length N] [--alphabet A] [--prefix P] [--suffix S] [--group N] [--no-check]\n" +
			"  [--reward-campaign ID] [--one-per-customer=true|false] [--bound=true|false] [--min-guess-odds N]\n" +
			"  [--budget-redemptions N] [--budget-discount N]",
		Description: describe("Creates a campaign with one benefit. ID is 1 to 64 lower-case letters, digits and dashes.\n"+
			"The kind sets the defaults: welcome and cart_recovery codes are used once, one per customer, by\n"+
			"their customer; loyalty and vip codes by their customer; referral codes up to 10 times by others;\n"+
			"generic codes once by anyone. Amounts are whole minor units (cents): --amount 500 is 5.00.\n"+
			"Times are RFC 3339 or a date (--starts 2027-01-01 is 00:00:00Z, --expires 2027-01-31 is 23:59:59Z).",
			`promo campaign create welcome-2026 --name "Welcome offer" --kind welcome --percent 10 --expires 2027-01-31 --valid-for 7d`,
			`promo campaign create spring --kind generic --amount 500 --currency EUR --min-order 2500 --prefix SPRING-`,
			`promo campaign create ref-thanks --kind loyalty --free-shipping`,
			`promo campaign create refer --kind referral --percent 15 --reward-campaign ref-thanks`,
			`promo campaign create flyer --kind generic --custom "free tote bag" --alphabet numeric --length 6 --no-check --min-guess-odds 1000`),
		Flags: []urfave.Flag{
			&urfave.StringFlag{Name: "name", Usage: "the campaign's `NAME` shown to people (default: the ID)"},
			&urfave.StringFlag{Name: "kind", Usage: "`KIND`: welcome, loyalty, referral, cart_recovery, vip or generic (default: generic)"},
			&urfave.Int64Flag{Name: "percent", Usage: "benefit: `N` percent off (1 to 100)", DefaultText: "none"},
			&urfave.Int64Flag{Name: "amount", Usage: "benefit: `N` minor units (cents) off; needs --currency", DefaultText: "none"},
			&urfave.StringFlag{Name: "currency", Usage: "ISO 4217 `CODE` of the amount, and of the orders the codes accept (e.g. EUR)"},
			&urfave.BoolFlag{Name: "free-shipping", Usage: "benefit: free shipping"},
			&urfave.StringFlag{Name: "custom", Usage: "benefit: a `TEXT` saying what the code gives, e.g. \"free tote bag\""},
			&urfave.StringFlag{Name: "starts", Usage: "the codes are valid from `TIME` (RFC 3339, or a date: 00:00:00Z that day)"},
			&urfave.StringFlag{Name: "expires", Usage: "the codes expire at `TIME` (RFC 3339, or a date: 23:59:59Z that day)"},
			&urfave.StringFlag{Name: "valid-for", Usage: "a code expires `DURATION` after it is assigned: 48h, 90m, 7d"},
			&urfave.Int64Flag{Name: "min-order", Usage: "smallest order the codes accept, in minor units `N`", DefaultText: "none"},
			&urfave.IntFlag{Name: "max-redemptions", Usage: "uses per code `N`", DefaultText: "by kind"},
			&urfave.BoolFlag{Name: "one-per-customer", Usage: "a customer redeems at most one code of the campaign (=false to allow more)", DefaultText: "by kind"},
			&urfave.BoolFlag{Name: "bound", Usage: "an assigned code is redeemable only by its customer (=false for anyone)", DefaultText: "by kind"},
			&urfave.IntFlag{Name: "length", Usage: "random symbols per code `N`", DefaultText: "11"},
			&urfave.StringFlag{Name: "alphabet", Usage: "`A`: crockford, numeric, alpha, or your own string of symbols", DefaultText: "crockford"},
			&urfave.StringFlag{Name: "prefix", Usage: "fixed text `P` before the random part (letters, digits, dashes)"},
			&urfave.StringFlag{Name: "suffix", Usage: "fixed text `S` after the random part"},
			&urfave.IntFlag{Name: "group", Usage: "symbols per dash-separated group `N` when shown; 0 for none", DefaultText: "4"},
			&urfave.BoolFlag{Name: "no-check", Usage: "no check symbol (it catches typos; keep it unless the codes must be short)"},
			&urfave.StringFlag{Name: "reward-campaign", Usage: "for kind referral: the campaign `ID` whose codes reward referrers"},
			&urfave.Float64Flag{Name: "min-guess-odds", Usage: "accept that 1 guess in `N` may hit a live code", DefaultText: "1000000"},
			&urfave.Int64Flag{Name: "budget-redemptions", Usage: "refuse redemptions past `N` in force (holds count)", DefaultText: "no cap"},
			&urfave.Int64Flag{Name: "budget-discount", Usage: "refuse redemptions past `N` minor units of discount in all", DefaultText: "no cap"},
		},
		Action: e.campaignCreate,
	}
}

// campaignFields maps CampaignSpec's field names to campaign create's flags.
var campaignFields = map[string]string{
	"id": "ID", "name": "--name", "kind": "--kind", "benefit.currency": "--currency", "benefit.text": "--custom",
	"starts_at": "--starts", "expires_at": "--expires", "valid_for": "--valid-for", "min_order": "--min-order",
	"max_redemptions_per_code": "--max-redemptions", "format.alphabet": "--alphabet", "format.length": "--length",
	"format.prefix": "--prefix", "format.suffix": "--suffix", "format.group": "--group", "format.check": "--no-check",
	"min_guess_odds": "--min-guess-odds", "referral.reward_campaign": "--reward-campaign", "referral": "--reward-campaign",
	"bound_to_customer": "--bound", "one_per_customer": "--one-per-customer",
	"budget.redemptions": "--budget-redemptions", "budget.discount": "--budget-discount",
}

func (e *env) campaignCreate(c *urfave.Context) error {
	args, err := needArgs(c, "ID")
	if err != nil {
		return err
	}
	spec, benefitFlag, err := campaignSpec(c, args[0])
	if err != nil {
		return err
	}
	fields := map[string]string{"benefit.value": benefitFlag}
	for k, v := range campaignFields {
		fields[k] = v
	}
	return e.withBackend(c, true, func(b Backend) error {
		camp, err := b.CreateCampaign(c.Context, spec)
		if err != nil {
			return e.withFlags(err, fields)
		}
		if e.json {
			return e.printJSON(camp)
		}
		fmt.Fprintf(e.stdout, "created campaign %s\n\n", camp.ID)
		return printCampaign(e.stdout, camp)
	})
}

// campaignSpec reads campaign create's flags. It also returns the flag
// that gave the benefit, to name it in errors about the benefit's value.
func campaignSpec(c *urfave.Context, id string) (store.CampaignSpec, string, error) {
	spec := store.CampaignSpec{ID: id, Name: c.String("name"), Kind: c.String("kind")}
	var benefits []string
	var b store.Benefit
	if c.IsSet("percent") {
		benefits = append(benefits, "--percent")
		b = store.Benefit{Type: store.BenefitPercent, Value: c.Int64("percent")}
	}
	if c.IsSet("amount") {
		benefits = append(benefits, "--amount")
		b = store.Benefit{Type: store.BenefitAmount, Value: c.Int64("amount")}
	}
	if c.Bool("free-shipping") {
		benefits = append(benefits, "--free-shipping")
		b = store.Benefit{Type: store.BenefitFreeShipping}
	}
	if c.IsSet("custom") {
		benefits = append(benefits, "--custom")
		b = store.Benefit{Type: store.BenefitCustom, Text: c.String("custom")}
	}
	switch len(benefits) {
	case 0:
		return spec, "", usageErrorf(`a benefit is required: --percent 10, --amount 500 --currency EUR, --free-shipping or --custom "free tote bag"`)
	case 1:
	default:
		return spec, "", usageErrorf("give one benefit, not %s", strings.Join(benefits, " and "))
	}
	b.Currency = c.String("currency")
	spec.Benefit = &b
	var err error
	if spec.StartsAt, err = timeFlag(c, "starts", false); err != nil {
		return spec, "", err
	}
	if spec.ExpiresAt, err = timeFlag(c, "expires", true); err != nil {
		return spec, "", err
	}
	if c.IsSet("valid-for") {
		if spec.ValidFor, err = store.ParseDuration(c.String("valid-for")); err != nil {
			return spec, "", usageErrorf("--valid-for: %v", err)
		}
	}
	spec.MinOrder = c.Int64("min-order")
	if c.IsSet("max-redemptions") {
		n := c.Int("max-redemptions")
		spec.MaxRedemptionsPerCode = &n
	}
	if c.IsSet("one-per-customer") {
		v := c.Bool("one-per-customer")
		spec.OnePerCustomer = &v
	}
	if c.IsSet("bound") {
		v := c.Bool("bound")
		spec.BoundToCustomer = &v
	}
	if c.IsSet("length") || c.IsSet("alphabet") || c.IsSet("prefix") || c.IsSet("suffix") || c.IsSet("group") || c.IsSet("no-check") {
		f := gen.DefaultFormat()
		if c.IsSet("length") {
			f.Length = c.Int("length")
		}
		if c.IsSet("alphabet") {
			f.Alphabet = c.String("alphabet")
		}
		if c.IsSet("group") {
			f.Group = c.Int("group")
		}
		f.Prefix, f.Suffix, f.Check = c.String("prefix"), c.String("suffix"), !c.Bool("no-check")
		spec.Format = &f
	}
	spec.MinGuessOdds = c.Float64("min-guess-odds")
	if c.IsSet("reward-campaign") {
		spec.Referral = &store.Referral{RewardCampaign: c.String("reward-campaign")}
	}
	if c.IsSet("budget-redemptions") || c.IsSet("budget-discount") {
		spec.Budget = &store.Budget{Redemptions: c.Int64("budget-redemptions"), Discount: c.Int64("budget-discount")}
	}
	return spec, benefits[0], nil
}

// timeFlag reads a time flag: RFC 3339, or a date meaning the day's first
// second (or, with endOfDay, its last). It returns nil when the flag is
// not set.
func timeFlag(c *urfave.Context, name string, endOfDay bool) (*time.Time, error) {
	if !c.IsSet(name) {
		return nil, nil
	}
	t, err := parseTime(c.String(name), endOfDay)
	if err != nil {
		ex := "2027-01-01"
		if endOfDay {
			ex = "2027-01-31"
		}
		return nil, usageErrorf("--%s: want an RFC 3339 time such as %sT00:00:00Z or a date such as %s, got %q", name, ex, ex, c.String(name))
	}
	return &t, nil
}

func parseTime(s string, endOfDay bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, err
	}
	if endOfDay {
		d = d.Add(24*time.Hour - time.Second)
	}
	return d, nil
}

func (e *env) campaignListCommand() *urfave.Command {
	return &urfave.Command{
		Name:        "list",
		Usage:       "list the campaigns with their counts",
		UsageText:   "promo campaign list",
		Description: describe("Lists every campaign, ordered by ID, with its codes by state.", "promo campaign list", "promo --json campaign list"),
		Action: func(c *urfave.Context) error {
			if _, err := needArgs(c); err != nil {
				return err
			}
			return e.withBackend(c, false, func(b Backend) error {
				list, err := b.Campaigns()
				if err != nil {
					return err
				}
				if e.json {
					if list == nil {
						list = []*store.Campaign{}
					}
					return e.printJSON(httpapi.CampaignList{Campaigns: list})
				}
				if len(list) == 0 {
					fmt.Fprintln(e.stdout, "no campaigns yet: create one with `promo campaign create ID --percent 10`")
					return nil
				}
				t := newTable(e.stdout, "ID", "NAME", "KIND", "BENEFIT", "STATUS", "CODES", "AVAILABLE", "ASSIGNED NOW", "REDEEMED", "HANDED OUT", "EXPIRES")
				for _, camp := range list {
					var n store.Counts
					if camp.Counts != nil {
						n = *camp.Counts
					}
					t.row(camp.ID, camp.Name, camp.Kind, camp.Benefit.String(), camp.Status, n.Codes,
						n.ByState.Available, n.ByState.Assigned, n.ByState.Redeemed, n.Assigned, timeText(camp.ExpiresAt))
				}
				return t.flush()
			})
		},
	}
}

func (e *env) campaignShowCommand() *urfave.Command {
	return &urfave.Command{
		Name:        "show",
		Usage:       "show one campaign: its rules, format and counts",
		UsageText:   "promo campaign show ID",
		Description: describe("Shows a campaign's settings and counts.", "promo campaign show welcome-2026"),
		Action: func(c *urfave.Context) error {
			args, err := needArgs(c, "ID")
			if err != nil {
				return err
			}
			return e.withBackend(c, false, func(b Backend) error {
				camp, err := b.Campaign(args[0])
				if err != nil {
					return err
				}
				if e.json {
					return e.printJSON(camp)
				}
				return printCampaign(e.stdout, camp)
			})
		},
	}
}

func (e *env) campaignStatusCommand(name, status, usage string) *urfave.Command {
	return &urfave.Command{
		Name:        name,
		Usage:       usage,
		UsageText:   "promo campaign " + name + " ID",
		Description: describe("Sets the campaign's status to "+status+". An archived campaign stays archived.", "promo campaign "+name+" welcome-2026"),
		Action: func(c *urfave.Context) error {
			args, err := needArgs(c, "ID")
			if err != nil {
				return err
			}
			return e.withBackend(c, false, func(b Backend) error {
				s := status
				camp, err := b.UpdateCampaign(c.Context, args[0], store.CampaignPatch{Status: &s})
				if err != nil {
					return err
				}
				if e.json {
					return e.printJSON(camp)
				}
				fmt.Fprintf(e.stdout, "campaign %s is %s\n", camp.ID, camp.Status)
				return nil
			})
		},
	}
}

// printCampaign shows a campaign as lines of name and value.
func printCampaign(w io.Writer, c *store.Campaign) error {
	t := newTable(w)
	t.row("id", c.ID)
	t.row("name", c.Name)
	t.row("kind", c.Kind)
	t.row("status", c.Status)
	t.row("benefit", c.Benefit.String())
	if c.Benefit.Currency != "" && c.Benefit.Type != store.BenefitAmount {
		t.row("currency", c.Benefit.Currency)
	}
	t.row("starts", timeText(c.StartsAt))
	t.row("expires", timeText(c.ExpiresAt))
	if c.ValidFor != 0 {
		t.row("valid for", c.ValidFor.String()+" after assignment")
	}
	if c.MinOrder > 0 {
		t.row("min order", money(c.MinOrder, c.Benefit.Currency))
	}
	t.row("uses per code", c.MaxRedemptionsPerCode)
	t.row("one per customer", yesNo(c.OnePerCustomer))
	t.row("bound to customer", yesNo(c.BoundToCustomer))
	t.row("format", formatText(c.Format))
	if c.MinGuessOdds != 0 {
		t.row("min guess odds", fmt.Sprintf("1 in %g", c.MinGuessOdds))
	}
	if c.Referral != nil {
		t.row("referral rewards", "codes of "+c.Referral.RewardCampaign)
	}
	if b := c.Budget; b != nil {
		t.row("budget", budgetText(b.Redemptions, b.Discount, c.Benefit.Currency))
	}
	t.row("created", timeText(&c.CreatedAt))
	if n := c.Counts; n != nil {
		t.row("codes", fmt.Sprintf("%d (generated %d, imported %d)", n.Codes, n.Generated, n.Imported))
		t.row("by state now", fmt.Sprintf("available %d, assigned now %d, redeemed %d, voided %d",
			n.ByState.Available, n.ByState.Assigned, n.ByState.Redeemed, n.ByState.Voided))
		t.row("handed out", plural(n.Assigned, "code", "codes")+" ever assigned to a customer")
		t.row("redemptions", fmt.Sprintf("%d (rolled back %d)", n.Redeemed, n.RolledBack))
		t.row("discounts", fmt.Sprintf("%s on orders of %s", money(n.DiscountTotal, c.Benefit.Currency), money(n.OrderTotal, c.Benefit.Currency)))
	}
	return t.flush()
}

// formatText describes a code format, e.g. "crockford, 11 symbols + check
// symbol, groups of 4".
func formatText(f gen.Format) string {
	alpha := f.Alphabet
	if alpha != "crockford" && alpha != "numeric" && alpha != "alpha" {
		alpha = fmt.Sprintf("alphabet %q", alpha)
	}
	s := fmt.Sprintf("%s, %d symbols", alpha, f.Length)
	if f.Check {
		s += " + check symbol"
	}
	if f.Group > 0 {
		s += fmt.Sprintf(", groups of %d", f.Group)
	}
	if f.Prefix != "" {
		s += fmt.Sprintf(", prefix %q", f.Prefix)
	}
	if f.Suffix != "" {
		s += fmt.Sprintf(", suffix %q", f.Suffix)
	}
	return s
}
