package cli

import (
	"strconv"
	"strings"

	urfave "github.com/urfave/cli/v2"
)

// Arguments: flags typed anywhere are reordered for urfave/cli once, for
// every command, and each command reads its positional arguments here.

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

func findCommand(cmds []*urfave.Command, name string) *urfave.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}
