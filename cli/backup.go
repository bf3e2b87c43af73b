package cli

import (
	"fmt"
	"os"
	"path/filepath"

	urfave "github.com/urfave/cli/v2"

	"promo/httpapi"
	"promo/store"
)

func (e *env) backupCommand() *urfave.Command {
	return &urfave.Command{
		Name:      "backup",
		Usage:     "write a consistent copy of the database to a file",
		UsageText: "promo backup FILE",
		Description: describe("Copies the database while it keeps serving, into a temporary file beside FILE that is\n"+
			"synced and then renamed to FILE, so FILE is either the old file or a whole copy. Open the copy\n"+
			"with --db FILE; its Bloom filter is rebuilt on first use.",
			"promo backup /var/backups/promo-$(date +%F).db"),
		Action: e.backup,
	}
}

func (e *env) backup(c *urfave.Context) error {
	args, err := needArgs(c, "FILE")
	if err != nil {
		return err
	}
	path := args[0]
	if same(path, c.String("db")) {
		return usageErrorf("%s is the database itself: back it up to another file", path)
	}
	return e.withBackend(c, false, func(b Backend) error {
		f, err := createAtomic(path)
		if err != nil {
			return err
		}
		defer f.abort()
		n, err := b.Backup(ctxWriter{c.Context, f})
		if err != nil {
			return err
		}
		if err := f.commit(); err != nil {
			return err
		}
		if e.json {
			return e.printJSON(map[string]any{"file": path, "bytes": n})
		}
		fmt.Fprintf(e.stdout, "wrote %s (%s)\n", path, sizeText(n))
		return nil
	})
}

// same reports whether two paths name the same file.
func same(a, b string) bool {
	if sa, err := os.Stat(a); err == nil {
		if sb, err := os.Stat(b); err == nil {
			return os.SameFile(sa, sb)
		}
	}
	pa, err1 := filepath.Abs(a)
	pb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && pa == pb
}

func (e *env) checkCommand() *urfave.Command {
	return &urfave.Command{
		Name:      "check",
		Usage:     "verify the database: bbolt, the filter, the indexes, every counter and the event log",
		UsageText: "promo check",
		Description: describe("Runs bbolt's consistency check, makes sure the Bloom filter covers every code, and\n"+
			"recounts every counter, customer limit and the event log from the data. Prints ok and exits 0\n"+
			"when all is well; otherwise prints one finding a line and exits 1.",
			"promo check"),
		Action: func(c *urfave.Context) error {
			if _, err := needArgs(c); err != nil {
				return err
			}
			return e.withBackend(c, false, func(b Backend) error {
				findings, err := b.Check(c.Context)
				if err != nil {
					return err
				}
				if findings == nil {
					findings = []string{}
				}
				if e.json {
					if err := e.printJSON(httpapi.CheckResult{OK: len(findings) == 0, Findings: findings}); err != nil {
						return err
					}
				} else if len(findings) == 0 {
					fmt.Fprintln(e.stdout, "ok")
				}
				if len(findings) == 0 {
					return nil
				}
				if !e.json {
					for _, f := range findings {
						fmt.Fprintln(e.stdout, f)
					}
				}
				return answeredNo(store.EConflict, fmt.Sprintf("check found %s; see above", plural(int64(len(findings)), "problem", "problems")))
			})
		},
	}
}
