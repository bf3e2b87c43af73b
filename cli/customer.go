package cli

import (
	"fmt"
	"io"

	urfave "github.com/urfave/cli/v2"

	"promo/store"
)

func (e *env) customerCommand() *urfave.Command {
	return &urfave.Command{
		Name:      "customer",
		Usage:     "show a customer's codes, referral rewards and redemptions; or erase a customer",
		UsageText: "promo customer C | erase C",
		Description: describe("Shows every code given to the customer, the rewards their referrals earned, and their redemptions.\n"+
			"`erase C` forgets the customer (their right to be forgotten): their id is replaced by a pseudonym\n"+
			"everywhere, their live holds end and their unredeemed codes are voided. (A customer whose id is\n"+
			"\"erase\" is shown with `promo customer -- erase`.)",
			"promo customer cust-42", "promo customer erase cust-42"),
		Action: func(c *urfave.Context) error {
			if c.Args().Len() == 2 && c.Args().First() == "erase" {
				return e.eraseCustomer(c, c.Args().Get(1))
			}
			args, err := needArgs(c, "C")
			if err != nil {
				return err
			}
			return e.withBackend(c, false, func(b Backend) error {
				v, err := b.Customer(args[0])
				if err != nil {
					return e.withFlags(err, map[string]string{"customer_id": "C"})
				}
				if e.json {
					return e.printJSON(v)
				}
				w := e.stdout
				fmt.Fprintf(w, "customer %s\n", v.CustomerID)
				for _, part := range []struct {
					title string
					codes []store.Code
				}{{"CODES", v.Codes}, {"REWARDS", v.Rewards}} {
					if len(part.codes) == 0 {
						continue
					}
					section(w, part.title)
					if err := printCodes(w, part.codes); err != nil {
						return err
					}
				}
				if len(v.Redemptions) > 0 {
					section(w, "REDEMPTIONS")
					return printRedemptions(w, v.Redemptions)
				}
				return nil
			})
		},
	}
}

// printCodes shows codes as a table.
func printCodes(w io.Writer, codes []store.Code) error {
	t := newTable(w, "CODE", "CAMPAIGN", "STATE", "CHANNEL", "ASSIGNED AT", "EXPIRES", "USES")
	for _, c := range codes {
		t.row(c.Code, c.Campaign, c.State, orDash(c.Channel), timeText(c.AssignedAt), timeText(c.ExpiresAt),
			fmt.Sprintf("%d of %d", c.RedemptionCount, c.MaxRedemptions))
	}
	return t.flush()
}
