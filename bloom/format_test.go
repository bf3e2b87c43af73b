package bloom

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// smallFilter returns a one-layer filter holding keys.
func smallFilter(keys [][]byte) *Filter {
	f := New(0, 0)
	f.AddMany(keys)
	return f
}

// readAll reads data both with its size known and hidden.
func readAll(t *testing.T, data []byte, want Mark) (*Filter, error) {
	t.Helper()
	f, err := Read(bytes.NewReader(data), want)
	g, err2 := Read(hideLen{bytes.NewReader(data)}, want)
	require.Equal(t, err == nil, err2 == nil, "size known: %v; size hidden: %v", err, err2)
	if err == nil {
		require.Equal(t, encode(t, f, want), encode(t, g, want))
	}
	return f, err
}

func TestFilter_WriteTo_RoundTrip(t *testing.T) {
	keys := makeKeys(members, 0, 5000) // grows to 3 layers
	f := smallFilter(keys)
	require.Equal(t, 3, f.Layers())
	data := encode(t, f, testMark)
	require.Equal(t, int(headerSize+3*layerHeadSize+f.SizeBytes()+4), len(data))

	g, err := readAll(t, data, testMark)
	require.NoError(t, err)
	requireAll(t, g, keys)
	require.Equal(t, f.Count(), g.Count())
	require.Equal(t, f.Capacity(), g.Capacity())
	require.Equal(t, f.Layers(), g.Layers())
	require.Equal(t, f.SizeBytes(), g.SizeBytes())
	require.Equal(t, f.FPRate(), g.FPRate())
	require.Equal(t, data, encode(t, g, testMark))

	// A loaded filter keeps growing like the original.
	more := makeKeys(extra, 0, 3000)
	f.AddMany(more)
	g.AddMany(more)
	require.Equal(t, 4, g.Layers())
	require.Equal(t, encode(t, f, testMark), encode(t, g, testMark))
}

func TestRead_WrongMark_Stale(t *testing.T) {
	data := encode(t, smallFilter(makeKeys(members, 0, 10)), testMark)
	f, err := readAll(t, data, Mark{})
	require.ErrorIs(t, err, ErrStale)
	require.NotErrorIs(t, err, ErrCorrupt)
	require.Nil(t, f)
	require.Contains(t, err.Error(), "bloom: read filter: mark 0102")
}

func TestRead_EveryTruncation_Corrupt(t *testing.T) {
	data := encode(t, smallFilter(makeKeys(members, 0, 10)), testMark)
	for n := range len(data) {
		f, err := readAll(t, data[:n], testMark)
		require.ErrorIs(t, err, ErrCorrupt, "truncated to %d of %d bytes", n, len(data))
		require.Nil(t, f)
	}
}

func TestRead_TrailingBytes_Corrupt(t *testing.T) {
	data := encode(t, smallFilter(makeKeys(members, 0, 10)), testMark)
	_, err := readAll(t, append(bytes.Clone(data), 0), testMark)
	require.ErrorIs(t, err, ErrCorrupt)
	require.Contains(t, err.Error(), "trailing bytes")
}

func TestRead_AnyFlippedByte_Error(t *testing.T) {
	keys := makeKeys(members, 0, 10)
	data := encode(t, smallFilter(keys), testMark)
	for i := range data {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			bad := bytes.Clone(data)
			bad[i] ^= x
			f, err := readAll(t, bad, testMark)
			require.Error(t, err, "byte %d ^ %#x", i, x)
			require.True(t, errors.Is(err, ErrCorrupt) || errors.Is(err, ErrStale), "byte %d: %v", i, err)
			require.Nil(t, f)
		}
	}
}

// Header field offsets in a one-layer file.
const (
	offVersion = 8
	offRate    = 26
	offCount   = 34
	offLayers  = 42
	offM       = headerSize
	offK       = offM + 8
	offCap     = offK + 4
	offLCount  = offCap + 8
	offWords   = offLCount + 8
)

func TestRead_BadHeader_Corrupt(t *testing.T) {
	good := encode(t, smallFilter(makeKeys(members, 0, 10)), testMark)
	u16 := func(off int, v uint16) func([]byte) {
		return func(b []byte) { binary.LittleEndian.PutUint16(b[off:], v) }
	}
	u32 := func(off int, v uint32) func([]byte) {
		return func(b []byte) { binary.LittleEndian.PutUint32(b[off:], v) }
	}
	u64 := func(off int, v uint64) func([]byte) {
		return func(b []byte) { binary.LittleEndian.PutUint64(b[off:], v) }
	}
	for _, tc := range []struct {
		name  string
		patch func([]byte)
		msg   string
	}{
		{"magic", func(b []byte) { copy(b, "PROMOBLX") }, "bad magic"},
		{"version", u16(offVersion, 2), "unsupported format version 2"},
		{"zero rate", u64(offRate, 0), "false-positive rate 0"},
		{"rate one", u64(offRate, math.Float64bits(1)), "false-positive rate 1"},
		{"NaN rate", u64(offRate, math.Float64bits(math.NaN())), "false-positive rate NaN"},
		{"no layers", u32(offLayers, 0), "0 layers"},
		{"too many layers", u32(offLayers, 65), "65 layers"},
		{"zero m", u64(offM, 0), "0 bits"},
		{"huge m", u64(offM, 1<<37+1), "137438953473 bits"},
		{"zero k", u32(offK, 0), "k=0"},
		{"huge k", u32(offK, 65), "k=65"},
		{"zero capacity", u64(offCap, 0), "capacity 0"},
		{"huge capacity", u64(offCap, 1<<40), "capacity 1099511627776"},
		{"count mismatch", u64(offCount, 11), "add up to 10, header says 11"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := bytes.Clone(good)
			tc.patch(bad)
			_, err := readAll(t, withCRC(bad), testMark)
			require.ErrorIs(t, err, ErrCorrupt)
			require.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestRead_CountOverflow_Corrupt(t *testing.T) {
	good := encode(t, smallFilter(makeKeys(members, 0, 10)), testMark)
	layer := bytes.Clone(good[offM : len(good)-4])
	binary.LittleEndian.PutUint64(layer[offLCount-offM:], math.MaxUint64)
	bad := append(bytes.Clone(good[:offM]), layer...)
	bad = append(bad, layer...)
	bad = append(bad, 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(bad[offLayers:], 2)
	_, err := readAll(t, withCRC(bad), testMark)
	require.ErrorIs(t, err, ErrCorrupt)
	require.Contains(t, err.Error(), "layer counts overflow")
}

func TestRead_PaddingBits_Corrupt(t *testing.T) {
	good := encode(t, smallFilter(makeKeys(members, 0, 10)), testMark)
	m := binary.LittleEndian.Uint64(good[offM:])
	bad := bytes.Clone(good)
	binary.LittleEndian.PutUint64(bad[offM:], m-1) // the last bit becomes padding
	bad[len(bad)-5] |= 0x80
	_, err := readAll(t, withCRC(bad), testMark)
	require.ErrorIs(t, err, ErrCorrupt)
	require.Contains(t, err.Error(), "bits set beyond")
}

func TestRead_HugeClaimShortInput_NoBigAllocation(t *testing.T) {
	good := encode(t, smallFilter(nil), testMark)
	hostile := bytes.Clone(good[:offWords+1024])
	binary.LittleEndian.PutUint64(hostile[offM:], maxBits)
	for _, name := range []string{"size known", "size hidden"} {
		t.Run(name, func(t *testing.T) {
			var r io.Reader = bytes.NewReader(hostile)
			if name == "size hidden" {
				r = hideLen{bytes.NewReader(hostile)}
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Read(r, testMark)
			runtime.ReadMemStats(&after)
			require.ErrorIs(t, err, ErrCorrupt)
			require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "bytes allocated")
		})
	}
}

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

func TestRead_ReaderError_Returned(t *testing.T) {
	errDisk := errors.New("disk on fire")
	_, err := Read(io.MultiReader(strings.NewReader(magic), failingReader{errDisk}), testMark)
	require.ErrorIs(t, err, errDisk)
	require.NotErrorIs(t, err, ErrCorrupt)
}

type failingWriter struct{ left int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		n := w.left
		w.left = 0
		return n, errors.New("no space left")
	}
	w.left -= len(p)
	return len(p), nil
}

func TestFilter_WriteTo_WriterError(t *testing.T) {
	f := New(100_000, 0.001)
	n, err := f.WriteTo(&failingWriter{left: 50_000}, testMark)
	require.ErrorContains(t, err, "bloom: write filter: no space left")
	require.Equal(t, int64(50_000), n)
}
