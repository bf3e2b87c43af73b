package store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"promo/gen"
)

// MaxImport is the most codes one Import call takes; split larger files.
const MaxImport = 1_000_000

// ImportOptions tune Import.
type ImportOptions struct {
	// SkipInvalid imports the good lines and reports the bad ones; without
	// it, one bad line refuses the whole file and nothing is imported.
	SkipInvalid bool
}

// ImportProblem is a line Import could not take, with the reason.
type ImportProblem struct {
	Line   int    `json:"line"`
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

// ImportResult reports an Import: codes imported, codes already in this
// campaign (a re-run of the same file imports nothing twice), and the lines
// skipped with their reasons.
type ImportResult struct {
	Campaign       string          `json:"campaign"`
	Batch          string          `json:"batch,omitempty"`
	Imported       int             `json:"imported"`
	AlreadyPresent int             `json:"already_present"`
	Header         bool            `json:"header"`
	Skipped        []ImportProblem `json:"skipped"`
}

// headerNames are the column names taken to hold codes, compared without
// case, spaces, dashes and underscores (exports of web-shop platforms).
var headerNames = []string{"code", "codes", "coupon", "couponcode", "promocode", "promotioncode",
	"discountcode", "voucher", "vouchercode", "giftcode"}

func headerName(s string) string {
	return strings.NewReplacer(" ", "", "_", "", "-", "").Replace(strings.ToLower(strings.TrimSpace(s)))
}

// importLine is one code read from an import file.
type importLine struct {
	line    int
	display string
	key     []byte
}

// readImport reads one code a line, or CSV with a header naming a code
// column. It reports malformed lines and repeats within the file.
func readImport(r io.Reader) (lines []importLine, header bool, problems []ImportProblem, err error) {
	col := 0
	seen := map[string]int{}
	problems, err = readCSV(r, func(rec []string, line int, first bool) (*ImportProblem, error) {
		if first {
			if i := slices.IndexFunc(rec, func(s string) bool { return contains(headerNames, headerName(s)) }); i >= 0 {
				col, header = i, true
				return nil, nil
			}
			if len(rec) > 1 {
				return nil, fieldErr("file", "line 1 has %d columns but no header naming the code column (e.g. \"code\"); add one, or give one code a line", len(rec))
			}
		}
		if col >= len(rec) {
			return &ImportProblem{Reason: fmt.Sprintf("no column %d", col+1)}, nil
		}
		text := strings.ToUpper(strings.TrimSpace(rec[col]))
		if text == "" {
			return nil, nil
		}
		key, err := gen.Normalize(text)
		if err != nil {
			return &ImportProblem{Code: truncate(text, 70), Reason: strings.TrimPrefix(err.Error(), gen.ErrMalformed.Error()+": ")}, nil
		}
		if prev, ok := seen[key]; ok {
			return &ImportProblem{Code: text, Reason: fmt.Sprintf("repeats line %d (codes are compared without case, spaces and dashes, with O read as 0 and I, L as 1)", prev)}, nil
		}
		if len(lines) == MaxImport {
			return nil, fieldErr("file", "more than %d codes; split the file", MaxImport)
		}
		seen[key] = line
		lines = append(lines, importLine{line: line, display: text, key: []byte(key)})
		return nil, nil
	})
	if err != nil {
		return nil, false, nil, err
	}
	return lines, header, problems, nil
}

// Import adds existing codes to the campaign (one code a line, or CSV with
// a header naming a code column). Codes keep their own shape. A code already
// in this campaign is counted as present; one in another campaign, a
// malformed line or a repeat is a problem. With problems and without
// opts.SkipInvalid nothing is imported and invalid_request lists them (in
// Error.Details); otherwise the good codes are imported in one transaction.
// It returns not_found, conflict (archived) or invalid_request.
func (s *Store) Import(ctx context.Context, campaignID string, r io.Reader, opts ImportOptions) (ImportResult, error) {
	c, err := s.campaign(campaignID)
	if err != nil {
		return ImportResult{}, err
	}
	if c.Status == StatusArchived {
		return ImportResult{}, Errorf(EConflict, "campaign %q is archived; it takes no new codes", c.ID)
	}
	lines, header, problems, err := readImport(r)
	if err != nil {
		return ImportResult{}, err
	}
	slices.SortFunc(lines, func(a, b importLine) int { return bytes.Compare(a.key, b.key) })
	s.genMu.Lock()
	defer s.genMu.Unlock()
	var res ImportResult
	err = s.bulkUpdate(ctx, func(tx *wtx) error {
		res = ImportResult{Campaign: c.ID, Header: header, Skipped: slices.Clone(problems)}
		keys := make([][]byte, 0, len(lines))
		displays := make([]string, 0, len(lines))
		for _, l := range lines {
			if v := tx.Get(bucketCodes, l.key); v != nil {
				rec, err := decodeCodeRec(v)
				if err != nil {
					return internal(err, "read code")
				}
				if rec.camp == c.Num {
					res.AlreadyPresent++
					continue
				}
				other := "another campaign"
				if oc := s.cat.Load().byNum[rec.camp]; oc != nil {
					other = "campaign " + oc.ID
				}
				res.Skipped = append(res.Skipped, ImportProblem{Line: l.line, Code: l.display, Reason: "already a code of " + other})
				continue
			}
			keys = append(keys, l.key)
			displays = append(displays, l.display)
		}
		slices.SortFunc(res.Skipped, func(a, b ImportProblem) int { return a.Line - b.Line })
		if len(res.Skipped) > 0 && !opts.SkipInvalid {
			return &Error{Code: EInvalid, Field: "file", Details: res.Skipped,
				Message: fmt.Sprintf("%d lines cannot be imported (the first: line %d, %s); nothing was imported: fix them, or skip them on purpose (--skip-invalid, ?skip_invalid=true)",
					len(res.Skipped), res.Skipped[0].Line, res.Skipped[0].Reason)}
		}
		if len(keys) == 0 {
			return nil
		}
		batch, err := newBatch(tx, s.now(), &Batch{Campaign: c.ID, Kind: "import", Requested: len(keys)})
		if err != nil {
			return err
		}
		res.Batch, res.Imported = batchName(batch), len(keys)
		return s.insertCodes(tx, c, batch, keys, displays, cImported)
	})
	if err != nil {
		return ImportResult{}, err
	}
	if res.Skipped == nil {
		res.Skipped = []ImportProblem{}
	}
	return res, nil
}
