package cli

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"

	urfave "github.com/urfave/cli/v2"

	"promo/store"
)

func (e *env) importCommand() *urfave.Command {
	return &urfave.Command{
		Name:      "import",
		Usage:     "add existing codes to a campaign from a file",
		UsageText: "promo import ID FILE [--skip-invalid]",
		Description: describe("Reads one code a line, or CSV with a header naming the code column (code, coupon code,\n"+
			"promo_code, voucher, ...); FILE - reads stdin. Imported codes keep their own shape. Codes already\n"+
			"in the campaign are counted as present, so a re-run imports nothing twice. A malformed line, a\n"+
			"repeat or a code of another campaign refuses the whole file, listing the first 100 bad lines and\n"+
			"counting the rest; with --skip-invalid the good lines are imported and the bad ones listed.",
			"promo import spring codes.txt",
			"shopify-export | promo import spring - --skip-invalid"),
		Flags: []urfave.Flag{
			&urfave.BoolFlag{Name: "skip-invalid", Usage: "import the good lines and list the bad ones, instead of refusing the file"},
		},
		Action: e.importCodes,
	}
}

func (e *env) importCodes(c *urfave.Context) error {
	args, err := needArgs(c, "ID", "FILE")
	if err != nil {
		return err
	}
	r, closeInput, err := e.openInput(args[1])
	if err != nil {
		return err
	}
	defer closeInput()
	return e.withBackend(c, false, func(b Backend) error {
		res, err := b.Import(c.Context, args[0], r, store.ImportOptions{SkipInvalid: c.Bool("skip-invalid")})
		if err != nil {
			return err
		}
		if e.json {
			return e.printJSON(res)
		}
		fmt.Fprintf(e.stdout, "imported %s into campaign %s", plural(int64(res.Imported), "code", "codes"), res.Campaign)
		if res.Batch != "" {
			fmt.Fprintf(e.stdout, " (batch %s)", res.Batch)
		}
		fmt.Fprintln(e.stdout)
		if res.AlreadyPresent > 0 {
			fmt.Fprintf(e.stdout, "%s already present\n", plural(int64(res.AlreadyPresent), "code was", "codes were"))
		}
		if res.SkippedTotal > 0 {
			listed := ""
			if res.SkippedTotal > len(res.Skipped) {
				listed = fmt.Sprintf(" (the first %d listed)", len(res.Skipped))
			}
			fmt.Fprintf(e.stdout, "skipped %s%s:\n", plural(int64(res.SkippedTotal), "line", "lines"), listed)
			for _, p := range res.Skipped {
				fmt.Fprintf(e.stdout, "  %s\n", problemLine(p))
			}
		}
		return nil
	})
}

func (e *env) exportCommand() *urfave.Command {
	return &urfave.Command{
		Name:      "export",
		Usage:     "write a campaign's codes, or its redemptions, as CSV",
		UsageText: "promo export ID [--state S] [--out FILE] [--qr DIR] [--redemptions]",
		Description: describe("Writes every code of the campaign in creation order as CSV (code, campaign, state,\n"+
			"customer_id, channel, assigned_at, expires_at, redemption_count, batch), or with --redemptions\n"+
			"every redemption. --out writes FILE atomically (a progress bar shows on a terminal); otherwise\n"+
			"the CSV goes to stdout. With --json, one JSON object a line. --qr writes each code's QR code\n"+
			"into DIR as CODE.png, for printing; with --qr and no --out, only the images are written.",
			"promo export welcome-2026 --state available --out codes.csv",
			"promo export summer-fair --state available --out codes.csv --qr qr/",
			"promo export welcome-2026 --redemptions > redemptions.csv"),
		Flags: []urfave.Flag{
			&urfave.StringFlag{Name: "state", Usage: "only codes in `STATE`: available, assigned, redeemed or voided"},
			&urfave.StringFlag{Name: "out", Usage: "write to `FILE` instead of stdout"},
			&urfave.StringFlag{Name: "qr", Usage: "write a QR code PNG of each code into `DIR` (file name: the code); the CSV only with --out"},
			&urfave.BoolFlag{Name: "redemptions", Usage: "export the redemptions instead of the codes"},
		},
		Action: e.export,
	}
}

func (e *env) export(c *urfave.Context) error {
	args, err := needArgs(c, "ID")
	if err != nil {
		return err
	}
	id, state, out, redemptions := args[0], c.String("state"), c.String("out"), c.Bool("redemptions")
	if redemptions && state != "" {
		return usageErrorf("--state applies to codes, not to --redemptions")
	}
	if redemptions && c.String("qr") != "" {
		return usageErrorf("--qr applies to codes, not to --redemptions")
	}
	return e.withBackend(c, false, func(b Backend) error {
		camp, err := b.Campaign(id)
		if err != nil {
			return err
		}
		qr, err := newQRWriter(c.String("qr"))
		if err != nil {
			return err
		}
		w := e.stdout
		var bar *progress
		qrOnly := out == "" && c.String("qr") != ""
		if qrOnly {
			// The images are what was asked for: no CSV on the terminal.
			w = io.Discard
			bar = e.progress(exportTotal(camp.Counts, state, false), "writing QR codes")
		}
		if out != "" {
			f, err := createAtomic(out)
			if err != nil {
				return err
			}
			defer f.abort()
			w = f
			bar = e.progress(exportTotal(camp.Counts, state, redemptions), "exporting")
		}
		rows := newRowWriter(w, e.json)
		var n int64
		if redemptions {
			err = rows.header(store.RedemptionCSVHeader)
			if err == nil {
				err = b.EachRedemption(id, func(r store.Redemption) error {
					if err := c.Context.Err(); err != nil {
						return err
					}
					n++
					bar.add(1)
					return rows.write(r, r.CSV())
				})
			}
		} else {
			err = rows.header(store.CodeCSVHeader)
			if err == nil {
				err = b.EachCode(id, state, func(code store.Code) error {
					if err := c.Context.Err(); err != nil {
						return err
					}
					n++
					bar.add(1)
					if err := qr.write(code.Code); err != nil {
						return err
					}
					return rows.write(code, code.CSV())
				})
			}
		}
		bar.done()
		if err == nil {
			err = rows.flush()
		}
		if err != nil {
			return e.withFlags(err, map[string]string{"state": "--state"})
		}
		if f, ok := w.(*atomicFile); ok {
			if err := f.commit(); err != nil {
				return err
			}
			what := plural(n, "code", "codes")
			if redemptions {
				what = plural(n, "redemption", "redemptions")
			}
			fmt.Fprintf(e.stdout, "exported %s to %s\n", what, out)
			qr.report(e.stdout)
		} else if qrOnly {
			qr.report(e.stdout)
		} else {
			qr.report(e.stderr) // stdout holds the CSV
		}
		return nil
	})
}

// exportTotal is how many rows an export will write, for its progress bar.
func exportTotal(n *store.Counts, state string, redemptions bool) int64 {
	if n == nil {
		return -1
	}
	switch {
	case redemptions:
		return n.Redeemed + n.RolledBack
	case state == "available":
		return n.ByState.Available
	case state == "assigned":
		return n.ByState.Assigned
	case state == "redeemed":
		return n.ByState.Redeemed
	case state == "voided":
		return n.ByState.Voided
	}
	return n.Codes
}

// rowWriter writes records as CSV, or with --json as one JSON object a
// line.
type rowWriter struct {
	csv  *csv.Writer
	json *json.Encoder
}

func newRowWriter(w io.Writer, asJSON bool) *rowWriter {
	if asJSON {
		return &rowWriter{json: json.NewEncoder(w)}
	}
	return &rowWriter{csv: csv.NewWriter(w)}
}

func (r *rowWriter) header(cols []string) error {
	if r.csv != nil {
		return r.csv.Write(cols)
	}
	return nil
}

func (r *rowWriter) write(v any, record []string) error {
	if r.csv != nil {
		return r.csv.Write(record)
	}
	return r.json.Encode(v)
}

func (r *rowWriter) flush() error {
	if r.csv != nil {
		r.csv.Flush()
		return r.csv.Error()
	}
	return nil
}

func (e *env) codeCommand() *urfave.Command {
	return &urfave.Command{
		Name:      "code",
		Usage:     "show one code: state, campaign, customer, expiry and redemptions",
		UsageText: "promo code CODE",
		Description: describe("Looks a code up as a till would (case, spaces and dashes do not matter) and shows it.\n"+
			"A code with a mistyped symbol is answered typo.",
			"promo code 7K3M-Q9XD-2RTM"),
		Action: func(c *urfave.Context) error {
			args, err := needArgs(c, "CODE")
			if err != nil {
				return err
			}
			return e.withBackend(c, false, func(b Backend) error {
				code, err := b.GetCode(args[0])
				if err != nil {
					return err
				}
				if e.json {
					return e.printJSON(code)
				}
				if err := printCode(e.stdout, code); err != nil {
					return err
				}
				if len(code.Redemptions) > 0 {
					section(e.stdout, "REDEMPTIONS")
					return printRedemptions(e.stdout, code.Redemptions)
				}
				return nil
			})
		},
	}
}

// printCode shows a code as lines of name and value.
func printCode(w io.Writer, c store.Code) error {
	t := newTable(w)
	t.row("code", c.Code)
	t.row("campaign", c.Campaign)
	t.row("state", c.State)
	t.row("customer", orDash(c.CustomerID))
	if c.Channel != "" {
		t.row("channel", c.Channel)
	}
	if c.AssignedAt != nil {
		t.row("assigned", timeText(c.AssignedAt))
	}
	t.row("expires", timeText(c.ExpiresAt))
	if c.VoidedAt != nil {
		t.row("voided", timeText(c.VoidedAt))
	}
	t.row("uses", fmt.Sprintf("%d of %d", c.RedemptionCount, c.MaxRedemptions))
	if c.Batch != "" {
		t.row("batch", c.Batch)
	}
	return t.flush()
}

// printRedemptions shows redemptions as a table.
func printRedemptions(w io.Writer, list []store.Redemption) error {
	t := newTable(w, "ID", "CODE", "CAMPAIGN", "CUSTOMER", "ORDER", "AMOUNT", "DISCOUNT", "TERMINAL", "REDEEMED", "ROLLED BACK")
	for _, r := range list {
		t.row(r.ID, r.Code, r.Campaign, orDash(r.CustomerID), orDash(r.OrderID), money(r.OrderAmount, r.Currency),
			money(r.Discount, r.Currency), orDash(r.Terminal), timeText(&r.RedeemedAt), timeText(r.RolledBackAt))
	}
	return t.flush()
}

func (e *env) voidCommand() *urfave.Command {
	return &urfave.Command{
		Name:      "void",
		Usage:     "make a code, or a leaked batch's codes, unusable for good",
		UsageText: "promo void CODE [--reason R] | --campaign ID [--batch B] [--reason R]",
		Description: describe("Voids the code: it answers voided from now on. Voiding a voided code changes nothing.\n"+
			"With --campaign, voids every code of the batch (or, without --batch, of the campaign) that is\n"+
			"not yet redeemed, a few thousand at a time: for a printed batch that leaked. Redeemed codes stay\n"+
			"redeemed; one event (codes.voided) records the count. `promo stats ID` lists the batches.",
			`promo void 7K3M-Q9XD-2RTM --reason "printed on a lost flyer"`,
			`promo void --campaign spring-flyer --batch b2 --reason "posted on a coupon site"`),
		Flags: []urfave.Flag{
			&urfave.StringFlag{Name: "reason", Usage: "why, for the event log"},
			&urfave.StringFlag{Name: "campaign", Usage: "void the unredeemed codes of campaign `ID`"},
			&urfave.StringFlag{Name: "batch", Usage: "with --campaign: of batch `B` only (e.g. b2)"},
		},
		Action: func(c *urfave.Context) error {
			if c.IsSet("campaign") {
				return e.voidBatch(c)
			}
			if c.IsSet("batch") {
				return usageErrorf("--batch goes with --campaign ID")
			}
			args, err := needArgs(c, "CODE")
			if err != nil {
				return err
			}
			return e.withBackend(c, false, func(b Backend) error {
				code, err := b.Void(c.Context, args[0], c.String("reason"))
				if err != nil {
					return e.withFlags(err, map[string]string{"reason": "--reason"})
				}
				if e.json {
					return e.printJSON(code)
				}
				fmt.Fprintf(e.stdout, "code %s of campaign %s is voided\n", code.Code, code.Campaign)
				return nil
			})
		},
	}
}
