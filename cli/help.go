package cli

import (
	"fmt"
	"strings"

	urfave "github.com/urfave/cli/v2"
)

// Help: `promo --help`, `promo help`, and the descriptions with examples
// every command shows.

// appHelp returns `promo --help`: every command with one example. It is
// plain text used as urfave's template, so it must contain no "{{".
func appHelp(app *urfave.App) string {
	var b strings.Builder
	b.WriteString("promo - " + app.Usage + "\n\nUSAGE:\n   " + app.UsageText + "\n")
	b.WriteString("   Flags may come before or after the arguments, and --db and --json before or after the command.\n\nCOMMANDS:\n")
	for _, c := range app.Commands {
		fmt.Fprintf(&b, "   %-9s %s\n", c.Name, c.Usage)
		if ex := firstExample(c.Description); ex != "" {
			fmt.Fprintf(&b, "   %-9s   %s\n", "", ex)
		}
	}
	b.WriteString("\nGLOBAL FLAGS:\n")
	b.WriteString("   --db FILE   the database file (default promo.db, or $PROMO_DB); while `promo serve` holds it,\n")
	b.WriteString("               commands go through its admin socket FILE.sock\n")
	b.WriteString("   --json      print the JSON the HTTP API answers; errors go to stderr as {\"error\": {...}}\n")
	b.WriteString("   --etcd URLS keep the store in an etcd cluster instead of --db ($PROMO_ETCD): any number of\n")
	b.WriteString("               `promo serve` share it, commands talk to it directly; with --etcd-prefix P\n")
	b.WriteString("               (default /promo/), TLS files --etcd-cacert, --etcd-cert, --etcd-key, and\n")
	b.WriteString("               --etcd-max-txn-ops N (the members' --max-txn-ops, default 128)\n")
	b.WriteString("\nEXIT STATUS:\n   0 done, 1 refused by a rule (the reason on stderr), 2 bad usage or input,\n")
	b.WriteString("   3 the database or server could not be reached.\n")
	b.WriteString("\nRun `promo COMMAND --help` for a command's flags and examples.\n")
	return b.String()
}

// firstExample returns the first line of a description that shows a promo
// command line.
func firstExample(desc string) string {
	for _, line := range strings.Split(desc, "\n") {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "promo ") {
			return line
		}
	}
	return ""
}

// describe joins a command's description and its examples.
func describe(text string, examples ...string) string {
	return text + "\n\nExamples:\n  " + strings.Join(examples, "\n  ")
}

func (e *env) helpCommand() *urfave.Command {
	return &urfave.Command{
		Name:        "help",
		Usage:       "show the commands, or one command's flags and examples",
		UsageText:   "promo help [COMMAND [SUBCOMMAND]]",
		Description: describe("Shows the same text as --help.", "promo help campaign create"),
		// reorderArgs turns "help COMMAND" into "COMMAND --help".
		Action: urfave.ShowAppHelp,
	}
}
