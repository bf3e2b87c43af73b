package store

import (
	"errors"
	"fmt"
	"sort"
	"unicode/utf8"
)

// MaxProblems is how many bad lines of an upload (import, bulk assign) are
// listed; the rest are only counted. An upload of millions of bad lines is
// then answered with a small error, and reading it keeps little memory.
const MaxProblems = 100

// UploadError is how an upload with bad lines is refused: Refusal is an
// invalid_request *Error (errors.As finds it through Unwrap) whose Details
// list the first MaxProblems bad lines as []ImportProblem, in line order,
// and Total counts them all.
type UploadError struct {
	Refusal *Error
	Total   int
}

func (e *UploadError) Error() string { return e.Refusal.Error() }

// Unwrap returns the *Error, so that ErrorCode and errors.As see it.
func (e *UploadError) Unwrap() error { return e.Refusal }

// UploadProblems returns how many bad lines an upload refused with an
// UploadError had in all (its Details list only the first MaxProblems),
// and false for any other error.
func UploadProblems(err error) (int, bool) {
	var ue *UploadError
	if errors.As(err, &ue) {
		return ue.Total, true
	}
	return 0, false
}

// problemList keeps the MaxProblems bad lines with the lowest line numbers,
// in line order, and counts every bad line.
type problemList struct {
	first []ImportProblem
	total int
}

func (p *problemList) add(x ImportProblem) {
	p.total++
	n := len(p.first)
	if n == MaxProblems && x.Line >= p.first[n-1].Line {
		return
	}
	x.Code = shown(x.Code)
	i := sort.Search(n, func(i int) bool { return p.first[i].Line > x.Line })
	if n < MaxProblems {
		p.first = append(p.first, ImportProblem{})
	}
	copy(p.first[i+1:], p.first[i:]) // the last one falls off when full
	p.first[i] = x
}

// refusal returns the error refusing an upload for its bad lines: what
// one bad line is, what several are ("line cannot be imported", "lines
// cannot be imported") and what was done instead ("nothing was imported:
// …").
func (p *problemList) refusal(one, many, outcome string) error {
	first := p.first[0]
	what := one
	if p.total > 1 {
		what = many
	}
	listed := ""
	if p.total > len(p.first) {
		listed = fmt.Sprintf(", the first %d of them listed", len(p.first))
	}
	return &UploadError{Total: p.total, Refusal: &Error{Code: EInvalid, Field: "file", Details: p.first,
		Message: fmt.Sprintf("%d %s%s (the first: line %d, %s); %s", p.total, what, listed, first.Line, first.Reason, outcome)}}
}

// shown returns text from an upload fit to quote in a problem: Printable,
// and at most 70 bytes (cut at a character).
func shown(s string) string {
	s = Printable(s)
	if len(s) <= 70 {
		return s
	}
	cut := 70
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
