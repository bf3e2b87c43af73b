package cli

import (
	"context"
	"errors"
	"fmt"

	urfave "github.com/urfave/cli/v2"

	"promo/store"
)

func (e *env) generateCommand() *urfave.Command {
	return &urfave.Command{
		Name:      "generate",
		Usage:     "make new random codes for a campaign",
		UsageText: "promo generate ID --count N",
		Description: describe("Makes N random codes, unique across the database, in chunks of 100,000 per transaction;\n"+
			"a progress bar shows on a terminal. Generation is refused when so many live codes would let a\n"+
			"random guess hit one more often than the campaign allows (1 in 1,000,000 by default); the\n"+
			"refusal says the largest count allowed. Interrupting keeps the chunks already stored.",
			"promo generate welcome-2026 --count 10000"),
		Flags: []urfave.Flag{
			&urfave.IntFlag{Name: "count", Usage: "how many codes `N` to make", DefaultText: "required"},
		},
		Action: e.generate,
	}
}

func (e *env) generate(c *urfave.Context) error {
	args, err := needArgs(c, "ID")
	if err != nil {
		return err
	}
	if !c.IsSet("count") {
		return usageErrorf("--count is required: how many codes to make, e.g. --count 1000")
	}
	count := c.Int("count")
	return e.withBackend(c, false, func(b Backend) error {
		bar := e.progress(int64(count), "generating")
		req := store.GenerateRequest{Count: count}
		if bar != nil {
			req.Progress = func(done, _ int) { bar.set(done) }
		}
		res, err := b.Generate(c.Context, args[0], req)
		bar.done()
		if errors.Is(err, context.Canceled) && res.Generated > 0 {
			return unreachable(fmt.Sprintf("interrupted: %s of %d were stored (batch %s); generate the rest with --count %d",
				plural(int64(res.Generated), "code", "codes"), count, res.Batch, count-res.Generated), err)
		}
		if err != nil {
			return e.withFlags(err, map[string]string{"count": "--count"})
		}
		if e.json {
			return e.printJSON(res)
		}
		fmt.Fprintf(e.stdout, "generated %s for campaign %s (batch %s)\n", plural(int64(res.Generated), "code", "codes"), res.Campaign, res.Batch)
		return nil
	})
}
