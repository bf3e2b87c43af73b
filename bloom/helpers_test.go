package bloom

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/stretchr/testify/require"
)

// Key sets, so that members and non-members never collide.
const (
	members    = 0
	nonMembers = 1
	extra      = 2
)

// mix is the SplitMix64 finaliser, a bijection on uint64.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// makeKeys returns n distinct random-looking 12-byte keys, numbered from
// first, of the given set; keys of different sets or numbers differ.
func makeKeys(set uint32, first, n int) [][]byte {
	buf := make([]byte, 12*n)
	keys := make([][]byte, n)
	for i := range keys {
		k := buf[12*i : 12*i+12 : 12*i+12]
		binary.LittleEndian.PutUint64(k, mix(uint64(first+i)))
		binary.LittleEndian.PutUint32(k[8:], set)
		keys[i] = k
	}
	return keys
}

// requireAll fails unless f tests true for every key.
func requireAll(t testing.TB, f *Filter, keys [][]byte) {
	t.Helper()
	missing := 0
	for _, k := range keys {
		if !f.Test(k) {
			missing++
		}
	}
	require.Zero(t, missing, "false negatives out of %d members", len(keys))
}

// fpRate returns the fraction of keys that f tests true.
func fpRate(f *Filter, keys [][]byte) float64 {
	fp := 0
	for _, k := range keys {
		if f.Test(k) {
			fp++
		}
	}
	return float64(fp) / float64(len(keys))
}

// encode returns f written with mark.
func encode(t testing.TB, f *Filter, mark Mark) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := f.WriteTo(&buf, mark)
	require.NoError(t, err)
	require.Equal(t, int64(buf.Len()), n)
	return buf.Bytes()
}

// withCRC returns a copy of data whose trailing 4 bytes are the correct
// checksum of the rest, so tests can reach the checks behind the checksum.
func withCRC(data []byte) []byte {
	out := bytes.Clone(data)
	body := out[:len(out)-4]
	binary.LittleEndian.PutUint32(out[len(out)-4:], crc32.Checksum(body, castagnoli))
	return out
}

// hideLen hides the Len method of readers such as *bytes.Reader, so that
// Read cannot know the input size in advance.
type hideLen struct{ r *bytes.Reader }

func (h hideLen) Read(p []byte) (int, error) { return h.r.Read(p) }

var testMark = Mark{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
