package store

import (
	"encoding/csv"
	"errors"
	"io"
)

// readCSV reads an uploaded file as CSV whose lines may differ in width,
// calling row with each record, its line number, and whether it is the
// first (a possible header). A line that is not readable CSV becomes a
// problem, as do the problems row returns; row's error stops the reading.
func readCSV(r io.Reader, row func(rec []string, line int, first bool) (*ImportProblem, error)) ([]ImportProblem, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	var problems []ImportProblem
	for first := true; ; first = false {
		rec, err := cr.Read()
		if err == io.EOF {
			return problems, nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				problems = append(problems, ImportProblem{Line: pe.Line, Reason: "not readable CSV: " + pe.Err.Error()})
				continue
			}
			return nil, fieldErr("file", "reading: %v", err)
		}
		line, _ := cr.FieldPos(0)
		p, err := row(rec, line, first)
		if err != nil {
			return nil, err
		}
		if p != nil {
			p.Line = line
			problems = append(problems, *p)
		}
	}
}
