package gen

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// Generator makes random codes of one format. Symbols are drawn uniformly:
// each random byte is used only when it falls below the largest multiple of
// the alphabet size, so there is no modulo bias. A Generator is not safe for
// concurrent use; make one per goroutine.
type Generator struct {
	sym            string
	sorted         string // sym in byte order: cells are numbered in key order
	prefix, suffix string
	idx            *[256]int8
	length         int
	check          bool
	limit          int // bytes >= limit are rejected
	rnd            io.Reader
	buf            [4096]byte
	pos, end       int
}

// NewGenerator returns a generator for f reading randomness from random, or
// from crypto/rand when random is nil. It returns f.Validate's error for an
// invalid format.
func NewGenerator(f Format, random io.Reader) (*Generator, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if random == nil {
		random = rand.Reader
	}
	sym := f.Symbols()
	sorted := []byte(sym)
	slices.Sort(sorted)
	return &Generator{
		sym: sym, sorted: string(sorted), prefix: f.foldedPrefix(), suffix: f.foldedSuffix(), idx: symbolIndex(sym),
		length: f.Length, check: f.Check, limit: 256 - 256%len(sym), rnd: random,
	}, nil
}

// Radix returns the alphabet size.
func (g *Generator) Radix() int { return len(g.sym) }

// KeyLen returns the length of every canonical key g makes.
func (g *Generator) KeyLen() int {
	n := len(g.prefix) + g.length + len(g.suffix)
	if g.check {
		n++
	}
	return n
}

// Symbol returns a uniformly random symbol index in [0, Radix()). It fails
// only when the random source does.
func (g *Generator) Symbol() (int, error) {
	for {
		if g.pos == g.end {
			n, err := io.ReadFull(g.rnd, g.buf[:])
			if n == 0 {
				if err == nil || errors.Is(err, io.ErrUnexpectedEOF) {
					err = io.EOF
				}
				return 0, fmt.Errorf("gen: reading randomness: %w", err)
			}
			g.pos, g.end = 0, n
		}
		b := int(g.buf[g.pos])
		g.pos++
		if b < g.limit {
			return b % len(g.sym), nil
		}
	}
}

// Cells returns how many cells of depth p there are: Radix()^p, the number of
// possible first p random symbols. It returns 0 if that overflows an int.
func (g *Generator) Cells(p int) int {
	c := math.Pow(float64(len(g.sym)), float64(p))
	if p > g.length || c > 1<<40 {
		return 0
	}
	return int(c)
}

// Cell returns a uniformly random cell of depth p: the first p random symbols
// of a code, as a number in [0, Cells(p)). Drawing each code's cell first and
// then AppendKey within it yields exactly the uniform distribution, which
// lets a caller generate codes in key order: cells are numbered so that a
// lower cell holds lower keys.
func (g *Generator) Cell(p int) (int, error) {
	c := 0
	for i := 0; i < p; i++ {
		s, err := g.Symbol()
		if err != nil {
			return 0, err
		}
		c = c*len(g.sym) + s
	}
	return c, nil
}

// CellOf returns the cell of depth p that key (made by g) lies in.
func (g *Generator) CellOf(key []byte, p int) int {
	c := 0
	for i := 0; i < p; i++ {
		c = c*len(g.sym) + strings.IndexByte(g.sorted, key[len(g.prefix)+i])
	}
	return c
}

// AppendKey appends a random canonical key to dst whose first p random
// symbols are those of cell (use p = 0 for a fully random key) and returns
// the extended slice.
func (g *Generator) AppendKey(dst []byte, cell, p int) ([]byte, error) {
	dst = append(dst, g.prefix...)
	start := len(dst)
	for i := p - 1; i >= 0; i-- {
		d := cell
		for j := 0; j < i; j++ {
			d /= len(g.sym)
		}
		dst = append(dst, g.sorted[d%len(g.sym)])
	}
	for i := p; i < g.length; i++ {
		s, err := g.Symbol()
		if err != nil {
			return dst, err
		}
		dst = append(dst, g.sym[s])
	}
	if g.check {
		dst = append(dst, g.sym[luhnCheck(g.idx, len(g.sym), dst[start:])])
	}
	return append(dst, g.suffix...), nil
}

// CapacityError refuses a generation that would make guessing too easy.
type CapacityError struct {
	Requested uint64  // codes asked for
	Existing  uint64  // codes of the same shape already stored
	Max       uint64  // the most codes of this shape the odds allow in all
	Odds      float64 // 1 in Odds is the least acceptable guess odds
	Length    int     // random symbols now
	Suggested int     // random symbols that would fit the request
}

func (e *CapacityError) Error() string {
	allowed := uint64(0)
	if e.Max > e.Existing {
		allowed = e.Max - e.Existing
	}
	return fmt.Sprintf("%d more codes would let a random guess hit a live code more often than 1 in %.0f; "+
		"at most %d more fit codes of %d random symbols (%d are stored); "+
		"use longer codes (length %d) for a campaign this large, or lower min_guess_odds on purpose",
		e.Requested, e.Odds, allowed, e.Length, e.Existing, e.Suggested)
}

// DefaultGuessOdds is the least acceptable odds against a random well-formed
// guess hitting a live code: 1 in a million.
const DefaultGuessOdds = 1e6

// MaxCodes returns the most live codes of f that keep a random well-formed
// guess from hitting one more often than 1 in odds.
func (f Format) MaxCodes(odds float64) uint64 {
	if odds < 1 {
		odds = 1
	}
	m := f.Space() / odds
	if m >= math.MaxUint64/2 {
		return math.MaxUint64 / 2
	}
	return uint64(m)
}

// CheckCapacity returns a *CapacityError when storing count more codes of
// f beside existing ones of the same shape would break the guess odds
// (DefaultGuessOdds when odds is 0), and nil otherwise.
func (f Format) CheckCapacity(existing, count uint64, odds float64) error {
	if odds <= 0 {
		odds = DefaultGuessOdds
	}
	max := f.MaxCodes(odds)
	if existing <= max && count <= max-existing {
		return nil
	}
	e := &CapacityError{Requested: count, Existing: existing, Max: max, Odds: odds, Length: f.Length, Suggested: f.Length}
	need := float64(existing+count) * odds
	for g := f; g.Space() < need && g.Length < MaxLength; {
		g.Length++
		e.Suggested = g.Length
	}
	return e
}
