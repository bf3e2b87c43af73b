package bloom

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bits-and-blooms/bloom/v3"
	"github.com/stretchr/testify/require"
)

var updateCorpus = flag.Bool("update", false, "rewrite the FuzzRead seed corpus in testdata")

// fuzzMark is the mark FuzzRead wants; the valid seed files carry it.
var fuzzMark = Mark{'p', 'r', 'o', 'm', 'o', '-', 'f', 'u', 'z', 'z', '-', 'm', 'a', 'r', 'k', '!'}

const corpusDir = "testdata/fuzz/FuzzRead"

// goldenKeys are in the valid seed filters, so the seeds double as golden
// files: if bloom/v3 ever changes its hashing, TestFuzzCorpus_Golden fails.
func goldenKeys() [][]byte {
	keys := make([][]byte, 12)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "GOLD-%04d", i)
	}
	return keys
}

// tinyFilter returns a filter with hand-made 256-bit layers holding the
// golden keys, spread over the layers. New never makes layers this small,
// but Read accepts them, and they keep the seeds short: the fuzzer's
// minimiser takes time quadratic in the input length.
func tinyFilter(layers int) *Filter {
	f := &Filter{fpRate: 0.01}
	for i := range layers {
		f.layers = append(f.layers, layer{bf: bloom.New(256, uint(4+i)), capacity: 16 << i})
		f.maxK = uint(4 + i)
	}
	for i, k := range goldenKeys() {
		l := &f.layers[i%layers]
		l.bf.Add(k)
		l.count++
		f.count++
	}
	return f
}

// seeds returns the seed corpus by file name.
func seeds(t testing.TB) map[string][]byte {
	valid := encode(t, tinyFilter(1), fuzzMark)
	hugeM := bytes.Clone(valid[:offWords+8])
	binary.LittleEndian.PutUint64(hugeM[offM:], maxBits)
	return map[string][]byte{
		"valid_one_layer":   valid,
		"valid_two_layers":  encode(t, tinyFilter(2), fuzzMark),
		"stale":             encode(t, tinyFilter(1), testMark),
		"huge_m_short":      withCRC(hugeM),
		"truncated_header":  valid[:30],
		"magic_only":        []byte(magic),
		"empty":             {},
		"not_a_filter_text": []byte("this is not a bloom filter\n"),
	}
}

func corpusFile(data []byte) []byte {
	return fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", data)
}

func parseCorpusFile(t testing.TB, text []byte) []byte {
	s, ok := strings.CutPrefix(string(text), "go test fuzz v1\n[]byte(")
	require.True(t, ok, "corpus file header")
	s, ok = strings.CutSuffix(s, ")\n")
	require.True(t, ok, "corpus file trailer")
	data, err := strconv.Unquote(s)
	require.NoError(t, err)
	return []byte(data)
}

// TestFuzzCorpus_Golden checks that the checked-in seeds are current and
// that the golden filter, written by an earlier build, still holds its keys.
// Run with -update to rewrite the seeds after a deliberate format change.
func TestFuzzCorpus_Golden(t *testing.T) {
	if *updateCorpus {
		require.NoError(t, os.MkdirAll(corpusDir, 0o755))
		for name, data := range seeds(t) {
			require.NoError(t, os.WriteFile(filepath.Join(corpusDir, name), corpusFile(data), 0o644))
		}
	}
	for name, want := range seeds(t) {
		text, err := os.ReadFile(filepath.Join(corpusDir, name))
		require.NoError(t, err, "run go test -run TestFuzzCorpus_Golden -update ./bloom")
		require.Equal(t, want, parseCorpusFile(t, text), "seed %s is out of date", name)
	}

	for name, layers := range map[string]int{"valid_one_layer": 1, "valid_two_layers": 2} {
		text, err := os.ReadFile(filepath.Join(corpusDir, name))
		require.NoError(t, err)
		f, err := Read(bytes.NewReader(parseCorpusFile(t, text)), fuzzMark)
		require.NoError(t, err, name)
		require.Equal(t, layers, f.Layers())
		requireAll(t, f, goldenKeys())
		require.Equal(t, uint64(len(goldenKeys())), f.Count())
		require.Less(t, fpRate(f, makeKeys(nonMembers, 0, 1000)), 0.05, "%s is not mostly ones", name)
	}
}

func FuzzRead(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		checkRead(t, data)
		if len(data) >= 4 {
			// Most mutations break the checksum; also try the checks
			// behind it.
			checkRead(t, withCRC(data))
		}
	})
}

// checkRead reads data with its size known and hidden, and checks that both
// agree and that anything accepted re-encodes to exactly data.
func checkRead(t *testing.T, data []byte) {
	f, err := Read(bytes.NewReader(data), fuzzMark)
	g, err2 := Read(hideLen{bytes.NewReader(data)}, fuzzMark)
	if err != nil || err2 != nil {
		require.Error(t, err, "size hidden failed but size known did not: %v", err2)
		require.Error(t, err2, "size known failed but size hidden did not: %v", err)
		require.True(t, errors.Is(err, ErrCorrupt) || errors.Is(err, ErrStale), "unexpected error %v", err)
		require.Nil(t, f)
		return
	}
	out := encode(t, f, fuzzMark)
	require.Equal(t, data, out, "a filter read must write back byte for byte")
	require.Equal(t, out, encode(t, g, fuzzMark))
	again, err := Read(bytes.NewReader(out), fuzzMark)
	require.NoError(t, err)
	require.Equal(t, out, encode(t, again, fuzzMark))
	require.Equal(t, f.Count(), again.Count())
	require.Equal(t, f.Capacity(), again.Capacity())
	require.Equal(t, f.Layers(), again.Layers())
}
