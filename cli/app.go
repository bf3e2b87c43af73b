// Package cli is promo's command line: the admin commands and `serve`. Each
// command is one operation of the Backend, the same as the HTTP API's, run
// either on the database file itself or, while `promo serve` holds the
// file, through the server's admin socket.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"strings"

	urfave "github.com/urfave/cli/v2"

	"promo/httpapi"
	"promo/store"
)

var _ Backend = (*httpapi.Client)(nil)

// Run runs the promo command line in args (args[0] is the program's name)
// and returns the exit status: 0 done, 1 refused by a rule, 2 bad usage or
// input, 3 the database or server could not be reached. It never exits the
// process, so the caller's deferred calls run. When ctx ends, long-running
// commands (serve, events --follow, generate) stop. Run reads and writes
// only the streams it is given and is safe for concurrent use.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		args = []string{"promo"}
	}
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	app := e.newApp()
	app.Setup()
	args = reorderArgs(app, args)
	e.json = jsonRequested(app, args)
	return e.report(app.RunContext(ctx, args))
}

// env is what one run of the command line reads and writes.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	json           bool // --json: print the API's JSON, errors as JSON on stderr
}

// newApp builds the command tree. It is built afresh for every run: urfave
// flags keep their parsed state in themselves.
func (e *env) newApp() *urfave.App {
	app := &urfave.App{
		Name:      "promo",
		Usage:     "a shop's unique promo codes over one bbolt file: the HTTP API and this admin CLI",
		UsageText: "promo [--db FILE] [--json] COMMAND [ARGUMENTS] [FLAGS]",
		Flags: []urfave.Flag{
			&urfave.StringFlag{Name: "db", Value: "promo.db", EnvVars: []string{"PROMO_DB"},
				Usage: "the database `FILE`; while `promo serve` holds it, commands go through FILE.sock"},
			&urfave.BoolFlag{Name: "json", Usage: "print the JSON the HTTP API answers instead of tables; errors go to stderr as {\"error\": {...}}"},
			helpFlag(),
		},
		Commands: []*urfave.Command{
			e.serveCommand(),
			e.campaignCommand(),
			e.generateCommand(),
			e.importCommand(),
			e.exportCommand(),
			e.assignCommand(),
			e.codeCommand(),
			e.validateCommand(),
			e.redeemCommand(),
			e.rollbackCommand(),
			e.voidCommand(),
			e.statsCommand(),
			e.customerCommand(),
			e.eventsCommand(),
			e.keysCommand(),
			e.backupCommand(),
			e.checkCommand(),
			e.benchCommand(),
			e.helpCommand(),
		},
		Reader:    e.stdin,
		Writer:    e.stdout,
		ErrWriter: e.stderr,
		// Our own help flag and command: urfave's are package globals that
		// every run would write to.
		HideHelp:        true,
		HideHelpCommand: true,
		HideVersion:     true,
		// Errors come back to Run, which maps them to exit statuses; urfave
		// must never exit the process itself.
		ExitErrHandler: func(*urfave.Context, error) {},
		OnUsageError:   onUsageError,
		Action:         e.rootAction,
	}
	for _, c := range app.Commands {
		prepare(c, "promo")
	}
	app.CustomAppHelpTemplate = appHelp(app)
	return app
}

// prepare gives every command in the tree its help name, our help flag and
// usage-error handler, and, for a group of subcommands, an action that
// explains what is missing.
func prepare(c *urfave.Command, parent string) {
	full := parent + " " + c.Name
	c.HelpName = full
	if parent == "promo" {
		c.HelpName = c.Name // App.Setup prefixes the app's name
	}
	c.HideHelp, c.HideHelpCommand = true, true
	c.Flags = append(c.Flags, helpFlag())
	c.OnUsageError = onUsageError
	if len(c.Subcommands) > 0 {
		c.Action = groupAction(full)
	}
	for _, sub := range c.Subcommands {
		prepare(sub, full)
	}
}

func helpFlag() urfave.Flag {
	return &urfave.BoolFlag{Name: "help", Aliases: []string{"h"}, Usage: "show help", DisableDefaultText: true}
}

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

// rootAction runs when no command matched: no command at all, or an
// unknown one.
func (e *env) rootAction(c *urfave.Context) error {
	if c.Args().Present() {
		return unknownCommand("promo", c.Args().First(), c.App.Commands)
	}
	urfave.HelpPrinter(e.stderr, c.App.CustomAppHelpTemplate, c.App)
	return usageErrorf("missing command: see the list above")
}

// groupAction runs for a group of subcommands (campaign, keys) when no
// subcommand matched.
func groupAction(path string) urfave.ActionFunc {
	return func(c *urfave.Context) error {
		if c.Args().Present() {
			return unknownCommand(path, c.Args().First(), c.Command.Subcommands)
		}
		var names []string
		for _, s := range c.Command.Subcommands {
			names = append(names, s.Name)
		}
		return usageErrorf("%s needs a command: %s (see %s --help)", path, strings.Join(names, ", "), path)
	}
}

func unknownCommand(path, name string, cmds []*urfave.Command) error {
	var names []string
	for _, c := range cmds {
		names = append(names, c.Name)
	}
	hint := ""
	if s := suggest(name, names); s != "" {
		hint = fmt.Sprintf("; did you mean %q?", s)
	}
	return usageErrorf("unknown command %q for %s%s (see %s --help)", name, path, hint, path)
}

func findCommand(cmds []*urfave.Command, name string) *urfave.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// needArgs returns the command's arguments when there are exactly as many
// as names, and otherwise a usage error naming what is missing or extra.
func needArgs(c *urfave.Context, names ...string) ([]string, error) {
	args := c.Args().Slice()
	switch {
	case len(args) < len(names):
		return nil, usageErrorf("missing %s (usage: %s)", strings.Join(names[len(args):], " and "), usageLine(c))
	case len(args) > len(names):
		return nil, usageErrorf("unexpected argument %q (usage: %s)", args[len(names)], usageLine(c))
	}
	return args, nil
}

// optionalArg returns the command's one optional argument, or "".
func optionalArg(c *urfave.Context) (string, error) {
	args := c.Args().Slice()
	if len(args) > 1 {
		return "", usageErrorf("unexpected argument %q (usage: %s)", args[1], usageLine(c))
	}
	return c.Args().First(), nil
}

// usageLine is the first line of the command's synopsis.
func usageLine(c *urfave.Context) string {
	line, _, _ := strings.Cut(c.Command.UsageText, "\n")
	return line
}

// open returns the backend for the database --db names: the running
// server, through FILE.sock, when one answers; otherwise the file itself.
// A socket of another user than the database's owner (or root) is refused
// with exit 3, never used and never worked around by opening the file (see
// trustSocket). Unless create is set, a database file that does not exist
// is an error rather than a new empty database.
func (e *env) open(c *urfave.Context, create bool) (Backend, error) {
	path := c.String("db")
	if path == "" {
		return nil, usageErrorf("--db: give the database file, e.g. --db promo.db")
	}
	sock := path + ".sock"
	var dialErr error
	if _, err := os.Lstat(sock); err == nil {
		if err := trustSocket(sock, path); err != nil {
			return nil, err
		}
		client, err := httpapi.DialChecked(sock, checkListener(sock, path))
		if err == nil {
			return client, nil
		}
		if errors.Is(err, httpapi.ErrUntrustedSocket) {
			return nil, err // a listener not to be trusted: never fall back
		}
		dialErr = err
	}
	if !create {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, unreachable(fmt.Sprintf("no database at %s: point --db (or PROMO_DB) at your database, or start one with `promo --db %s campaign create`", path, path), err)
		}
	}
	st, err := store.Open(path, store.Options{Logger: e.logger(slog.LevelWarn)})
	if errors.Is(err, store.ErrLocked) {
		why := "it has no admin socket (" + sock + ")"
		if dialErr != nil {
			why = "its admin socket " + sock + " does not answer"
		}
		return nil, unreachable(fmt.Sprintf("%s is in use by another promo process and %s: wait for that process to finish or stop it, then retry", path, why), err)
	}
	if err != nil {
		return nil, err
	}
	return st, nil
}

// withBackend opens the backend, runs fn with it and closes it. The store
// saves its filter on Close; a failure there is reported when fn succeeded.
func (e *env) withBackend(c *urfave.Context, create bool, fn func(Backend) error) (err error) {
	b, err := e.open(c, create)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := b.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	return fn(b)
}

// logger returns a logger on stderr: text, or JSON with --json.
func (e *env) logger(level slog.Level) *slog.Logger { return e.loggerTo(e.stderr, level) }

// loggerTo logs to w: JSON lines with --json, text otherwise.
func (e *env) loggerTo(w io.Writer, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if e.json {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// suggest returns the name closest to typed when it is a plausible typo
// (at most two edits, or a prefix), or "".
func suggest(typed string, names []string) string {
	best, bestDist := "", 3
	for _, n := range names {
		if len(typed) >= 3 && strings.HasPrefix(n, typed) {
			return n
		}
		if d := editDistance(typed, n); d < bestDist {
			best, bestDist = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// reorderArgs moves every flag before the positional arguments of the
// command it belongs to, because urfave/cli stops parsing flags at the
// first argument. It walks args with the app's command tree: the global
// flags (--db, --json) go right after the program's name wherever they were
// typed, then the command path (e.g. "campaign create"), then the command's
// flags, then the arguments. A flag that takes a value keeps it, typed as
// "--flag value" or "--flag=value"; boolean flags take a value only as
// "--flag=false". "--" ends the flags: what follows is arguments, and "--"
// is kept in front of them when one starts with a dash. Unknown flags stay
// with the command so that it reports them. With --help anywhere, or
// "help" before the command ("promo help campaign create"), the result is
// the command path and --help. Without a known command, args stay as they
// are, for the app to report. A flag missing its value at the end is put
// last, without the arguments, so that it is reported rather than taking
// an argument as its value.
func reorderArgs(app *urfave.App, args []string) []string {
	global := flagKinds(app.Flags)
	var (
		cmds                       = app.Commands
		local                      map[string]bool // the current command's flags
		globals, path, flags       []string
		positional                 []string
		help, helpWord, endOfFlags bool
		dangling                   *[]string // the flags whose last one lacks its value
	)
	for i := 1; i < len(args); i++ {
		a := args[i]
		if endOfFlags || a == "-" || !strings.HasPrefix(a, "-") {
			if a == "help" && !endOfFlags && len(positional) == 0 && (path == nil || len(cmds) > 0) {
				help, helpWord = true, true
				continue
			}
			if !endOfFlags && len(positional) == 0 {
				if cmd := findCommand(cmds, a); cmd != nil {
					path = append(path, a)
					cmds, local = cmd.Subcommands, flagKinds(cmd.Flags)
					continue
				}
			}
			positional = append(positional, a)
			continue
		}
		if a == "--" {
			endOfFlags = true
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "help" || name == "h" {
			help = true
			continue
		}
		dst := &flags
		takesValue, known := local[name]
		if !known {
			if v, ok := global[name]; ok || path == nil {
				// A global flag, or an unknown flag before any command,
				// which the app itself then rejects.
				dst, takesValue = &globals, v
			}
		}
		*dst = append(*dst, a)
		if takesValue && !hasValue {
			if i+1 == len(args) {
				dangling = dst
				break
			}
			i++
			*dst = append(*dst, args[i])
		}
	}
	if path == nil && !help {
		return args // no command: the app reports what is wrong as typed
	}
	out := append([]string{args[0]}, globals...)
	if dangling == &globals {
		return out // ends with the global flag that lacks its value
	}
	out = append(out, path...)
	if dangling != nil {
		return append(out, flags...) // ends with the flag that lacks its value
	}
	if helpWord && len(positional) > 0 {
		// "help NOSUCH": the command reports the unknown name.
		return append(out, positional[0], "--help")
	}
	if help {
		return append(out, "--help")
	}
	out = append(out, flags...)
	for _, p := range positional {
		if strings.HasPrefix(p, "-") && p != "-" {
			out = append(out, "--")
			break
		}
	}
	return append(out, positional...)
}

// flagKinds maps every name of flags to whether the flag takes a value.
func flagKinds(flags []urfave.Flag) map[string]bool {
	m := map[string]bool{}
	for _, f := range flags {
		takes := true
		if d, ok := f.(urfave.DocGenerationFlag); ok {
			takes = d.TakesValue()
		}
		for _, n := range f.Names() {
			m[n] = takes
		}
	}
	return m
}

// jsonRequested reports whether reordered args ask for --json.
func jsonRequested(app *urfave.App, args []string) bool {
	global := flagKinds(app.Flags)
	on := false
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") {
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case name == "json":
			on = true
			if hasValue {
				on, _ = strconv.ParseBool(value)
			}
		case global[name] && !hasValue:
			i++
		}
	}
	return on
}
