package store

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzEachAssignRow feeds arbitrary files to the bulk-assignment reader:
// it never panics, every row it hands on is a customer AssignMany takes,
// no row is handed on after a bad line, and a refusal lists at most
// MaxProblems lines in line order and counts them all.
func FuzzEachAssignRow(f *testing.F) {
	for _, s := range []string{
		"ann\nben\n",
		"customer_id,email,name,channel\nc1,c1@example.com,Ann,app\nc2,,,pigeon\n",
		"Customer ID;Email\n\"quoted\",x\n\"unterminated\n",
		"email,name\nx@example.com,X\n",
		"c1\x1b[2J\nc2\u202e\n",
		" ann , ben \n,,,\n",
		strings.Repeat("dup\n", 3),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var rows []AssignRow
		err := EachAssignRow(strings.NewReader(in), "", func(r AssignRow) error {
			if p := checkAssignRow(r); p != nil {
				t.Fatalf("row %+v handed on: %s", r, p.Reason)
			}
			rows = append(rows, r)
			return nil
		})
		if err == nil {
			return
		}
		if ErrorCode(err) != EInvalid || ErrorMessage(err) == "" {
			t.Fatalf("unexpected error %v", err)
		}
		total, ok := UploadProblems(err)
		if !ok {
			return // the file as a whole: a header, a record too long
		}
		var e *Error
		errors.As(err, &e)
		problems := e.Details.([]ImportProblem)
		if len(problems) == 0 || len(problems) > MaxProblems || total < len(problems) {
			t.Fatalf("%d problems listed of %d", len(problems), total)
		}
		for i, p := range problems {
			if p.Line < 1 || p.Reason == "" || !utf8.ValidString(p.Code) || strings.ContainsFunc(p.Code, refusedRune) {
				t.Fatalf("problem %+v", p)
			}
			if i > 0 && p.Line < problems[i-1].Line {
				t.Fatalf("problems out of line order: %+v", problems)
			}
		}
		if len(rows) >= problems[0].Line {
			t.Fatalf("%d rows handed on before the first bad line, %d", len(rows), problems[0].Line)
		}
	})
}

// FuzzCheckText checks the free-text rule against its definition, and that
// text quoted in a problem is always safe to show.
func FuzzCheckText(f *testing.F) {
	for _, s := range []string{"ann", "", " x", "é", "a\x00b", "\x1b[2J", "\u202egnp.exe", "\u2028", "\xff", "👩‍👩‍👧", strings.Repeat("k", 129)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := checkText("customer_id", s, 128, true)
		ok := s != "" && len(s) <= 128 && utf8.ValidString(s) && strings.TrimSpace(s) == s
		for _, r := range s {
			ok = ok && !(r < 0x20 || r >= 0x7f && r < 0xa0 || r == 0x2028 || r == 0x2029 || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069)
		}
		if ok != (err == nil) {
			t.Fatalf("%q: valid=%v but checkText says %v", s, ok, err)
		}
		if err != nil && (ErrorCode(err) != EInvalid || !strings.HasPrefix(ErrorMessage(err), "customer_id: ")) {
			t.Fatalf("%q: %v", s, err)
		}
		q := shown(s)
		if !utf8.ValidString(q) || strings.ContainsFunc(q, refusedRune) || len(q) > 70+len(`\u0000`)+len("…") {
			t.Fatalf("shown(%q) = %q", s, q)
		}
	})
}
