package store

import (
	"strconv"

	"promo/store/kv"
)

// CodeQuery pages through a campaign's codes in creation order.
type CodeQuery struct {
	State  string // "" for all, or one of States
	Limit  int    // 1..10,000; 0 means 100
	Cursor string // from the previous page's NextCursor
}

// CodePage is one page of codes; NextCursor is "" on the last page.
type CodePage struct {
	Codes      []Code `json:"codes"`
	NextCursor string `json:"next_cursor"`
}

// Codes returns one page of the campaign's codes. It returns not_found or
// invalid_request (bad state, limit or cursor).
func (s *Store) Codes(campaignID string, q CodeQuery) (CodePage, error) {
	c, err := s.campaign(campaignID)
	if err != nil {
		return CodePage{}, err
	}
	if q.Limit == 0 {
		q.Limit = 100
	}
	if q.Limit < 1 || q.Limit > 10_000 {
		return CodePage{}, fieldErr("limit", "want 1 to 10000, got %d", q.Limit)
	}
	state, err := stateFilter(q.State)
	if err != nil {
		return CodePage{}, err
	}
	var from uint64
	if q.Cursor != "" {
		if from, err = strconv.ParseUint(q.Cursor, 10, 64); err != nil {
			return CodePage{}, fieldErr("cursor", "not a cursor from a previous page: %q", truncate(q.Cursor, 40))
		}
	}
	page := CodePage{Codes: []Code{}}
	err = s.view(func(tx kv.Tx) error {
		next, err := eachCode(tx, c, state, from, q.Limit, func(code Code) error {
			page.Codes = append(page.Codes, code)
			return nil
		})
		if next > 0 {
			page.NextCursor = strconv.FormatUint(next, 10)
		}
		return err
	})
	return page, err
}

// EachCode calls fn for every code of the campaign in the state ("" for
// all), in creation order, reading a few thousand codes per read
// transaction so that a long export neither holds memory nor pins old pages.
func (s *Store) EachCode(campaignID, state string, fn func(Code) error) error {
	c, err := s.campaign(campaignID)
	if err != nil {
		return err
	}
	st, err := stateFilter(state)
	if err != nil {
		return err
	}
	var from uint64
	for {
		var next uint64
		var fnErr error // the caller's own error, returned as it is
		err := s.view(func(tx kv.Tx) error {
			var err error
			next, err = eachCode(tx, c, st, from, 4096, func(code Code) error {
				fnErr = fn(code)
				return fnErr
			})
			return err
		})
		if fnErr != nil {
			return fnErr
		}
		if err != nil || next == 0 {
			return err
		}
		from = next
	}
}

func stateFilter(state string) (int, error) {
	if state == "" {
		return -1, nil
	}
	st, ok := parseState(state)
	if !ok {
		return 0, fieldErr("state", "want available, assigned, redeemed or voided, got %q", truncate(state, 40))
	}
	return int(st), nil
}

// eachCode calls fn for up to limit codes of c in state (-1: any) from
// creation position from, and returns the position to go on from (0 when
// the campaign's codes are exhausted).
func eachCode(tx kv.Tx, c *Campaign, state int, from uint64, limit int, fn func(Code) error) (uint64, error) {
	n := 0
	var next uint64
	err := walkIndex(tx, c.Num, from, func(seq uint64, key []byte) (bool, error) {
		if n == limit {
			next = seq
			return false, nil
		}
		rec, err := decodeCodeRec(tx.Get(bucketCodes, key))
		if err != nil {
			return false, internal(err, "read code "+string(key))
		}
		if state >= 0 && int(rec.state) != state {
			return true, nil
		}
		if err := fn(codeView(string(key), rec, c)); err != nil {
			return false, err
		}
		n++
		return true, nil
	})
	return next, err
}
