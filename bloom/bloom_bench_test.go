package bloom

import (
	"bytes"
	"sync/atomic"
	"testing"
)

const benchKeys = 1 << 20 // about 1M

// benchFilter returns a filter for 1M keys holding 1M members, and 64k keys
// that are not members.
func benchFilter(b *testing.B) (*Filter, [][]byte) {
	b.Helper()
	f := New(benchKeys, DefaultFPRate)
	f.AddMany(makeKeys(members, 0, benchKeys))
	return f, makeKeys(nonMembers, 0, 1<<16)
}

func BenchmarkFilter_Test(b *testing.B) {
	f, absent := benchFilter(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f.Test(absent[i&(len(absent)-1)])
	}
}

// BenchmarkFilter_TestGrown tests absent keys against a filter that grew
// from 64k to 1M keys, so has 5 layers.
func BenchmarkFilter_TestGrown(b *testing.B) {
	f := New(1<<16, DefaultFPRate)
	f.AddMany(makeKeys(members, 0, benchKeys))
	absent := makeKeys(nonMembers, 0, 1<<16)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f.Test(absent[i&(len(absent)-1)])
	}
	b.ReportMetric(float64(f.Layers()), "layers")
}

func BenchmarkFilter_TestParallel(b *testing.B) {
	f, absent := benchFilter(b)
	var seed atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seed.Add(7919))
		for pb.Next() {
			f.Test(absent[i&(len(absent)-1)])
			i++
		}
	})
}

func BenchmarkFilter_Add(b *testing.B) {
	f := New(benchKeys, DefaultFPRate)
	keys := makeKeys(members, 0, benchKeys)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f.Add(keys[i&(len(keys)-1)])
	}
}

// BenchmarkFilter_AddMany adds 100k keys per op, as bulk generation does,
// into a filter for 1M keys that is replaced, untimed, when full.
func BenchmarkFilter_AddMany(b *testing.B) {
	const batch = 100_000
	keys := makeKeys(members, 0, 10*batch)
	f := New(uint64(len(keys)), DefaultFPRate)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		j := i % 10 * batch
		if i > 0 && j == 0 {
			b.StopTimer()
			f = New(uint64(len(keys)), DefaultFPRate)
			b.StartTimer()
		}
		f.AddMany(keys[j : j+batch])
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/key")
}

func BenchmarkRead(b *testing.B) {
	f, _ := benchFilter(b)
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf, testMark); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Read(bytes.NewReader(data), testMark); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFilter_WriteTo(b *testing.B) {
	f, _ := benchFilter(b)
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if _, err := f.WriteTo(&buf, testMark); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(buf.Len()))
}
