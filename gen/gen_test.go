package gen_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"math"
	mrand "math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"promo/gen"
)

func TestCheckSymbol_DesignExample(t *testing.T) {
	require.Equal(t, byte('M'), gen.CheckSymbol(gen.Crockford, "7K3MQ9XD2RT"))
	f := gen.DefaultFormat()
	require.Equal(t, "7K3M-Q9XD-2RTM", f.Display("7K3MQ9XD2RTM"))
	key, err := f.Parse("7k3m q9xd-2rtm")
	require.NoError(t, err)
	require.Equal(t, "7K3MQ9XD2RTM", key)
}

func TestCheckSymbol_NumericIsLuhn(t *testing.T) {
	// Luhn mod 10 is the credit-card Luhn: 7992739871 has check digit 3.
	require.Equal(t, byte('3'), gen.CheckSymbol(gen.Numeric, "7992739871"))
}

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"7k3m-q9xd-2rtm", "7K3MQ9XD2RTM", ""},
		{" 7K3M Q9XD 2RTM ", "7K3MQ9XD2RTM", ""},
		{"o0Ii-Ll", "001111", ""},
		{"SUMMER-2026", "SUMMER2026", ""},
		{"welcome10", "WE1C0ME10", ""},
		{"", "", "no letters or digits"},
		{" - -", "", "no letters or digits"},
		{"ABC_123", "", `'_' is not a letter`},
		{"ÄBC", "", "is not a letter"},
		{strings.Repeat("A", gen.MaxCodeLen), strings.Repeat("A", gen.MaxCodeLen), ""},
		{strings.Repeat("A", gen.MaxCodeLen+1), "", "longer than 64"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := gen.Normalize(tc.in)
			if tc.err != "" {
				require.ErrorIs(t, err, gen.ErrMalformed)
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestFormat_Validate(t *testing.T) {
	ok := gen.DefaultFormat()
	for _, tc := range []struct {
		name  string
		edit  func(*gen.Format)
		field string
	}{
		{"Default", func(*gen.Format) {}, ""},
		{"Numeric", func(f *gen.Format) { f.Alphabet = "numeric"; f.Length = 10 }, ""},
		{"Alpha", func(f *gen.Format) { f.Alphabet = "alpha" }, ""},
		{"Custom", func(f *gen.Format) { f.Alphabet = "abcdef23" }, ""},
		{"CustomConfusable", func(f *gen.Format) { f.Alphabet = "ABCO" }, "alphabet"},
		{"CustomDuplicate", func(f *gen.Format) { f.Alphabet = "ABCA" }, "alphabet"},
		{"CustomDuplicateByCase", func(f *gen.Format) { f.Alphabet = "ABCa" }, "alphabet"},
		{"CustomPunctuation", func(f *gen.Format) { f.Alphabet = "AB-C" }, "alphabet"},
		{"OneSymbol", func(f *gen.Format) { f.Alphabet = "A" }, "alphabet"},
		{"TooShort", func(f *gen.Format) { f.Length = 3 }, "length"},
		{"TooLong", func(f *gen.Format) { f.Length = 33 }, "length"},
		{"PrefixWithDash", func(f *gen.Format) { f.Prefix = "SUMMER-" }, ""},
		{"PrefixBadChar", func(f *gen.Format) { f.Prefix = "SUM MER" }, "prefix"},
		{"SuffixTooLong", func(f *gen.Format) { f.Suffix = strings.Repeat("X", 17) }, "suffix"},
		{"GroupNegative", func(f *gen.Format) { f.Group = -1 }, "group"},
		{"GroupTooBig", func(f *gen.Format) { f.Group = 13 }, "group"},
		{"WholeCodeTooLong", func(f *gen.Format) {
			f.Length = 32
			f.Prefix = strings.Repeat("P", 16)
			f.Suffix = strings.Repeat("S", 16)
		}, "length"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := ok
			tc.edit(&f)
			err := f.Validate()
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			var fe *gen.FormatError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tc.field, fe.Field)
		})
	}
}

func TestFormat_UnmarshalJSON_KeepsDefaults(t *testing.T) {
	var f gen.Format
	require.NoError(t, f.UnmarshalJSON([]byte(`{"length": 8, "prefix": "VIP"}`)))
	want := gen.DefaultFormat()
	want.Length, want.Prefix = 8, "VIP"
	require.Equal(t, want, f)
	require.Error(t, f.UnmarshalJSON([]byte(`{"lenght": 8}`)))
}

func TestFormat_Parse(t *testing.T) {
	f := gen.Format{Alphabet: "crockford", Length: 11, Prefix: "VIP", Group: 4, Check: true}
	code := f.Display("V1P7K3MQ9XD2RTM")
	require.Equal(t, "VIP-7K3M-Q9XD-2RTM", code)
	for _, tc := range []struct {
		name, in string
		err      error
	}{
		{"Exact", "VIP-7K3M-Q9XD-2RTM", nil},
		{"Sloppy", " vip 7k3m q9xd 2rtm", nil},
		{"ConfusablesInPrefix", "V1P-7K3M-Q9XD-2RTM", nil},
		{"WrongCheck", "VIP-7K3M-Q9XD-2RTN", gen.ErrTypo},
		{"OneSymbolChanged", "VIP-7K3M-Q9XD-2RXM", gen.ErrTypo},
		{"Swapped", "VIP-K73M-Q9XD-2RTM", gen.ErrTypo},
		{"MissingPrefix", "7K3M-Q9XD-2RTM", gen.ErrMalformed},
		{"TooShort", "VIP-7K3M-Q9XD-2RT", gen.ErrMalformed},
		{"NotInAlphabet", "VIP-7K3M-Q9XD-2RTU", gen.ErrMalformed},
		{"Garbage", "VIP/7K3M", gen.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, err := f.Parse(tc.in)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "V1P7K3MQ9XD2RTM", key)
		})
	}
}

func TestFormat_Display(t *testing.T) {
	for _, tc := range []struct {
		f         gen.Format
		key, want string
	}{
		{gen.Format{Alphabet: "numeric", Length: 8, Group: 0, Check: false}, "12345678", "12345678"},
		{gen.Format{Alphabet: "numeric", Length: 7, Group: 4, Check: true}, "12345674", "1234-5674"},
		{gen.Format{Alphabet: "crockford", Length: 6, Prefix: "Summer-", Suffix: "X", Group: 3, Check: false}, "SUMMERABCDEFX", "SUMMER-ABC-DEF-X"},
		{gen.Format{Alphabet: "crockford", Length: 6, Prefix: "LOYAL", Group: 0}, "10YA1ABCDEF", "LOYALABCDEF"},
		{gen.DefaultFormat(), "WELCOME10", "WELCOME10"},
	} {
		require.Equal(t, tc.want, tc.f.Display(tc.key))
		k, err := gen.Normalize(tc.f.Display(tc.key))
		require.NoError(t, err)
		if tc.f.Match(tc.key) != gen.NoMatch {
			require.Equal(t, tc.key, k)
		}
	}
}

func TestGenerator_KeysMatchTheirFormat(t *testing.T) {
	formats := []gen.Format{
		gen.DefaultFormat(),
		{Alphabet: "numeric", Length: 12, Group: 4, Check: true},
		{Alphabet: "alpha", Length: 8, Prefix: "VIP", Suffix: "26", Group: 0, Check: false},
		{Alphabet: "ABCDEF234", Length: 6, Group: 3, Check: true},
	}
	for _, f := range formats {
		g, err := gen.NewGenerator(f, nil)
		require.NoError(t, err)
		m := gen.NewMatcher(f)
		for i := 0; i < 1000; i++ {
			key, err := g.AppendKey(nil, 0, 0)
			require.NoError(t, err)
			require.Len(t, key, g.KeyLen())
			require.Equal(t, gen.Valid, m.Match(string(key)), "format %+v key %s", f, key)
			parsed, err := f.Parse(f.Display(string(key)))
			require.NoError(t, err)
			require.Equal(t, string(key), parsed)
		}
	}
}

func TestGenerator_Cells(t *testing.T) {
	f := gen.DefaultFormat()
	g, err := gen.NewGenerator(f, nil)
	require.NoError(t, err)
	require.Equal(t, 1024, g.Cells(2))
	for cell := 0; cell < g.Cells(2); cell += 37 {
		key, err := g.AppendKey(nil, cell, 2)
		require.NoError(t, err)
		require.Equal(t, gen.Crockford[cell/32], key[0])
		require.Equal(t, gen.Crockford[cell%32], key[1])
		require.Equal(t, gen.Valid, f.Match(string(key)))
	}
	// For an alphabet not in byte order, a lower cell still holds lower keys.
	g, err = gen.NewGenerator(gen.Format{Alphabet: "ZYXW", Length: 6}, nil)
	require.NoError(t, err)
	var prev []byte
	for cell := 0; cell < g.Cells(2); cell++ {
		key, err := g.AppendKey(nil, cell, 2)
		require.NoError(t, err)
		require.Less(t, string(prev), string(key[:2]))
		prev = key[:2]
	}
}

func TestGenerator_RandomSourceFails(t *testing.T) {
	g, err := gen.NewGenerator(gen.DefaultFormat(), bytes.NewReader(make([]byte, 5)))
	require.NoError(t, err)
	_, err = g.AppendKey(nil, 0, 0)
	require.ErrorContains(t, err, "reading randomness")
}

func randomKeys(t *testing.T, f gen.Format, n int) []string {
	g, err := gen.NewGenerator(f, nil)
	require.NoError(t, err)
	keys := make([]string, n)
	for i := range keys {
		k, err := g.AppendKey(nil, 0, 0)
		require.NoError(t, err)
		keys[i] = string(k)
	}
	return keys
}

// Every single-symbol substitution of 10,000 random codes is caught by the
// check symbol: none of them is Valid.
func TestCheck_CatchesEverySingleSubstitution(t *testing.T) {
	for _, f := range []gen.Format{gen.DefaultFormat(), {Alphabet: "numeric", Length: 11, Check: true}} {
		m, sym := gen.NewMatcher(f), f.Symbols()
		for _, key := range randomKeys(t, f, 10_000) {
			b := []byte(key)
			for i := range b {
				orig := b[i]
				for j := 0; j < len(sym); j++ {
					if sym[j] == orig {
						continue
					}
					b[i] = sym[j]
					if m.Match(string(b)) != gen.Typo {
						t.Fatalf("substitution %s -> %s not caught", key, b)
					}
				}
				b[i] = orig
			}
		}
	}
}

// The share of adjacent transpositions the check symbol catches is measured.
// Luhn mod N misses exactly the swap of the first and last symbol of the
// alphabet (0↔Z, 0↔9): 2 of N·(N-1) ordered pairs. Measured: 99.80% for
// Crockford (N=32), 97.78% for numeric (N=10).
func TestCheck_AdjacentTranspositions(t *testing.T) {
	for _, tc := range []struct {
		f   gen.Format
		min float64
	}{
		{gen.DefaultFormat(), 0.995},
		{gen.Format{Alphabet: "numeric", Length: 11, Check: true}, 0.97},
	} {
		m := gen.NewMatcher(tc.f)
		caught, total := 0, 0
		for _, key := range randomKeys(t, tc.f, 10_000) {
			b := []byte(key)
			for i := 0; i+1 < len(b); i++ {
				if b[i] == b[i+1] {
					continue
				}
				b[i], b[i+1] = b[i+1], b[i]
				total++
				if m.Match(string(b)) == gen.Typo {
					caught++
				}
				b[i], b[i+1] = b[i+1], b[i]
			}
		}
		share := float64(caught) / float64(total)
		t.Logf("%s: %d of %d adjacent transpositions caught (%.2f%%)", tc.f.Alphabet, caught, total, 100*share)
		require.GreaterOrEqual(t, share, tc.min)
	}
}

// chiSquare returns the statistic of counts against a uniform expectation.
func chiSquare(counts []int, n int) float64 {
	exp := float64(n) / float64(len(counts))
	x := 0.0
	for _, c := range counts {
		d := float64(c) - exp
		x += d * d / exp
	}
	return x
}

// chiSquareCritical approximates the chi-square quantile for df degrees of
// freedom at the normal quantile z (Wilson–Hilferty).
func chiSquareCritical(df, z float64) float64 {
	a := 2 / (9 * df)
	return df * math.Pow(1-a+z*math.Sqrt(a), 3)
}

// A chi-square test over 1M symbols finds no bias, for an alphabet whose size
// is a power of two and for one where naive modulo would be biased. The same
// test on a naive byte%10 sampler fails, which shows the test has the power
// to see modulo bias.
func TestGenerator_NoBias(t *testing.T) {
	const n = 1_000_000
	crit := chiSquareCritical
	for _, f := range []gen.Format{gen.DefaultFormat(), {Alphabet: "numeric", Length: 10}, {Alphabet: "alpha", Length: 10}} {
		g, err := gen.NewGenerator(f, nil)
		require.NoError(t, err)
		counts := make([]int, g.Radix())
		for i := 0; i < n; i++ {
			s, err := g.Symbol()
			require.NoError(t, err)
			counts[s]++
		}
		x, limit := chiSquare(counts, n), crit(float64(g.Radix()-1), 4.75) // p ≈ 1e-6
		t.Logf("%s: chi-square %.1f over %d symbols (limit %.1f)", f.Alphabet, x, n, limit)
		require.Less(t, x, limit)
	}
	naive := make([]int, 10)
	buf := make([]byte, n)
	_, _ = rand.Read(buf)
	for _, b := range buf {
		naive[b%10]++
	}
	require.Greater(t, chiSquare(naive, n), crit(9, 4.75), "the test should see byte%%10's bias")
}

func TestFormat_CheckCapacity(t *testing.T) {
	f := gen.Format{Alphabet: "numeric", Length: 8}
	require.Equal(t, uint64(100), f.MaxCodes(gen.DefaultGuessOdds))
	require.NoError(t, f.CheckCapacity(0, 100, 0))
	err := f.CheckCapacity(60, 50, 0)
	var ce *gen.CapacityError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, uint64(100), ce.Max)
	require.Equal(t, 9, ce.Suggested)
	require.Contains(t, err.Error(), "at most 40 more")
	require.Contains(t, err.Error(), "length 9")
	require.NoError(t, f.CheckCapacity(60, 50, 1000), "a campaign may lower the odds on purpose")
	require.NoError(t, gen.DefaultFormat().CheckCapacity(0, 10_000_000, 0))
	require.Equal(t, uint64(36028797018), gen.DefaultFormat().MaxCodes(gen.DefaultGuessOdds))
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"7K3M-Q9XD-2RTM", "vip 7k3m", "", "o-i-l", "----", "ÄÖ", "WELCOME10"} {
		f.Add(s, uint8(0))
	}
	formats := []gen.Format{
		gen.DefaultFormat(),
		{Alphabet: "numeric", Length: 8, Group: 4, Check: true},
		{Alphabet: "alpha", Length: 6, Prefix: "VIP-", Suffix: "X", Group: 3, Check: false},
	}
	f.Fuzz(func(t *testing.T, s string, which uint8) {
		format := formats[int(which)%len(formats)]
		k1, err := gen.Normalize(s)
		if err == nil {
			k2, err := gen.Normalize(k1)
			require.NoError(t, err)
			require.Equal(t, k1, k2, "normalising twice changes nothing")
		}
		key, err := format.Parse(s)
		if err != nil {
			require.True(t, errors.Is(err, gen.ErrTypo) || errors.Is(err, gen.ErrMalformed), "unexpected error %v", err)
			return
		}
		again, err := format.Parse(format.Display(key))
		require.NoError(t, err)
		require.Equal(t, key, again, "parse(format(x)) = x")
		// Build a key from the fuzz input's symbols and check the round trip.
		g, err := gen.NewGenerator(format, mrandReader(s))
		require.NoError(t, err)
		if made, err := g.AppendKey(nil, 0, 0); err == nil {
			back, err := format.Parse(format.Display(string(made)))
			require.NoError(t, err)
			require.Equal(t, string(made), back)
		}
	})
}

// mrandReader is a deterministic random source seeded from s.
type seeded struct{ r *mrand.ChaCha8 }

func (s seeded) Read(p []byte) (int, error) { return s.r.Read(p) }

func mrandReader(s string) seeded {
	var seed [32]byte
	copy(seed[:], s)
	return seeded{mrand.NewChaCha8(seed)}
}

func TestGenerator_CellOf(t *testing.T) {
	for _, f := range []gen.Format{{Alphabet: "crockford", Length: 8, Prefix: "VIP"}, {Alphabet: "ZYXW", Length: 6}} {
		g, err := gen.NewGenerator(f, nil)
		require.NoError(t, err)
		for cell := 0; cell < g.Cells(2); cell++ {
			key, err := g.AppendKey(nil, cell, 2)
			require.NoError(t, err)
			require.Equal(t, cell, g.CellOf(key, 2))
		}
	}
}
