package store

import (
	"encoding/binary"
	"fmt"
	"strings"
	"sync/atomic"

	"promo/gen"
	"promo/store/kv"
)

// Stages at which a lookup is rejected.
const (
	stageMalformed = iota
	stageTypo
	stageFilter
	stageStore
	nStages
)

// Rejected counts failed lookups by the stage that rejected them.
type Rejected struct {
	Malformed int64 `json:"malformed"` // not letters and digits at all
	Typo      int64 `json:"typo"`      // wrong check symbol
	Filter    int64 `json:"filter"`    // the Bloom filter said no: no disk read
	Store     int64 `json:"store"`     // the filter said maybe, bbolt said no
}

// rejectCounters are kept in memory (a write per failed guess would let
// guessers slow the disk) and flushed to the meta bucket now and then.
type rejectCounters struct {
	n       [nStages]atomic.Int64
	flushed [nStages]atomic.Int64
}

func (r *rejectCounters) load(v []byte) {
	vec := decodeVec(v, nStages)
	for i := range vec {
		r.n[i].Store(vec[i])
		r.flushed[i].Store(vec[i])
	}
}

// Rejected returns the failed lookups since the database was created.
func (s *Store) Rejected() Rejected {
	r := &s.rejected
	return Rejected{Malformed: r.n[stageMalformed].Load(), Typo: r.n[stageTypo].Load(),
		Filter: r.n[stageFilter].Load(), Store: r.n[stageStore].Load()}
}

func (s *Store) flushRejectedWith(run func(func(*wtx) error) error) error {
	var vec [nStages]int64
	changed := false
	for i := range vec {
		vec[i] = s.rejected.n[i].Load()
		changed = changed || vec[i] != s.rejected.flushed[i].Load()
	}
	if !changed || s.opts.ReadOnly {
		return nil
	}
	err := run(func(tx *wtx) error {
		// Deltas: other processes on a cluster add theirs too.
		db := decodeVec(tx.Get(bucketMeta, metaRejected), nStages)
		for i := range db {
			db[i] += vec[i] - s.rejected.flushed[i].Load()
		}
		tx.Put(bucketMeta, metaRejected, encodeVec(db))
		return nil
	})
	if err == nil {
		for i := range vec {
			s.rejected.flushed[i].Store(vec[i])
		}
	}
	return err
}

// found is a code located by a lookup.
type found struct {
	key  []byte
	rec  codeRec
	camp *Campaign
	hold *liveHold // the customer's own live hold of the code, set by the rules
}

// screened is input that passed the lookup path's stages that need no
// disk: normalise, check symbol, filter.
type screened struct {
	key      []byte
	typoOnly bool // shaped like a format but with a wrong check symbol
}

var (
	errTypo     = &Error{Code: ETypo, Field: "code", Message: "this code has a typo: a symbol is mistyped or two are swapped; check it and type it again"}
	errNotFound = &Error{Code: ENotFound, Field: "code", Message: "no such code: check it and type it again"}
)

// screen runs the first stages of every lookup: normalise → check symbol
// → filter. It reads no disk, so a guess that fails here costs no bbolt
// transaction. Input shaped like a campaign's format with a wrong check
// symbol is a typo, unless such a code was imported (the filter, and then
// bbolt, are asked before saying so). count says whether a rejection counts
// as a failed guess. It returns not_found or typo.
func (s *Store) screen(input string, count bool) (screened, error) {
	reject := func(stage int, err *Error) (screened, error) {
		if count {
			s.rejected.n[stage].Add(1)
		}
		return screened{}, err
	}
	key, err := gen.Normalize(input)
	if err != nil {
		return reject(stageMalformed, &Error{Code: ENotFound, Field: "code",
			Message: fmt.Sprintf("%q is not a promo code: %s", truncate(input, 40), strings.TrimPrefix(err.Error(), gen.ErrMalformed.Error()+": "))})
	}
	valid, typo := false, false
	for _, m := range s.cat.Load().matchers {
		switch m.Match(key) {
		case gen.Valid:
			valid = true
		case gen.Typo:
			typo = true
		}
	}
	sc := screened{key: []byte(key), typoOnly: typo && !valid}
	if s.filterSaysNo(sc.key) {
		if sc.typoOnly {
			return reject(stageTypo, errTypo)
		}
		return reject(stageFilter, errNotFound)
	}
	return sc, nil
}

// find is the lookup path's last stage: the code's record in bbolt.
func (s *Store) find(tx kv.Tx, sc screened, count bool) (found, error) {
	v := tx.Get(bucketCodes, sc.key)
	if v == nil {
		stage, err := stageStore, errNotFound
		if sc.typoOnly {
			stage, err = stageTypo, errTypo
		}
		if count {
			s.rejected.n[stage].Add(1)
		}
		return found{}, err
	}
	rec, err := decodeCodeRec(v)
	if err != nil {
		return found{}, internal(fmt.Errorf("code %s: %w", sc.key, err), "read code")
	}
	c, err := s.campaignOfTx(tx, rec.camp)
	if err != nil {
		return found{}, internal(fmt.Errorf("code %s: %w", sc.key, err), "read code")
	}
	return found{key: sc.key, rec: rec, camp: c}, nil
}

// lookup runs the whole path: screen, then find.
func (s *Store) lookup(tx kv.Tx, input string, count bool) (found, error) {
	sc, err := s.screen(input, count)
	if err != nil {
		return found{}, err
	}
	return s.find(tx, sc, count)
}

func putCode(tx *wtx, f found) error {
	tx.Put(bucketCodes, f.key, f.rec.encode())
	return nil
}

// GetCode returns a code with its redemptions, or not_found / typo.
func (s *Store) GetCode(input string) (Code, error) {
	sc, err := s.screen(input, true)
	if err != nil {
		return Code{}, err
	}
	var out Code
	err = s.view(func(tx kv.Tx) error {
		f, err := s.find(tx, sc, true)
		if err != nil {
			return err
		}
		out = codeView(string(f.key), f.rec, f.camp)
		for _, id := range f.rec.redIDs {
			r, err := getRedemption(tx, id)
			if err != nil {
				return err
			}
			out.Redemptions = append(out.Redemptions, r)
		}
		return nil
	})
	return out, err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// mustNormalize returns the key of a code as stored in a record we wrote.
func mustNormalize(code string) []byte {
	k, err := gen.Normalize(code)
	if err != nil {
		return []byte(code)
	}
	return []byte(k)
}

func u32(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }
