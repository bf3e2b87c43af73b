package store

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// assignFileChunk is how many rows AssignFile holds and hands to
// AssignMany at a time.
const assignFileChunk = 4000

// Longest values of a bulk assignment's columns, in bytes.
const (
	maxEmail = 254 // the longest path an SMTP server must take
	maxName  = 200
)

// EachAssignRow reads customers as ReadAssignRows does and calls fn with
// each good row in file order, keeping none of them, so its memory is one
// row whatever the file's size. After a bad line it calls fn no more, but
// reads on to the end and then returns an *UploadError listing the first
// MaxProblems bad lines and counting them all. Calls to fn made before
// that error are not undone: a caller that must write nothing unless every
// line is good reads the file twice, once to check (AssignFile does). fn's
// error stops the reading and is returned.
func EachAssignRow(r io.Reader, channel string, fn func(AssignRow) error) error {
	return eachAssignRow(r, channel, false, fn)
}

// eachAssignRow is EachAssignRow; with stopAtProblem it stops at the first
// bad line instead, calling fn for no row after it.
func eachAssignRow(r io.Reader, channel string, stopAtProblem bool, fn func(AssignRow) error) error {
	if channel == "" {
		channel = ChannelEmail
	}
	if !contains(Channels, channel) {
		return fieldErr("channel", "want one of %s, got %q", strings.Join(Channels, ", "), channel)
	}
	cols := map[string]int{"customer_id": 0}
	var problems problemList
	rows := 0
	err := readCSV(r, &problems, func(rec []string, line int, first bool) (*ImportProblem, error) {
		if stopAtProblem && problems.total > 0 {
			return nil, problems.changed()
		}
		if first {
			names := map[string]int{}
			for i, h := range rec {
				names[headerName(h)] = i
			}
			if i, ok := names["customerid"]; ok {
				cols = map[string]int{"customer_id": i}
				for _, c := range []string{"email", "name", "channel"} {
					if j, ok := names[c]; ok {
						cols[c] = j
					}
				}
				return nil, nil
			}
			if len(rec) > 1 {
				return nil, fieldErr("file", "line 1 has %d columns but no header naming a customer_id column; add one, or give one customer id a line", len(rec))
			}
		}
		get := func(col string) string {
			if i, ok := cols[col]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		row := AssignRow{CustomerID: get("customer_id"), Email: get("email"), Name: get("name"), Channel: firstNonEmpty(get("channel"), channel)}
		if row.CustomerID == "" && row.Email == "" && row.Name == "" {
			return nil, nil
		}
		if p := checkAssignRow(row); p != nil {
			if stopAtProblem {
				p.Line = line
				problems.add(*p)
				return nil, problems.changed()
			}
			return p, nil
		}
		if rows == MaxAssignRows {
			return nil, fieldErr("file", "more than %d customers; split the file", MaxAssignRows)
		}
		rows++
		if problems.total > 0 {
			return nil, nil // a bad file: only counting now
		}
		return nil, fn(row)
	})
	if err != nil {
		return err
	}
	if problems.total > 0 {
		if stopAtProblem {
			return problems.changed()
		}
		return problems.refusal("line is not a customer", "lines are not customers", "nothing was assigned")
	}
	return nil
}

// checkAssignRow returns the problem with one customer of a bulk
// assignment, or nil.
func checkAssignRow(row AssignRow) *ImportProblem {
	for _, f := range []struct {
		field, value string
		max          int
	}{{"customer_id", row.CustomerID, 128}, {"email", row.Email, maxEmail}, {"name", row.Name, maxName}} {
		if err := checkText(f.field, f.value, f.max, f.field == "customer_id"); err != nil {
			return &ImportProblem{Code: row.CustomerID, Reason: ErrorMessage(err)}
		}
	}
	if !contains(Channels, row.Channel) {
		return &ImportProblem{Code: row.CustomerID, Reason: fmt.Sprintf("channel %q is not one of %s", shown(truncate(row.Channel, 20)), strings.Join(Channels, ", "))}
	}
	return nil
}

// changed is the error of a second reading that found a bad line the
// first did not: the file changed in between.
func (p *problemList) changed() error {
	first := p.first[0]
	return fieldErr("file", "line %d changed while it was being read (%s); the customers before it have their codes: fix the file and run again, which returns the same codes", first.Line, first.Reason)
}

// AssignFile gives a code to every customer of a CSV file (read as
// ReadAssignRows reads it), all or nothing as far as the file's lines go:
// it reads f once to check every line and, if any is bad, refuses the file
// with an *UploadError having written nothing. Then it calls ready (if not
// nil) with the number of customers, reads f again from the start and
// assigns as AssignMany does, holding a few thousand rows at a time, so
// its memory stays flat however long the file. emit gets each row with its
// code once its transaction has committed. It returns not_found, ready's
// and AssignMany's errors (rows emitted before an error keep their codes,
// and a re-run returns the same codes), and invalid_request when f changed
// between the two readings.
func (s *Store) AssignFile(ctx context.Context, campaignID string, f io.ReadSeeker, channel string, ready func(rows int) error, emit func(AssignRow) error) error {
	if _, err := s.campaign(campaignID); err != nil {
		return err
	}
	n := 0
	if err := EachAssignRow(f, channel, func(AssignRow) error { n++; return nil }); err != nil {
		return err
	}
	if ready != nil {
		if err := ready(n); err != nil {
			return err
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return internal(err, "read the file again")
	}
	chunk := make([]AssignRow, 0, assignFileChunk)
	flush := func() error {
		err := s.AssignMany(ctx, campaignID, chunk, emit)
		chunk = chunk[:0]
		return err
	}
	err := eachAssignRow(f, channel, true, func(row AssignRow) error {
		chunk = append(chunk, row)
		if len(chunk) == cap(chunk) {
			return flush()
		}
		return nil
	})
	if err == nil && len(chunk) > 0 {
		err = flush()
	}
	return err
}
