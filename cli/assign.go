package cli

import (
	"fmt"
	"io"
	"os"

	urfave "github.com/urfave/cli/v2"

	"promo/store"
)

func (e *env) assignCommand() *urfave.Command {
	return &urfave.Command{
		Name:      "assign",
		Usage:     "give a customer a code, or every customer of a file one (a mail-merge CSV)",
		UsageText: "promo assign ID --customer C [--channel email] | --customers FILE.csv [--channel C] [--out FILE]",
		Description: describe("Gives the customer the campaign's next available code (making one when none is left) and\n"+
			"records the channel: email, app, account, event, mail, pos or other. Asking again returns the same\n"+
			"code while it can still be used. --customers reads one customer id a line, or CSV with a header\n"+
			"naming customer_id (and optionally email, name, channel; FILE - reads stdin), and writes the CSV\n"+
			"customer_id,email,name,code for a mail merge; a re-run returns the same codes.",
			"promo assign welcome-2026 --customer cust-42",
			"promo assign welcome-2026 --customers customers.csv --out mailing.csv"),
		Flags: []urfave.Flag{
			&urfave.StringFlag{Name: "customer", Usage: "the customer's `ID`"},
			&urfave.StringFlag{Name: "customers", Usage: "assign to every customer of `FILE.csv`"},
			&urfave.StringFlag{Name: "channel", Usage: "how the code reaches the customer: email, app, account, event, mail, pos or other", DefaultText: "email"},
			&urfave.StringFlag{Name: "out", Usage: "with --customers: write the mail-merge CSV to `FILE` instead of stdout"},
		},
		Action: e.assign,
	}
}

// assignFields maps AssignRequest's field names to assign's flags.
var assignFields = map[string]string{"customer_id": "--customer", "channel": "--channel"}

func (e *env) assign(c *urfave.Context) error {
	args, err := needArgs(c, "ID")
	if err != nil {
		return err
	}
	customer, customers := c.String("customer"), c.String("customers")
	switch {
	case c.IsSet("customer") && c.IsSet("customers"):
		return usageErrorf("give --customer C for one customer or --customers FILE.csv for many, not both")
	case c.IsSet("customers"):
		return e.assignMany(c, args[0], customers)
	case !c.IsSet("customer"):
		return usageErrorf("--customer C or --customers FILE.csv is required: who gets a code")
	case c.IsSet("out"):
		return usageErrorf("--out is for --customers; one assigned code is printed")
	}
	return e.withBackend(c, false, func(b Backend) error {
		code, err := b.Assign(c.Context, args[0], store.AssignRequest{CustomerID: customer, Channel: c.String("channel")})
		if err != nil {
			return e.withFlags(err, assignFields)
		}
		if code.MaxRedemptions > 0 && code.RedemptionCount >= code.MaxRedemptions {
			return e.usedUp(b, code)
		}
		if e.json {
			return e.printJSON(code)
		}
		return printCode(e.stdout, code)
	})
}

// usedUp answers an assign that found the customer's code of the campaign
// already used up (a one_per_customer campaign gives a customer one code):
// the code on stdout as usual, and exit status 1 with when, where and for
// which order it was used, so that a script sends no dead code and a
// person can tell the customer.
func (e *env) usedUp(b Backend, code store.Code) error {
	full, err := b.GetCode(code.Code)
	if err != nil {
		return err
	}
	if e.json {
		if err := e.printJSON(full); err != nil {
			return err
		}
	} else if err := printCode(e.stdout, code); err != nil {
		return err
	}
	when := ""
	for _, r := range full.Redemptions {
		if r.RolledBackAt == nil {
			where := r.Terminal
			if where == "" {
				where = "no recorded terminal"
			}
			when = " on " + timeText(&r.RedeemedAt) + " at " + where
			if r.OrderID != "" {
				when += ", order " + r.OrderID
			}
			when += " (" + r.ID + ")"
		}
	}
	return answeredNo(store.EAlreadyRedeemed, fmt.Sprintf("%s already used their code %s of %s%s: a customer gets one code of this campaign, so there is no new one to send",
		code.CustomerID, code.Code, code.Campaign, when))
}

func (e *env) assignMany(c *urfave.Context, id, file string) error {
	f, closeInput, err := e.openSeekable(file)
	if err != nil {
		return err
	}
	defer closeInput()
	return e.withBackend(c, false, func(b Backend) error {
		var w io.Writer = e.stdout
		var out *atomicFile
		if path := c.String("out"); path != "" {
			if out, err = createAtomic(path); err != nil {
				return err
			}
			defer out.abort()
			w = out
		}
		var bar *progress
		customers := 0
		rows := newRowWriter(w, e.json)
		ready := func(n int) error {
			customers = n
			if out != nil { // not when the CSV goes to the terminal
				bar = e.progress(int64(n), "assigning")
			}
			return rows.header(store.AssignCSVHeader)
		}
		err := b.AssignFile(c.Context, id, f, c.String("channel"), ready, func(row store.AssignRow) error {
			bar.add(1)
			return rows.write(row, row.CSV())
		})
		bar.done()
		if ferr := rows.flush(); err == nil {
			err = ferr
		}
		if err != nil {
			return e.withFlags(err, assignFields)
		}
		if out != nil {
			if err := out.commit(); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "assigned codes to %s: %s\n", plural(int64(customers), "customer", "customers"), out.path)
		}
		return nil
	})
}

// openSeekable opens a file of customers to be read twice (checked in
// full, then assigned): a regular file as it is, anything else (stdin, a
// pipe) copied first into a temporary file, removed at once.
func (e *env) openSeekable(path string) (io.ReadSeeker, func(), error) {
	r, closeInput, err := e.openInput(path)
	if err != nil {
		return nil, nil, err
	}
	if f, ok := r.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			return f, closeInput, nil
		}
	}
	defer closeInput()
	tmp, err := os.CreateTemp("", "promo-customers-*")
	if err != nil {
		return nil, nil, unreachable("cannot keep a copy of the customers to read them twice: "+err.Error(), err)
	}
	removed := os.Remove(tmp.Name()) == nil
	done := func() {
		tmp.Close()
		if !removed {
			os.Remove(tmp.Name())
		}
	}
	if _, err := io.Copy(tmp, r); err != nil {
		done()
		return nil, nil, fileError(path, err, true)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		done()
		return nil, nil, fileError(path, err, true)
	}
	return tmp, done, nil
}
