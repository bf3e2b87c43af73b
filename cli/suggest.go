package cli

import (
	"fmt"
	"strings"

	urfave "github.com/urfave/cli/v2"
)

// Suggestions for what a person mistyped: unknown commands and flags.

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
