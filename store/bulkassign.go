package store

import (
	"context"
	"errors"
	"io"
	"slices"
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
// id a line. Rows without a channel get channel. It returns an
// *UploadError (invalid_request) listing the first MaxProblems bad lines
// (in Error.Details) and counting them all when any is bad. It keeps every
// row: for files of any size, AssignFile and EachAssignRow stream instead.
func ReadAssignRows(r io.Reader, channel string) ([]AssignRow, error) {
	var rows []AssignRow
	err := EachAssignRow(r, channel, func(row AssignRow) error {
		rows = append(rows, row)
		return nil
	})
	if err != nil {
		return nil, err
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
	per := s.perTx(assignChunk, 12)
	for len(rows) > 0 {
		chunk := rows[:min(len(rows), per)]
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
