package store

import (
	"encoding/csv"
	"errors"
	"io"
)

// maxRecordBytes bounds one record (line) of an uploaded CSV file, so that
// the reader's memory stays small whatever the file holds: an unclosed
// quote would otherwise make the rest of a file one field.
const maxRecordBytes = 1 << 20

var errRecordTooLong = errors.New("record too long")

// readCSV reads an uploaded file as CSV whose lines may differ in width,
// calling row with each record, its line number, and whether it is the
// first (a possible header). A line that is not readable CSV becomes a
// problem, as do the problems row returns; problems keeps the first of
// them and counts them all, so reading keeps no more than one record
// however many lines are bad. row's error stops the reading, as does a
// record longer than 1 MiB or a failing reader (an *Error from r, such as
// too_large, is returned as it is).
func readCSV(r io.Reader, problems *problemList, row func(rec []string, line int, first bool) (*ImportProblem, error)) error {
	lim := &recordLimiter{r: r}
	cr := csv.NewReader(lim)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	last := 0 // the line the last record started on
	for first := true; ; first = false {
		lim.n = 0
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			var se *Error
			switch {
			case errors.Is(err, errRecordTooLong):
				return fieldErr("file", "the record after line %d is longer than %d bytes: is this the right file? (a quote that is never closed makes the rest of a file one field)", last, maxRecordBytes)
			case errors.As(err, &se):
				return se
			case errors.As(err, &pe):
				problems.add(ImportProblem{Line: pe.Line, Reason: "not readable CSV: " + pe.Err.Error()})
				continue
			}
			return fieldErr("file", "reading: %v", err)
		}
		line, _ := cr.FieldPos(0)
		last = line
		p, err := row(rec, line, first)
		if err != nil {
			return err
		}
		if p != nil {
			p.Line = line
			problems.add(*p)
		}
	}
}

// recordLimiter fails a read once more than maxRecordBytes were read since
// n was last set to 0 (at the start of each record). The CSV reader reads
// ahead by at most its buffer (4 KiB), so a record is cut within that of
// the limit.
type recordLimiter struct {
	r io.Reader
	n int
}

func (l *recordLimiter) Read(p []byte) (int, error) {
	if l.n > maxRecordBytes {
		return 0, errRecordTooLong
	}
	n, err := l.r.Read(p)
	l.n += n
	return n, err
}
