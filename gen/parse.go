package gen

import (
	"errors"
	"fmt"
)

// ErrTypo means the input has the shape of a format but its check symbol is
// wrong: most likely one symbol was mistyped or two were swapped.
var ErrTypo = errors.New("the check symbol does not match: a symbol is probably mistyped")

// ErrMalformed means the input cannot be a code: empty, too long, a character
// that is not a letter, digit, space or dash, or not of the format's shape.
var ErrMalformed = errors.New("not a well-formed code")

// Normalize turns what a person typed into the canonical key under which a
// code is stored: upper case, spaces and dashes removed, and the confusable
// letters folded (O→0, I→1, L→1). It needs no format, so imported codes of any
// shape normalise the same way. Normalize is idempotent. It returns an error
// wrapping ErrMalformed for empty input, other characters, or keys longer
// than MaxCodeLen.
func Normalize(s string) (string, error) {
	var buf [MaxCodeLen]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '-' || c == '\t':
			continue
		case !isAlnum(c):
			return "", fmt.Errorf("%w: %q is not a letter, digit, space or dash", ErrMalformed, rune(c))
		}
		if n == len(buf) {
			return "", fmt.Errorf("%w: longer than %d symbols", ErrMalformed, MaxCodeLen)
		}
		buf[n] = foldByte(c)
		n++
	}
	if n == 0 {
		return "", fmt.Errorf("%w: no letters or digits", ErrMalformed)
	}
	return string(buf[:n]), nil
}

// foldByte upper-cases c and maps the letters people confuse with digits.
func foldByte(c byte) byte {
	if c >= 'a' && c <= 'z' {
		c -= 'a' - 'A'
	}
	switch c {
	case 'O':
		return '0'
	case 'I', 'L':
		return '1'
	}
	return c
}

// Verdict is what a format says of a canonical key.
type Verdict int

const (
	// NoMatch: the key is not shaped like the format (length, alphabet or affixes).
	NoMatch Verdict = iota
	// Valid: shaped like the format, and the check symbol (if any) is right.
	Valid
	// Typo: shaped like the format, but the check symbol is wrong.
	Typo
)

// Match tells whether the canonical key (from Normalize) is a code of format f.
// For many keys, compile f once with NewMatcher.
func (f Format) Match(key string) Verdict { return NewMatcher(f).Match(key) }

// Matcher is a format prepared for matching many keys. It is immutable and
// safe for concurrent use.
type Matcher struct {
	prefix, suffix string
	idx            *[256]int8
	n, bodyLen     int
	check          bool
}

// NewMatcher prepares f for Match.
func NewMatcher(f Format) *Matcher {
	sym := f.Symbols()
	return &Matcher{prefix: f.foldedPrefix(), suffix: f.foldedSuffix(), idx: symbolIndex(sym),
		n: len(sym), bodyLen: f.bodyLen(), check: f.Check}
}

// Match tells whether the canonical key is a code of the matcher's format.
func (m *Matcher) Match(key string) Verdict {
	p, s := m.prefix, m.suffix
	if len(key) != len(p)+m.bodyLen+len(s) || key[:len(p)] != p || key[len(key)-len(s):] != s {
		return NoMatch
	}
	body := key[len(p) : len(key)-len(s)]
	for i := 0; i < len(body); i++ {
		if m.idx[body[i]] < 0 {
			return NoMatch
		}
	}
	if m.check && !luhnValid(m.idx, m.n, body) {
		return Typo
	}
	return Valid
}

// Parse normalises what a person typed and checks it against f. It returns
// the canonical key, or an error wrapping ErrTypo or ErrMalformed.
func (f Format) Parse(input string) (string, error) {
	key, err := Normalize(input)
	if err != nil {
		return "", err
	}
	switch f.Match(key) {
	case Typo:
		return "", ErrTypo
	case NoMatch:
		return "", fmt.Errorf("%w: expected %d symbols from %s", ErrMalformed, f.bodyLen(), f.describe())
	}
	return key, nil
}

func (f Format) describe() string {
	d := "the alphabet " + f.Symbols()
	if f.Prefix != "" {
		d += " after the prefix " + f.Prefix
	}
	if f.Suffix != "" {
		d += " before the suffix " + f.Suffix
	}
	return d
}

// symbolIndex maps each byte to its position in sym, or -1.
func symbolIndex(sym string) *[256]int8 {
	if sym == Crockford {
		return &crockfordIndex
	}
	t := new([256]int8)
	fillIndex(t, sym)
	return t
}

var crockfordIndex = func() (t [256]int8) { fillIndex(&t, Crockford); return }()

func fillIndex(t *[256]int8, sym string) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(sym); i++ {
		t[sym[i]] = int8(i)
	}
}

// CheckSymbol returns the Luhn mod N check symbol of payload over the
// alphabet sym (N = len(sym)). Every payload byte must be in sym.
func CheckSymbol(sym, payload string) byte {
	idx := symbolIndex(sym)
	return sym[luhnCheck(idx, len(sym), payload)]
}

// luhnCheck is the Luhn mod N algorithm: from the right, every second
// symbol's index is doubled and its base-N digits summed.
func luhnCheck[T string | []byte](idx *[256]int8, n int, payload T) int {
	factor, sum := 2, 0
	for i := len(payload) - 1; i >= 0; i-- {
		a := factor * int(idx[payload[i]])
		sum += a/n + a%n
		factor = 3 - factor
	}
	return (n - sum%n) % n
}

func luhnValid[T string | []byte](idx *[256]int8, n int, body T) bool {
	factor, sum := 1, 0
	for i := len(body) - 1; i >= 0; i-- {
		a := factor * int(idx[body[i]])
		sum += a/n + a%n
		factor = 3 - factor
	}
	return sum%n == 0
}
