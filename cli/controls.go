package cli

import (
	"fmt"
	"strings"
	"time"

	urfave "github.com/urfave/cli/v2"

	"promo/store"
)

// The campaign controls' commands: budgets, holds, voiding a batch,
// erasing a customer. (Holds are placed by `validate --hold`, budgets set
// by `campaign create --budget-...` too.)

func (e *env) campaignBudgetCommand() *urfave.Command {
	return &urfave.Command{
		Name:      "budget",
		Usage:     "set or clear a campaign's budget of redemptions and discount",
		UsageText: "promo campaign budget ID [--redemptions N] [--discount N] | --none",
		Description: describe("A redemption (or a hold) that would take the campaign past its budget is refused with\n"+
			"budget_exhausted; a rollback gives the room back. 0 means no cap; a budget may be set below what\n"+
			"is already used, and later redemptions are then refused.",
			"promo campaign budget black-friday --redemptions 500 --discount 250000",
			"promo campaign budget black-friday --none"),
		Flags: []urfave.Flag{
			&urfave.Int64Flag{Name: "redemptions", Usage: "redemptions in force at most, `N`"},
			&urfave.Int64Flag{Name: "discount", Usage: "discount at most, in all, `N` minor units"},
			&urfave.BoolFlag{Name: "none", Usage: "no budget any more"},
		},
		Action: func(c *urfave.Context) error {
			args, err := needArgs(c, "ID")
			if err != nil {
				return err
			}
			set := c.IsSet("redemptions") || c.IsSet("discount")
			if set == c.Bool("none") {
				return usageErrorf("give --redemptions N and/or --discount N, or --none")
			}
			patch := store.CampaignPatch{Budget: store.OptionalBudget{Set: true}}
			if set {
				patch.Budget.Budget = &store.Budget{Redemptions: c.Int64("redemptions"), Discount: c.Int64("discount")}
			}
			return e.withBackend(c, false, func(b Backend) error {
				camp, err := b.UpdateCampaign(c.Context, args[0], patch)
				if err != nil {
					return e.withFlags(err, map[string]string{"budget.redemptions": "--redemptions", "budget.discount": "--discount"})
				}
				if e.json {
					return e.printJSON(camp)
				}
				if camp.Budget == nil {
					fmt.Fprintf(e.stdout, "campaign %s has no budget\n", camp.ID)
					return nil
				}
				fmt.Fprintf(e.stdout, "campaign %s: budget %s\n", camp.ID, budgetText(camp.Budget.Redemptions, camp.Budget.Discount, camp.Benefit.Currency))
				return nil
			})
		},
	}
}

// budgetText says what a budget caps.
func budgetText(redemptions, discount int64, currency string) string {
	var parts []string
	if redemptions > 0 {
		parts = append(parts, fmt.Sprintf("%d redemptions", redemptions))
	}
	if discount > 0 {
		parts = append(parts, money(discount, currency)+" of discount")
	}
	return strings.Join(parts, ", ")
}

func (e *env) holdCommand() *urfave.Command {
	return &urfave.Command{
		Name:      "hold",
		Usage:     "release a hold a cart placed on a code",
		UsageText: "promo hold release ID",
		Description: describe("A hold reserves a code's next use for one customer's cart: `promo validate CODE\n"+
			"--customer C --hold 15m` places one. Release frees the use before the hold expires.",
			"promo hold release hd_12"),
		Subcommands: []*urfave.Command{{
			Name:        "release",
			Usage:       "free a hold now",
			UsageText:   "promo hold release ID",
			Description: describe("Frees the hold: other customers may use the code again.", "promo hold release hd_12"),
			Action: func(c *urfave.Context) error {
				args, err := needArgs(c, "ID")
				if err != nil {
					return err
				}
				return e.withBackend(c, false, func(b Backend) error {
					h, err := b.ReleaseHold(c.Context, args[0], "")
					if err != nil {
						return e.withFlags(err, map[string]string{"id": "ID"})
					}
					if e.json {
						return e.printJSON(h)
					}
					fmt.Fprintf(e.stdout, "released hold %s of code %s (customer %s)\n", h.ID, h.Code, h.CustomerID)
					return nil
				})
			},
		}},
	}
}

// voidBatch is `promo void --campaign ID [--batch B]`.
func (e *env) voidBatch(c *urfave.Context) error {
	if _, err := needArgs(c); err != nil {
		return usageErrorf("give a CODE or --campaign ID, not both")
	}
	req := store.VoidBatchRequest{Batch: c.String("batch"), Reason: c.String("reason")}
	return e.withBackend(c, false, func(b Backend) error {
		res, err := b.VoidBatch(c.Context, c.String("campaign"), req)
		if err != nil {
			return e.withFlags(err, map[string]string{"batch": "--batch", "reason": "--reason"})
		}
		if e.json {
			return e.printJSON(res)
		}
		what := "campaign " + res.Campaign
		if res.Batch != "" {
			what = "batch " + res.Batch + " of " + what
		}
		fmt.Fprintf(e.stdout, "voided %d codes of %s (redeemed codes stay redeemed)\n", res.Voided, what)
		return nil
	})
}

// eraseCustomer is `promo customer erase C`.
func (e *env) eraseCustomer(c *urfave.Context, id string) error {
	return e.withBackend(c, false, func(b Backend) error {
		res, err := b.EraseCustomer(c.Context, id)
		if err != nil {
			return e.withFlags(err, map[string]string{"customer_id": "C"})
		}
		if e.json {
			return e.printJSON(res)
		}
		fmt.Fprintf(e.stdout, "erased customer: now %s everywhere (%d codes, %d of them voided; %d redemptions; %d events rewritten)\n",
			res.Pseudonym, res.Codes, res.Voided, res.Redemptions, res.Events)
		return nil
	})
}

// holdText says until when a hold lives.
func holdText(h *store.HoldRef) string {
	return h.ID + " until " + h.ExpiresAt.UTC().Format(time.RFC3339)
}
