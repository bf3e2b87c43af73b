package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	urfave "github.com/urfave/cli/v2"

	"promo/httpapi"
	"promo/store"
)

func (e *env) backupCommand() *urfave.Command {
	return &urfave.Command{
		Name:      "backup",
		Usage:     "write a consistent copy of the database to a file",
		UsageText: "promo backup FILE | --dir DIR [--keep N]",
		Description: describe("Copies the database while it keeps serving, into a temporary file beside FILE that is\n"+
			"synced and then renamed to FILE, so FILE is either the old file or a whole copy. Open the copy\n"+
			"with --db FILE; its Bloom filter is rebuilt on first use. With --dir, the copy is\n"+
			"DIR/promo-YYYYMMDD-HHMMSS.db and, with --keep N, all but the newest N such copies are removed\n"+
			"(for a nightly timer: see `promo service-unit --backup-timer`).",
			"promo backup /var/backups/promo-$(date +%F).db",
			"promo backup --dir /var/lib/promo/backups --keep 14"),
		Flags: []urfave.Flag{
			&urfave.StringFlag{Name: "dir", Usage: "write a timestamped copy into `DIR` (made if missing)"},
			&urfave.IntFlag{Name: "keep", Usage: "with --dir: keep the newest `N` copies, remove older ones", DefaultText: "all"},
		},
		Action: e.backup,
	}
}

func (e *env) backup(c *urfave.Context) error {
	var path string
	if dir := c.String("dir"); dir != "" {
		if _, err := needArgs(c); err != nil {
			return usageErrorf("give FILE or --dir DIR, not both")
		}
		if c.IsSet("keep") && c.Int("keep") < 1 {
			return usageErrorf("--keep: want 1 or more copies, got %d", c.Int("keep"))
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return unreachable("make "+dir+": "+err.Error(), err)
		}
		path = filepath.Join(dir, "promo-"+time.Now().UTC().Format("20060102-150405")+".db")
	} else {
		if c.IsSet("keep") {
			return usageErrorf("--keep goes with --dir DIR")
		}
		args, err := needArgs(c, "FILE")
		if err != nil {
			return err
		}
		path = args[0]
	}
	if !onEtcd(c) && same(path, c.String("db")) {
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
		removed, err := rotateBackups(c.String("dir"), c.Int("keep"))
		if err != nil {
			return err
		}
		if e.json {
			for _, r := range removed {
				fmt.Fprintf(e.stderr, "promo: removed the old backup %s\n", r) // stdout holds the JSON
			}
			return e.printJSON(map[string]any{"file": path, "bytes": n})
		}
		fmt.Fprintf(e.stdout, "wrote %s (%s)\n", path, sizeText(n))
		for _, r := range removed {
			// What the command did, as its other lines: stderr is for
			// failures (a timer's journal then reads the same).
			fmt.Fprintf(e.stdout, "removed the old backup %s\n", r)
		}
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

// rotateBackups removes all but the newest keep backups promo wrote into
// dir (promo-YYYYMMDD-HHMMSS.db; their names sort by time), and returns
// what it removed. keep 0 keeps all.
func rotateBackups(dir string, keep int) ([]string, error) {
	if dir == "" || keep <= 0 {
		return nil, nil
	}
	names, err := filepath.Glob(filepath.Join(dir, "promo-[0-9]*-[0-9]*.db"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var removed []string
	for len(names) > keep {
		if err := os.Remove(names[0]); err != nil {
			return removed, unreachable("remove the old backup "+names[0]+": "+err.Error(), err)
		}
		removed, names = append(removed, names[0]), names[1:]
	}
	return removed, nil
}
