package store

import "promo/store/kv"

// importOthers removes from lines the codes that belong to a campaign
// other than c and adds each to problems, so that they are counted and
// listed with the file's other bad lines before anything is written. The
// caller holds genMu: no import or generation adds codes before its own
// transaction, which checks every code again. A code the filter has never
// seen costs no read.
func (s *Store) importOthers(c *Campaign, lines []importLine, problems *problemList) ([]importLine, error) {
	kept := lines[:0]
	filter := s.filter.Load()
	err := s.view(func(tx kv.Tx) error {
		cat := s.cat.Load()
		for _, l := range lines {
			var v []byte
			if filter.Test(l.key) {
				v = tx.Get(bucketCodes, l.key)
			}
			if v == nil {
				kept = append(kept, l)
				continue
			}
			rec, err := decodeCodeRec(v)
			if err != nil {
				return internal(err, "read code")
			}
			if rec.camp == c.Num {
				kept = append(kept, l)
				continue
			}
			other := "another campaign"
			if oc := cat.byNum[rec.camp]; oc != nil {
				other = "campaign " + oc.ID
			}
			problems.add(ImportProblem{Line: l.line, Code: l.display, Reason: "already a code of " + other})
		}
		return nil
	})
	return kept, err
}
