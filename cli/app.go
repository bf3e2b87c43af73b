// Package cli is promo's command line: the admin commands and `serve`. Each
// command is one operation of the Backend, the same as the HTTP API's, run
// either on the database file itself or, while `promo serve` holds the
// file, through the server's admin socket.
//
// app.go builds and runs the command tree; args.go reorders what was typed
// and reads arguments; help.go, suggest.go and usage.go are the text a
// person sees when asking or mistyping; exit.go maps errors to exit
// statuses and reports them; backend.go opens the database or its socket;
// output.go prints tables, files.go writes files. Each command has its
// file (campaign.go, codes.go, …); bench.go is the flags of cli/bench.
package cli

import (
	"context"
	"io"
	"log/slog"
	"strings"

	urfave "github.com/urfave/cli/v2"
)

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
		Flags: append([]urfave.Flag{
			&urfave.StringFlag{Name: "db", Value: "promo.db", EnvVars: []string{"PROMO_DB"},
				Usage: "the database `FILE`; while `promo serve` holds it, commands go through FILE.sock"},
			&urfave.BoolFlag{Name: "json", Usage: "print the JSON the HTTP API answers instead of tables; errors go to stderr as {\"error\": {...}}"},
			helpFlag(),
		}, etcdFlags()...),
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
			e.migrateCommand(),
			e.checkCommand(),
			e.holdCommand(),
			e.webhooksCommand(),
			e.serviceUnitCommand(),
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
