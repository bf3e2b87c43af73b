package cli

import (
	"fmt"
	"io"

	urfave "github.com/urfave/cli/v2"

	"promo/store"
)

// orderFields maps RedeemRequest's field names to the flags of validate
// and redeem.
var orderFields = map[string]string{
	"code": "CODE", "customer_id": "--customer", "order_id": "--order", "order_amount": "--amount",
	"currency": "--currency", "terminal": "--terminal", "hold": "--hold", "hold_id": "--hold-id",
}

func orderFlags(redeem bool) []urfave.Flag {
	flags := []urfave.Flag{
		&urfave.StringFlag{Name: "customer", Usage: "the customer's `ID`; needed for codes bound to a customer and for referral codes"},
		&urfave.Int64Flag{Name: "amount", Usage: "the order's amount in minor units `N` (cents: 4999 is 49.99)", DefaultText: "none"},
		&urfave.StringFlag{Name: "currency", Usage: "the order's ISO 4217 currency `CODE`, e.g. EUR"},
	}
	if redeem {
		flags = append(flags,
			&urfave.StringFlag{Name: "order", Usage: "the order's `ID`, recorded with the redemption"},
			&urfave.StringFlag{Name: "terminal", Usage: "the till or checkout `T`, for the stats by terminal"},
			&urfave.StringFlag{Name: "hold-id", Usage: "the hold `ID` a validation placed (hd_12), which the redemption uses"})
	} else {
		flags = append(flags,
			&urfave.StringFlag{Name: "hold", Usage: "when valid, reserve the code for --customer this `LONG` (1s to 24h, e.g. 15m)"})
	}
	return flags
}

func orderRequest(c *urfave.Context, code string) (store.RedeemRequest, error) {
	req := store.RedeemRequest{Code: code, CustomerID: c.String("customer"), OrderAmount: c.Int64("amount"),
		Currency: c.String("currency"), OrderID: c.String("order"), Terminal: c.String("terminal"), HoldID: c.String("hold-id")}
	if c.IsSet("hold") {
		d, err := store.ParseDuration(c.String("hold"))
		if err != nil {
			return req, usageErrorf("--hold: %v", err)
		}
		req.Hold = d
	}
	return req, nil
}

func (e *env) validateCommand() *urfave.Command {
	return &urfave.Command{
		Name:      "validate",
		Usage:     "tell whether a code could be redeemed now, and for how much",
		UsageText: "promo validate CODE [--customer C] [--amount N] [--currency C] [--hold 15m]",
		Description: describe("Applies every rule without redeeming. Exits 0 when the code is valid, with the discount\n"+
			"for the order; 1 when it is not, with the reason on stderr (with --json the answer is on stdout\n"+
			"as well: {\"valid\": false, \"reason\": ...}).",
			"promo validate 7K3M-Q9XD-2RTM --customer cust-42 --amount 4999 --currency EUR"),
		Flags: orderFlags(false),
		Action: func(c *urfave.Context) error {
			args, err := needArgs(c, "CODE")
			if err != nil {
				return err
			}
			req, err := orderRequest(c, args[0])
			if err != nil {
				return err
			}
			return e.withBackend(c, false, func(b Backend) error {
				v, err := b.Validate(req)
				if err != nil {
					return e.withFlags(err, orderFields)
				}
				if e.json {
					if err := e.printJSON(v); err != nil {
						return err
					}
				}
				if !v.Valid {
					return notValid(v, orderFields)
				}
				if e.json {
					return nil
				}
				t := newTable(e.stdout)
				t.row("valid", "yes")
				t.row("code", v.Code)
				t.row("campaign", v.Campaign)
				if v.Benefit != nil {
					t.row("benefit", v.Benefit.String())
				}
				discount := money(v.Discount, v.Currency)
				if req.OrderAmount > 0 {
					discount += " on an order of " + money(req.OrderAmount, v.Currency)
				}
				t.row("discount", discount)
				if v.Hold != nil {
					t.row("held", holdText(v.Hold)+" (redeem with --hold-id "+v.Hold.ID+")")
				}
				return t.flush()
			})
		},
	}
}

func (e *env) redeemCommand() *urfave.Command {
	return &urfave.Command{
		Name:      "redeem",
		Usage:     "use a code once, for an order",
		UsageText: "promo redeem CODE [--customer C] [--order O] [--amount N] [--currency C] [--terminal T] [--hold-id ID]",
		Description: describe("Applies every rule and records the redemption in one transaction, on disk before it answers.\n"+
			"A referral redemption also gives the referrer a reward code. Undo it with promo rollback.",
			"promo redeem 7K3M-Q9XD-2RTM --customer cust-42 --order o-1001 --amount 4999 --currency EUR --terminal till-3"),
		Flags: orderFlags(true),
		Action: func(c *urfave.Context) error {
			args, err := needArgs(c, "CODE")
			if err != nil {
				return err
			}
			req, err := orderRequest(c, args[0])
			if err != nil {
				return err
			}
			return e.withBackend(c, false, func(b Backend) error {
				r, err := b.Redeem(c.Context, req)
				if err != nil {
					return e.withFlags(err, orderFields)
				}
				if e.json {
					return e.printJSON(r)
				}
				return printRedemption(e.stdout, r)
			})
		},
	}
}

// printRedemption shows one redemption as lines of name and value.
func printRedemption(w io.Writer, r store.Redemption) error {
	t := newTable(w)
	t.row("redemption", r.ID)
	t.row("code", r.Code)
	t.row("campaign", r.Campaign)
	t.row("customer", orDash(r.CustomerID))
	if r.OrderID != "" {
		t.row("order", r.OrderID)
	}
	if r.OrderAmount > 0 {
		t.row("order amount", money(r.OrderAmount, r.Currency))
	}
	t.row("benefit", r.Benefit.String())
	t.row("discount", money(r.Discount, r.Currency))
	if r.Terminal != "" {
		t.row("terminal", r.Terminal)
	}
	t.row("redeemed", timeText(&r.RedeemedAt))
	if r.RolledBackAt != nil {
		t.row("rolled back", timeText(r.RolledBackAt))
		if r.RollbackReason != "" {
			t.row("reason", r.RollbackReason)
		}
	}
	if r.RewardCode != "" {
		t.row("reward code", r.RewardCode+" (for the referrer)")
	}
	if r.RewardError != "" {
		t.row("no reward", r.RewardError)
	}
	if r.Hold != "" {
		t.row("hold used", r.Hold)
	}
	return t.flush()
}

func (e *env) rollbackCommand() *urfave.Command {
	return &urfave.Command{
		Name:      "rollback",
		Usage:     "undo a redemption: the code can be used again",
		UsageText: "promo rollback REDEMPTION_ID [--reason R]",
		Description: describe("Gives the code its use back and restores its state, the counters and the customer's limit;\n"+
			"an unused referral reward is voided. REDEMPTION_ID is what redeem printed (rd_123).",
			`promo rollback rd_123 --reason "order cancelled"`),
		Flags: []urfave.Flag{
			&urfave.StringFlag{Name: "reason", Usage: "why, recorded with the redemption"},
		},
		Action: func(c *urfave.Context) error {
			args, err := needArgs(c, "REDEMPTION_ID")
			if err != nil {
				return err
			}
			return e.withBackend(c, false, func(b Backend) error {
				r, err := b.Rollback(c.Context, args[0], store.RollbackRequest{Reason: c.String("reason")})
				if err != nil {
					return e.withFlags(err, map[string]string{"reason": "--reason"})
				}
				if e.json {
					return e.printJSON(r)
				}
				fmt.Fprintf(e.stdout, "rolled back %s: code %s can be used again\n", r.ID, r.Code)
				switch {
				case r.RewardVoided:
					fmt.Fprintf(e.stdout, "voided the referrer's reward code %s, which this referral had earned (it was unused)\n", r.RewardCode)
				case r.RewardCode != "":
					fmt.Fprintf(e.stdout, "the referrer's reward code %s stays: it was already used or voided\n", r.RewardCode)
				}
				return nil
			})
		},
	}
}
