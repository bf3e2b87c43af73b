package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// MaxAssignRows is the most customers one AssignMany call takes.
const MaxAssignRows = 1_000_000

// assignChunk is how many customers share one transaction in AssignMany.
const assignChunk = 500

// AssignRow is one customer of a bulk assignment and, on the way out, the
// code they were given: the columns of a mail merge.
type AssignRow struct {
	CustomerID string `json:"customer_id"`
	Email      string `json:"email,omitempty"`
	Name       string `json:"name,omitempty"`
	Channel    string `json:"channel,omitempty"`
	Code       string `json:"code"`
}

// ReadAssignRows reads customers for AssignMany: CSV with a header naming a
// customer_id column (and optionally email, name, channel), or one customer
// id a line. Rows without a channel get channel. It returns invalid_request
// listing every bad line (in Error.Details) when any is bad.
func ReadAssignRows(r io.Reader, channel string) ([]AssignRow, error) {
	if channel == "" {
		channel = ChannelEmail
	}
	if !contains(Channels, channel) {
		return nil, fieldErr("channel", "want one of %s, got %q", strings.Join(Channels, ", "), channel)
	}
	cols := map[string]int{"customer_id": 0}
	var rows []AssignRow
	problems, err := readCSV(r, func(rec []string, line int, first bool) (*ImportProblem, error) {
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
		if err := checkText("customer_id", row.CustomerID, 128, true); err != nil {
			return &ImportProblem{Code: truncate(row.CustomerID, 70), Reason: ErrorMessage(err)}, nil
		}
		if !contains(Channels, row.Channel) {
			return &ImportProblem{Code: row.CustomerID, Reason: fmt.Sprintf("channel %q is not one of %s", truncate(row.Channel, 20), strings.Join(Channels, ", "))}, nil
		}
		if len(rows) == MaxAssignRows {
			return nil, fieldErr("file", "more than %d customers; split the file", MaxAssignRows)
		}
		rows = append(rows, row)
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		return nil, &Error{Code: EInvalid, Field: "file", Details: problems,
			Message: fmt.Sprintf("%d lines are not customers (the first: line %d, %s); nothing was assigned", len(problems), problems[0].Line, problems[0].Reason)}
	}
	return rows, nil
}

// AssignMany assigns a code to each row's customer, as Assign does (so a
// re-run of the same rows returns the same codes), a few hundred customers
// per transaction, and calls emit with each row and its code once its
// transaction has committed. It returns Assign's errors; rows emitted before
// an error keep their codes.
func (s *Store) AssignMany(ctx context.Context, campaignID string, rows []AssignRow, emit func(AssignRow) error) error {
	if _, err := s.campaign(campaignID); err != nil {
		return err
	}
	for len(rows) > 0 {
		chunk := rows[:min(len(rows), assignChunk)]
		rows = rows[len(chunk):]
		out := slices.Clone(chunk)
		err := s.update(ctx, func(tx *wtx) error {
			for i := range out {
				code, err := s.assignTx(tx, campaignID, out[i].CustomerID, out[i].Channel)
				if err != nil && i > 0 && isRuleError(err) {
					return abortTx{err}
				}
				if err != nil {
					return err
				}
				out[i].Code = code.Code
			}
			return nil
		})
		var abort abortTx
		if errors.As(err, &abort) {
			return abort.err
		}
		if err != nil {
			return err
		}
		for _, r := range out {
			if err := emit(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// abortTx carries a refusal out of a transaction that already wrote, so
// that the transaction rolls back: it is deliberately not a rule error
// (errors.As cannot see the *Error inside).
type abortTx struct{ err error }

func (a abortTx) Error() string { return a.err.Error() }
