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
// skipped with their reasons: the first MaxProblems of them, with
// SkippedTotal counting them all.
type ImportResult struct {
	Campaign       string          `json:"campaign"`
	Batch          string          `json:"batch,omitempty"`
	Imported       int             `json:"imported"`
	AlreadyPresent int             `json:"already_present"`
	Header         bool            `json:"header"`
	Skipped        []ImportProblem `json:"skipped"`
	SkippedTotal   int             `json:"skipped_total"`
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

// maxImportDisplay is the longest form an imported code may come in: the
// longest key with a space or dash between every two symbols.
const maxImportDisplay = 2 * gen.MaxCodeLen

// importFile is what readImport read from an import file.
type importFile struct {
	lines    []importLine // the distinct well-formed codes, in file order
	header   bool         // the first line named the code column
	problems problemList  // malformed lines and repeats
}

// readImport reads one code a line, or CSV with a header naming a code
// column. It reports malformed lines and repeats within the file, keeping
// the first MaxProblems of them and counting the rest, and keeps the
// codes compactly (importSet): its memory is bounded by MaxImport codes,
// however long the file or however many of its lines are bad.
func readImport(r io.Reader) (importFile, error) {
	var out importFile
	var set importSet
	col := 0
	err := readCSV(r, &out.problems, func(rec []string, line int, first bool) (*ImportProblem, error) {
		if first {
			if i := slices.IndexFunc(rec, func(s string) bool { return contains(headerNames, headerName(s)) }); i >= 0 {
				col, out.header = i, true
				return nil, nil
			}
			if len(rec) > 1 {
				return nil, fieldErr("file", "line 1 has %d columns but no header naming the code column (e.g. \"code\"); add one, or give one code a line", len(rec))
			}
		}
		if col >= len(rec) {
			return &ImportProblem{Reason: fmt.Sprintf("no column %d", col+1)}, nil
		}
		// A code's own form keeps its inner dashes and spaces, not those
		// at its ends: no code starts with a dash (see SpreadsheetSafe).
		text := strings.Trim(strings.ToUpper(strings.TrimSpace(rec[col])), "- \t")
		if text == "" {
			return nil, nil
		}
		key, err := gen.Normalize(text)
		if err != nil {
			return &ImportProblem{Code: text, Reason: strings.TrimPrefix(err.Error(), gen.ErrMalformed.Error()+": ")}, nil
		}
		if len(text) > maxImportDisplay {
			return &ImportProblem{Code: text, Reason: fmt.Sprintf("longer than %d characters with its spaces and dashes; write it with fewer", maxImportDisplay)}, nil
		}
		if prev, ok := set.lookup(key); ok {
			return &ImportProblem{Code: text, Reason: repeats(prev)}, nil
		}
		if len(set.lines) == MaxImport {
			return nil, fieldErr("file", "more than %d codes; split the file", MaxImport)
		}
		set.add(line, key, text)
		return nil, nil
	})
	if err != nil {
		return importFile{}, err
	}
	out.lines = set.done()
	return out, nil
}

func repeats(line int) string {
	return fmt.Sprintf("repeats line %d (codes are compared without case, spaces and dashes, with O read as 0 and I, L as 1)", line)
}

// Import adds existing codes to the campaign (one code a line, or CSV with
// a header naming a code column). Codes keep their own shape. A code already
// in this campaign is counted as present; one in another campaign, a
// malformed line or a repeat is a problem. With problems and without
// opts.SkipInvalid nothing is imported and an *UploadError lists the first
// MaxProblems of them (in Error.Details) and counts them all; otherwise the
// good codes are imported in one transaction. The file is read once, and
// only its distinct codes are kept (compactly), so memory is bounded by
// MaxImport codes whatever the file holds. It returns not_found, conflict
// (archived) or invalid_request.
func (s *Store) Import(ctx context.Context, campaignID string, r io.Reader, opts ImportOptions) (ImportResult, error) {
	c, err := s.campaign(campaignID)
	if err != nil {
		return ImportResult{}, err
	}
	if c.Status == StatusArchived {
		return ImportResult{}, Errorf(EConflict, "campaign %q is archived; it takes no new codes", c.ID)
	}
	defer s.bulk()()
	file, err := readImport(r)
	if err != nil {
		return ImportResult{}, err
	}
	lines, header := file.lines, file.header
	slices.SortFunc(lines, func(a, b importLine) int { return bytes.Compare(a.key, b.key) })
	s.genMu.Lock()
	defer s.genMu.Unlock()
	if lines, err = s.importOthers(c, lines, &file.problems); err != nil {
		return ImportResult{}, err
	}
	if file.problems.total > 0 && !opts.SkipInvalid {
		return ImportResult{}, file.problems.refusal("line cannot be imported", "lines cannot be imported",
			"nothing was imported: fix them, or skip them on purpose (--skip-invalid, ?skip_invalid=true)")
	}
	problems := file.problems.first // the transaction lists these, and any code another campaign took since
	// One transaction, or on an engine with limits (etcd) as many as the
	// codes need, in key order: the first creates the batch. A chunk that
	// finds a code another campaign took since the check refuses from there
	// on (without SkipInvalid), the chunks before it kept.
	res := ImportResult{Campaign: c.ID, Header: header, Skipped: slices.Clone(problems)}
	var batch uint64
	per := s.perTx(max(1, len(lines)), 2)
	for first := true; first || len(lines) > 0; first = false {
		part := lines[:min(len(lines), per)]
		lines = lines[len(part):]
		skipped, imported, present := slices.Clone(res.Skipped), res.Imported, res.AlreadyPresent
		err = s.bulkUpdate(ctx, func(tx *wtx) error {
			res.Skipped, res.Imported, res.AlreadyPresent = slices.Clone(skipped), imported, present
			keys := make([][]byte, 0, len(part))
			displays := make([]string, 0, len(part))
			for _, l := range part {
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
			b := batch
			if b == 0 {
				var err error
				if b, err = newBatch(tx, s.now(), &Batch{Campaign: c.ID, Kind: "import", Requested: len(keys) + len(lines)}); err != nil {
					return err
				}
			}
			tx.onCommit(func() { batch, res.Batch = b, batchName(b) })
			res.Imported += len(keys)
			return s.insertCodes(tx, c, b, keys, displays, cImported, false)
		})
		if err != nil {
			break
		}
	}
	if err != nil {
		return ImportResult{}, err
	}
	res.SkippedTotal = file.problems.total + len(res.Skipped) - len(problems)
	if res.Skipped == nil {
		res.Skipped = []ImportProblem{}
	}
	return res, nil
}
