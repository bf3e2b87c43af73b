// Command testsummary reads `go test -json` on stdin, prints what a person
// needs from it (each package's result line, and the whole output of every
// failing test), then one summary line: how many tests ran, passed, failed
// and skipped, followed by each skipped test with its reason. It exits 1
// when a test or a package failed, so that `make test` fails with it (the
// Makefile also keeps go test's own exit status through pipefail).
//
//	go test -json ./... | go run ./.ci/testsummary [LABEL]
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

type skip struct{ name, reason string }

func main() {
	label := "go test"
	if len(os.Args) > 1 {
		label = strings.Join(os.Args[1:], " ")
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	var passed, failed, skipped int
	var skips []skip
	var failedPkgs []string
	logs := map[string][]string{} // package + test → its output so far
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 16<<20)
	for in.Scan() {
		line := in.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			fmt.Fprintf(out, "%s\n", line) // not an event (e.g. a build error)
			continue
		}
		key := e.Package + " " + e.Test
		switch {
		case e.Test == "" && e.Action == "output":
			if e.Output != "PASS\n" {
				fmt.Fprint(out, e.Output) // the package's result line, build errors
			}
		case e.Test == "" && e.Action == "fail":
			failedPkgs = append(failedPkgs, e.Package)
		case e.Test == "":
			// A package's own start, pass or skip ("no test files").
		case e.Action == "output":
			logs[key] = append(logs[key], e.Output)
		case e.Action == "pass":
			passed++
			delete(logs, key)
		case e.Action == "fail":
			failed++
			for _, l := range logs[key] {
				fmt.Fprint(out, l)
			}
			delete(logs, key)
		case e.Action == "skip":
			skipped++
			skips = append(skips, skip{e.Package + " " + e.Test, reason(logs[key])})
			delete(logs, key)
		}
		out.Flush()
	}
	fmt.Fprintf(out, "%s: %d tests ran (subtests included): %d passed, %d failed, %d skipped\n",
		label, passed+failed, passed, failed, skipped)
	sort.Slice(skips, func(i, j int) bool { return skips[i].name < skips[j].name })
	for _, s := range skips {
		fmt.Fprintf(out, "  skipped %s: %s\n", s.name, s.reason)
	}
	if failed > 0 || len(failedPkgs) > 0 {
		fmt.Fprintf(out, "%s: FAILED (%s)\n", label, strings.Join(failedPkgs, ", "))
		out.Flush()
		os.Exit(1)
	}
}

// reason is what a skipped test logged before its "--- SKIP" line: the
// argument of t.Skip, without the file:line prefix.
func reason(lines []string) string {
	var parts []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		if i := strings.Index(t, ".go:"); i >= 0 {
			if j := strings.Index(t[i:], ": "); j >= 0 {
				t = t[i+j+2:]
			}
		}
		parts = append(parts, t)
	}
	if len(parts) == 0 {
		return "(no reason given)"
	}
	return strings.Join(parts, " / ")
}
