package cli

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	urfave "github.com/urfave/cli/v2"
)

// urfave/cli's flag-parsing messages rewritten as usage errors (exit 2)
// that name the flag and show a valid value.

// flagExamples give a valid value for each flag that takes one, for
// messages about bad values.
var flagExamples = map[string]string{
	"addr": ":8080", "after": "120", "alphabet": "crockford", "amount": "2000 (20.00 in cents)",
	"channel": "email", "count": "1000", "currency": "EUR", "customer": "cust-42", "customers": "customers.csv",
	"db": "promo.db", "expires": "2027-01-31", "group": "4", "kind": "welcome", "length": "11",
	"limit": "50", "max-redemptions": "1", "min-guess-odds": "1000", "min-order": "2000 (20.00 in cents)",
	"out": "codes.csv", "percent": "10", "role": "issuer", "starts": "2027-01-01", "state": "available",
	"valid-for": "48h",
}

var (
	reUndefined  = regexp.MustCompile(`^flag provided but not defined: -+(.*)$`)
	reBadValue   = regexp.MustCompile(`^invalid value "(.*)" for flag -+([^:]*): (.*)$`)
	reBadBool    = regexp.MustCompile(`^invalid boolean value "(.*)" for -+([^:]*): (.*)$`)
	reNeedsValue = regexp.MustCompile(`^flag needs an argument: -+(.*)$`)
)

// onUsageError turns urfave's flag-parsing errors into usage errors that
// name the flag and show a valid example.
func onUsageError(c *urfave.Context, err error, _ bool) error {
	path := c.Command.HelpName
	if path == "" {
		path = "promo"
	}
	msg := err.Error()
	if m := reUndefined.FindStringSubmatch(msg); m != nil {
		var names []string
		for n := range flagKinds(c.Command.Flags) {
			if len(n) > 1 {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		hint := ""
		if s := suggest(m[1], names); s != "" {
			hint = fmt.Sprintf("; did you mean --%s?", s)
		}
		return usageErrorf("unknown flag --%s for %s%s (see %s --help)", m[1], path, hint, path)
	}
	if m := reBadValue.FindStringSubmatch(msg); m != nil {
		if strings.Contains(m[3], "out of range") {
			return usageErrorf("--%s: %s is too large%s", m[2], m[1], example(m[2]))
		}
		return usageErrorf("--%s: %q is not %s%s", m[2], m[1], kindOfValue(c, m[2]), example(m[2]))
	}
	if m := reBadBool.FindStringSubmatch(msg); m != nil {
		return usageErrorf("--%s takes no value, or =true or =false (e.g. --%s=false), got %q", m[2], m[2], m[1])
	}
	if m := reNeedsValue.FindStringSubmatch(msg); m != nil {
		return usageErrorf("--%s needs a value%s", m[1], example(m[1]))
	}
	return usageErrorf("%s (see %s --help)", msg, path)
}

// kindOfValue names what a flag wants, from its type.
func kindOfValue(c *urfave.Context, name string) string {
	for _, f := range c.Command.Flags {
		for _, n := range f.Names() {
			if n != name {
				continue
			}
			switch f.(type) {
			case *urfave.IntFlag, *urfave.Int64Flag:
				return "a whole number"
			case *urfave.Uint64Flag, *urfave.UintFlag:
				return "a whole number of 0 or more"
			case *urfave.Float64Flag:
				return "a number"
			}
		}
	}
	return "a valid value"
}

func example(flag string) string {
	if ex, ok := flagExamples[flag]; ok {
		return fmt.Sprintf(", e.g. --%s %s", flag, ex)
	}
	return ""
}
