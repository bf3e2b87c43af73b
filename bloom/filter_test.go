package bloom

import (
	"bytes"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/bits-and-blooms/bloom/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNew_ClampsArguments(t *testing.T) {
	for _, tc := range []struct {
		name     string
		capacity uint64
		fpRate   float64
		wantCap  uint64
		wantRate float64
	}{
		{"defaults", 0, 0, 1024, DefaultFPRate},
		{"small capacity", 10, 0.01, 1024, 0.01},
		{"negative rate", 5000, -1, 5000, DefaultFPRate},
		{"rate one", 5000, 1, 5000, DefaultFPRate},
		{"NaN rate", 5000, math.NaN(), 5000, DefaultFPRate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := New(tc.capacity, tc.fpRate)
			require.Equal(t, tc.wantCap, f.Capacity())
			require.Equal(t, tc.wantRate, f.FPRate())
			require.Equal(t, 1, f.Layers())
			require.Zero(t, f.Count())
		})
	}
}

func TestLayerParams_StayReadable(t *testing.T) {
	for _, tc := range []struct {
		capacity uint64
		p        float64
	}{
		{1024, 0.001}, {1, 0.999999}, {maxCapacity, 1e-300}, {maxCapacity, 0.5}, {1 << 20, math.SmallestNonzeroFloat64},
	} {
		m, k := layerParams(tc.capacity, tc.p)
		require.True(t, m >= 64 && m <= maxBits && m%64 == 0, "m=%d for %+v", m, tc)
		require.True(t, k >= 1 && k <= maxK, "k=%d for %+v", k, tc)
	}
	m, k := layerParams(1_000_000, 0.001)
	require.Equal(t, uint64(10), k)
	require.InDelta(t, 14.38, float64(m)/1e6, 0.01, "bits per key")
}

func TestFilter_Test_NoFalseNegatives(t *testing.T) {
	const n = 1_000_000
	f := New(n, DefaultFPRate)
	keys := makeKeys(members, 0, n)
	f.AddMany(keys)
	require.Equal(t, uint64(n), f.Count())
	require.Equal(t, 1, f.Layers())
	requireAll(t, f, keys)
}

func TestFilter_FPRate_AtCapacity(t *testing.T) {
	const capacity, probes = 250_000, 1_000_000
	f := New(capacity, 0.001)
	f.AddMany(makeKeys(members, 0, capacity))
	require.Equal(t, 1, f.Layers(), "adding exactly capacity keys must not grow")
	got := fpRate(f, makeKeys(nonMembers, 0, probes))
	t.Logf("measured false-positive rate at capacity %d: %.6f (target 0.001, %d probes)", capacity, got, probes)
	require.LessOrEqual(t, math.Abs(got-0.001)/0.001, 0.2)
}

func TestFilter_Add_Grows(t *testing.T) {
	const n = 100_000
	f := New(1024, 0.001)
	keys := makeKeys(members, 0, n)
	for _, k := range keys {
		f.Add(k)
	}
	require.Greater(t, f.Layers(), 1)
	require.Equal(t, uint64(n), f.Count())
	requireAll(t, f, keys)

	// Capacities double, rates halve, and only the newest layer is not full.
	layers := f.Layers()
	require.Equal(t, uint64(1024)*(1<<layers-1), f.Capacity())
	for i, l := range f.layers {
		require.Equal(t, uint64(1024)<<i, l.capacity)
		m, k := layerParams(l.capacity, math.Ldexp(0.001, -i))
		require.Equal(t, m, uint64(l.bf.Cap()))
		require.Equal(t, k, uint64(l.bf.K()))
		if i < layers-1 {
			require.Equal(t, l.capacity, l.count)
		}
	}

	expected := 0.0
	for _, l := range f.layers {
		m, k, c := float64(l.bf.Cap()), float64(l.bf.K()), float64(l.count)
		expected += math.Pow(1-math.Exp(-k*c/m), k)
	}
	got := fpRate(f, makeKeys(nonMembers, 0, 1_000_000))
	t.Logf("measured false-positive rate of %d layers holding %d keys: %.6f (theory %.6f, 2× target 0.002)", layers, n, got, expected)
	require.LessOrEqual(t, got, 2.5*0.001)
}

func TestFilter_Add_RepeatsCount(t *testing.T) {
	f := New(0, 0)
	k := []byte("same")
	for range 3000 {
		f.Add(k)
	}
	require.Equal(t, uint64(3000), f.Count())
	require.Equal(t, 2, f.Layers(), "repeats count towards capacity")
	require.True(t, f.Test(k))
	require.False(t, f.Test([]byte("other")))
}

func TestFilter_Add_StopsGrowingAtMaxLayers(t *testing.T) {
	// Full small layers stand in for the huge ones real growth would make.
	f := &Filter{fpRate: 0.01, maxK: 4}
	for range maxLayers {
		f.layers = append(f.layers, layer{bf: bloom.New(1<<16, 4), capacity: 1, count: 1})
		f.count++
	}
	keys := makeKeys(members, 0, 3000)
	f.AddMany(keys)
	require.Equal(t, maxLayers, f.Layers())
	require.Equal(t, uint64(maxLayers+len(keys)), f.Count())
	requireAll(t, f, keys)
	_, err := Read(bytes.NewReader(encode(t, f, testMark)), testMark)
	require.NoError(t, err, "a filter at the layer limit stays readable")
}

func TestFilter_AddMany_SameAsAdd(t *testing.T) {
	keys := makeKeys(members, 0, 3*addBatch+7)
	one, many := New(0, 0), New(0, 0)
	for _, k := range keys {
		one.Add(k)
	}
	many.AddMany(keys)
	many.AddMany(nil)
	require.Equal(t, encode(t, one, testMark), encode(t, many, testMark))
}

// TestAndAddMany must answer each key as Test did just before the key was
// added, and leave the filter as AddMany would: across growth (New(0, 0)
// holds 1024 keys per first layer), across batches, and for repeats.
func TestFilter_TestAndAddMany_SameAsTestThenAdd(t *testing.T) {
	keys := makeKeys(members, 0, minCapacity)
	keys = append(keys, keys[0]) // a repeat that makes the filter grow
	keys = append(keys, makeKeys(members, minCapacity, 3*addBatch+7)...)
	later := len(keys)
	keys = append(keys, keys[5], keys[addBatch+1]) // repeats: present
	keys = append(keys, makeKeys(nonMembers, 0, 2000)...)
	one, many := New(0, 0), New(0, 0)
	var want []int
	for i, k := range keys {
		if one.Test(k) {
			want = append(want, i)
		}
		one.Add(k)
	}
	got := many.TestAndAddMany(keys, nil)
	require.Equal(t, want, got)
	require.Contains(t, got, minCapacity, "a repeat tests present as the filter grows")
	require.Contains(t, got, later, "a later repeat tests present")
	require.Contains(t, got, later+1, "a later repeat tests present")
	require.Greater(t, many.Layers(), 3, "the keys span several layers")
	require.Equal(t, encode(t, one, testMark), encode(t, many, testMark))
	requireAll(t, many, keys)
	require.Equal(t, []int{0, 1}, many.TestAndAddMany(keys[:2], nil), "keys added before test present")
}

func TestFilter_SizeBytes(t *testing.T) {
	f := New(1_000_000, 0.001)
	m, _ := layerParams(1_000_000, 0.001)
	require.Equal(t, m/8, f.SizeBytes())
	f.AddMany(makeKeys(members, 0, 1_000_001))
	m2, _ := layerParams(2_000_000, 0.0005)
	require.Equal(t, (m+m2)/8, f.SizeBytes())
}

func TestFilter_ConcurrentUse_NoFalseNegatives(t *testing.T) {
	f := New(1024, 0.001)
	old := makeKeys(members, 0, 2000)
	f.AddMany(old)
	fresh := makeKeys(extra, 0, 30_000)
	var added atomic.Int64 // fresh[:added] are in f
	done := make(chan struct{})

	var wg sync.WaitGroup
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := r; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				if !assert.True(t, f.Test(old[i%len(old)]), "old member %d", i%len(old)) {
					return
				}
				if n := int(added.Load()); n > 0 {
					j := (i * 7919) % n
					if !assert.True(t, f.Test(fresh[j]), "fresh member %d", j) {
						return
					}
				}
				if i%1000 == 0 {
					_ = f.Count() + f.Capacity() + f.SizeBytes() + uint64(f.Layers())
					_, err := f.WriteTo(discard{}, testMark)
					assert.NoError(t, err)
				}
			}
		}()
	}
	for i, k := range fresh {
		if i%2 == 0 {
			f.Add(k)
		} else {
			f.AddMany([][]byte{k})
		}
		added.Store(int64(i + 1))
	}
	close(done)
	wg.Wait()
	require.Greater(t, f.Layers(), 3, "the writer must have grown the filter")
	requireAll(t, f, old)
	requireAll(t, f, fresh)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func TestBuild(t *testing.T) {
	keys := makeKeys(members, 0, 5000)
	f, err := Build(uint64(len(keys)), 0.001, func(add func([]byte)) error {
		for _, k := range keys {
			add(k)
		}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, uint64(len(keys)), f.Count())
	require.Equal(t, 1, f.Layers())
	requireAll(t, f, keys)
}

func TestBuild_ReturnsIteratorError(t *testing.T) {
	errIter := errors.New("cursor failed")
	f, err := Build(0, 0, func(add func([]byte)) error {
		add([]byte("a"))
		return errIter
	})
	require.ErrorIs(t, err, errIter)
	require.Nil(t, f)
}

func TestFilter_Clone_IsIndependent(t *testing.T) {
	f := New(1024, 0)
	f.Add([]byte("kept"))
	c := f.Clone()
	f.Add([]byte("only-in-original"))
	c.Add([]byte("only-in-clone"))
	require.True(t, c.Test([]byte("kept")))
	require.True(t, c.Test([]byte("only-in-clone")))
	require.False(t, f.Test([]byte("only-in-clone")))
	require.Equal(t, uint64(2), c.Count())
	require.Equal(t, f.Layers(), c.Layers())
}
