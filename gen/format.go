// Package gen owns the shape of promo codes: alphabets, length, grouping,
// prefix and suffix, the check symbol, random generation and the parsing of
// what a person typed. It is pure: no I/O beyond the random source it is given.
package gen

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// Named alphabets. Every alphabet is "fold-stable": no symbol changes under
// Fold, and no two symbols fold to the same one, so a code typed with O for 0
// or L for 1 still finds the code that was printed.
const (
	// Crockford is Crockford's base32 alphabet: digits and letters without I, L, O, U.
	Crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	// Numeric is the ten decimal digits.
	Numeric = "0123456789"
	// Alpha is the Latin letters without I, L and O, which read as 1, 1 and 0.
	Alpha = "ABCDEFGHJKMNPQRSTUVWXYZ"
)

// Limits on a format. A canonical code is at most MaxCodeLen symbols long.
const (
	MinLength  = 4
	MaxLength  = 32
	MaxAffix   = 16
	MaxCodeLen = 64
)

// Format is a campaign's code format. The zero value is not valid; start from
// DefaultFormat. Format is a value type and safe for concurrent use.
type Format struct {
	// Alphabet is "crockford", "numeric", "alpha", or a custom string of
	// unique letters and digits.
	Alphabet string `json:"alphabet"`
	// Length is the number of random symbols, not counting the check symbol.
	Length int `json:"length"`
	// Prefix and Suffix are fixed text around the random part: letters,
	// digits and dashes.
	Prefix string `json:"prefix"`
	Suffix string `json:"suffix"`
	// Group is the number of symbols per dash-separated group when shown;
	// 0 shows the code in one piece.
	Group int `json:"group"`
	// Check appends a Luhn mod N check symbol over the alphabet.
	Check bool `json:"check"`
}

// DefaultFormat returns 11 random Crockford symbols plus a check symbol,
// shown in groups of 4: 7K3M-Q9XD-2RTM.
func DefaultFormat() Format {
	return Format{Alphabet: "crockford", Length: 11, Group: 4, Check: true}
}

// UnmarshalJSON decodes a format, keeping DefaultFormat's value for every
// field the JSON leaves out, and rejects unknown fields.
func (f *Format) UnmarshalJSON(b []byte) error {
	type plain Format
	p := plain(DefaultFormat())
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return err
	}
	*f = Format(p)
	return nil
}

// FormatError reports an invalid format field.
type FormatError struct {
	Field   string // JSON name of the field, e.g. "alphabet"
	Message string
}

func (e *FormatError) Error() string { return e.Field + ": " + e.Message }

// Symbols returns the symbols of f's alphabet in order. For a custom
// alphabet it returns the alphabet upper-cased.
func (f Format) Symbols() string {
	switch strings.ToLower(f.Alphabet) {
	case "", "crockford":
		return Crockford
	case "numeric":
		return Numeric
	case "alpha":
		return Alpha
	}
	return strings.ToUpper(f.Alphabet)
}

// Validate reports the first problem with f as a *FormatError naming the
// field, or nil when f can be used to generate codes.
func (f Format) Validate() error {
	sym := f.Symbols()
	if len(sym) < 2 || len(sym) > 64 {
		return &FormatError{"alphabet", fmt.Sprintf("needs 2 to 64 symbols or one of crockford, numeric, alpha; got %d symbols", len(sym))}
	}
	var seen [256]bool
	for i := 0; i < len(sym); i++ {
		c := sym[i]
		if !isAlnum(c) {
			return &FormatError{"alphabet", fmt.Sprintf("symbol %q is not a letter or digit", c)}
		}
		if fc := foldByte(c); fc != c {
			return &FormatError{"alphabet", fmt.Sprintf("symbol %q reads as %q when typed; leave it out (use %q)", c, fc, fc)}
		}
		if seen[c] {
			return &FormatError{"alphabet", fmt.Sprintf("symbol %q appears twice; symbols must be unique", c)}
		}
		seen[c] = true
	}
	if f.Length < MinLength || f.Length > MaxLength {
		return &FormatError{"length", fmt.Sprintf("must be %d to %d random symbols, got %d", MinLength, MaxLength, f.Length)}
	}
	for _, a := range []struct{ field, v string }{{"prefix", f.Prefix}, {"suffix", f.Suffix}} {
		if len(a.v) > MaxAffix {
			return &FormatError{a.field, fmt.Sprintf("must be at most %d characters, got %d", MaxAffix, len(a.v))}
		}
		for i := 0; i < len(a.v); i++ {
			if c := a.v[i]; !isAlnum(c) && c != '-' {
				return &FormatError{a.field, fmt.Sprintf("may hold letters, digits and dashes only, got %q", c)}
			}
		}
	}
	if f.Group < 0 || f.Group > f.bodyLen() {
		return &FormatError{"group", fmt.Sprintf("must be 0 (no groups) to %d, got %d", f.bodyLen(), f.Group)}
	}
	if n := len(f.foldedPrefix()) + f.bodyLen() + len(f.foldedSuffix()); n > MaxCodeLen {
		return &FormatError{"length", fmt.Sprintf("codes would be %d symbols long; the most is %d", n, MaxCodeLen)}
	}
	return nil
}

// bodyLen is the number of symbols between prefix and suffix.
func (f Format) bodyLen() int {
	if f.Check {
		return f.Length + 1
	}
	return f.Length
}

func (f Format) foldedPrefix() string { return fold(f.Prefix) }
func (f Format) foldedSuffix() string { return fold(f.Suffix) }

// fold normalises an affix; most formats have none, and Normalize builds
// an error for empty input.
func fold(affix string) string {
	if affix == "" {
		return ""
	}
	k, _ := Normalize(affix)
	return k
}

// SameShape reports whether codes of f and g can look alike, so that they
// share one guess space: same alphabet, length, check and affixes.
func (f Format) SameShape(g Format) bool {
	return f.Symbols() == g.Symbols() && f.Length == g.Length && f.Check == g.Check &&
		f.foldedPrefix() == g.foldedPrefix() && f.foldedSuffix() == g.foldedSuffix()
}

// Space returns the number of distinct well-formed codes of f, as a float
// because it is often beyond 2^64.
func (f Format) Space() float64 {
	return math.Pow(float64(len(f.Symbols())), float64(f.Length))
}

// Display returns the canonical key in the form people see: affixes as
// written and the random part in groups of f.Group joined by dashes (affixes
// get a dash of their own when grouping is on). A key that is not shaped like
// f is returned as it is.
func (f Format) Display(key string) string {
	p, s := f.foldedPrefix(), f.foldedSuffix()
	if len(key) < len(p)+len(s) || !strings.HasPrefix(key, p) || !strings.HasSuffix(key, s) {
		return key
	}
	body := key[len(p) : len(key)-len(s)]
	if len(body) != f.bodyLen() {
		return key
	}
	prefix, suffix := strings.ToUpper(f.Prefix), strings.ToUpper(f.Suffix)
	if f.Group <= 0 {
		return prefix + body + suffix
	}
	var b strings.Builder
	b.Grow(len(prefix) + len(body) + len(body)/f.Group + len(suffix) + 2)
	if prefix != "" {
		b.WriteString(strings.TrimSuffix(prefix, "-"))
		b.WriteByte('-')
	}
	for i := 0; i < len(body); i += f.Group {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(body[i:min(i+f.Group, len(body))])
	}
	if suffix != "" {
		b.WriteByte('-')
		b.WriteString(strings.TrimPrefix(suffix, "-"))
	}
	return b.String()
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}
