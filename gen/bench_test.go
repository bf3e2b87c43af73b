package gen_test

import (
	"testing"

	"promo/gen"
)

// BenchmarkGenerator_AppendKey measures codes generated per second in the
// default format from crypto/rand (no storage).
func BenchmarkGenerator_AppendKey(b *testing.B) {
	g, err := gen.NewGenerator(gen.DefaultFormat(), nil)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 16)
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = g.AppendKey(buf[:0], 0, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "codes/s")
}

func BenchmarkMatcher_Match(b *testing.B) {
	m := gen.NewMatcher(gen.DefaultFormat())
	for b.Loop() {
		if m.Match("7K3MQ9XD2RTM") != gen.Valid {
			b.Fatal("not valid")
		}
	}
}

func BenchmarkNormalize(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := gen.Normalize("7k3m-q9xd-2rtm"); err != nil {
			b.Fatal(err)
		}
	}
}
