package bloom

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/bits"
	"strings"

	"github.com/bits-and-blooms/bloom/v3"
)

// The serialised filter, format version 1. Integers are little-endian.
//
//	size      field
//	8         magic "PROMOBLF"
//	2         format version, 1
//	16        mark
//	8         target false-positive rate, IEEE 754 float64 bits, in (0, 1)
//	8         total count of Add calls, the sum of the layer counts
//	4         number of layers L, 1..64
//	L times:
//	  8       m, bits in the layer, 1..2^37
//	  4       k, hash locations per key, 1..64
//	  8       capacity, 1..2^37
//	  8       count of Add calls that went into this layer
//	  8×⌈m/64⌉ bit words; bit i is bit i%64 of word i/64; bits from m up are 0
//	4         CRC-32C (Castagnoli) of every byte before it
//
// Nothing may follow the checksum. Bit positions are those of
// bloom/v3's BloomFilter.Add (murmur3 base hashes, location i mod m), so a
// change of that library's hashing needs a new format version; the golden
// file test catches one.
const (
	magic         = "PROMOBLF"
	formatVersion = 1
	headerSize    = 8 + 2 + 16 + 8 + 8 + 4
	layerHeadSize = 8 + 4 + 8 + 8
	// chunkWords is how many bit words are read or written at a time.
	chunkWords = 4096
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Mark ties a saved filter to one database state; the caller (store) chooses
// it, typically as random bytes, and stores it next to the data. A Mark is a
// plain value, safe to copy and compare from any goroutine.
type Mark [16]byte

// ErrCorrupt is wrapped by errors from Read and Load when the input is not a
// filter, is truncated, has a bad checksum or trailing bytes, or has header
// values out of range.
var ErrCorrupt = errors.New("filter data is corrupt")

// ErrStale is wrapped by errors from Read and Load when the input is a valid
// filter whose mark is not the wanted one.
var ErrStale = errors.New("filter is stale")

func corruptf(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, ErrCorrupt)...)
}

// snapshot is a consistent copy of a filter's state for encoding.
type snapshot struct {
	fpRate float64
	count  uint64
	layers []layerSnapshot
}

type layerSnapshot struct {
	m, k, capacity, count uint64
	words                 []uint64
}

// snapshot copies f's state under the read lock.
func (f *Filter) snapshot() snapshot {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s := snapshot{fpRate: f.fpRate, count: f.count, layers: make([]layerSnapshot, len(f.layers))}
	for i, l := range f.layers {
		s.layers[i] = layerSnapshot{
			m:        uint64(l.bf.Cap()),
			k:        uint64(l.bf.K()),
			capacity: l.capacity,
			count:    l.count,
			words:    append([]uint64(nil), l.bf.BitSet().Words()...),
		}
	}
	return s
}

// WriteTo writes the filter and mark to w in the format described in the
// package source, returning the number of bytes written and the first write
// error. It copies the bit arrays under the read lock and writes the copy
// without holding it, so it needs SizeBytes of transient memory and blocks
// Add only for the copy. WriteTo is safe for concurrent use.
func (f *Filter) WriteTo(w io.Writer, mark Mark) (int64, error) {
	s := f.snapshot()
	size := headerSize + 4
	for _, l := range s.layers {
		size += layerHeadSize + 8*len(l.words)
	}
	e := encoder{w: w, buf: make([]byte, 0, min(size, 8*chunkWords))}
	e.bytes([]byte(magic))
	e.buf = binary.LittleEndian.AppendUint16(e.buf, formatVersion)
	e.bytes(mark[:])
	e.buf = binary.LittleEndian.AppendUint64(e.buf, math.Float64bits(s.fpRate))
	e.buf = binary.LittleEndian.AppendUint64(e.buf, s.count)
	e.buf = binary.LittleEndian.AppendUint32(e.buf, uint32(len(s.layers)))
	for _, l := range s.layers {
		e.buf = binary.LittleEndian.AppendUint64(e.buf, l.m)
		e.buf = binary.LittleEndian.AppendUint32(e.buf, uint32(l.k))
		e.buf = binary.LittleEndian.AppendUint64(e.buf, l.capacity)
		e.buf = binary.LittleEndian.AppendUint64(e.buf, l.count)
		for _, word := range l.words {
			if len(e.buf)+8 > cap(e.buf) {
				e.flush()
			}
			e.buf = binary.LittleEndian.AppendUint64(e.buf, word)
		}
	}
	e.flush()
	e.buf = binary.LittleEndian.AppendUint32(e.buf, e.crc)
	e.flush()
	if e.err != nil {
		return e.n, fmt.Errorf("bloom: write filter: %w", e.err)
	}
	return e.n, nil
}

// encoder buffers output and checksums it as it is flushed.
type encoder struct {
	w   io.Writer
	buf []byte
	crc uint32
	n   int64
	err error
}

func (e *encoder) bytes(p []byte) { e.buf = append(e.buf, p...) }

func (e *encoder) flush() {
	if e.err == nil && len(e.buf) > 0 {
		var n int
		n, e.err = e.w.Write(e.buf)
		e.n += int64(n)
		e.crc = crc32.Update(e.crc, castagnoli, e.buf)
	}
	e.buf = e.buf[:0]
}

// Read reads one filter written by WriteTo from r, which must hold nothing
// after it. Errors wrap ErrCorrupt if the input is truncated, is not a
// filter, has out-of-range header values, a bad checksum or trailing bytes;
// they wrap ErrStale if the filter is valid but its mark is not want; other
// errors come from r. Read never panics, and allocates in proportion to the
// bytes actually read, however large the sizes the header claims. Read is
// safe for concurrent use with distinct readers.
func Read(r io.Reader, want Mark) (*Filter, error) {
	limit := int64(-1)
	switch r := r.(type) {
	case *bytes.Reader:
		limit = int64(r.Len())
	case *bytes.Buffer:
		limit = int64(r.Len())
	case *strings.Reader:
		limit = int64(r.Len())
	}
	f, err := decode(r, want, limit)
	if err != nil {
		return nil, fmt.Errorf("bloom: read filter: %w", err)
	}
	return f, nil
}

// decoder reads and checksums input. limit is the number of bytes the input
// holds, or -1 if that is unknown.
type decoder struct {
	r     io.Reader
	crc   uint32
	n     int64
	limit int64
	head  [headerSize]byte
	chunk []byte
}

// read fills p from the input.
func (d *decoder) read(p []byte) error {
	if _, err := io.ReadFull(d.r, p); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return corruptf("truncated after %d bytes", d.n)
		}
		return err
	}
	d.crc = crc32.Update(d.crc, castagnoli, p)
	d.n += int64(len(p))
	return nil
}

// need fails early if the input is known to be shorter than n more bytes.
func (d *decoder) need(n uint64, what string) error {
	if d.limit >= 0 && uint64(d.limit-d.n) < n {
		return corruptf("truncated: %s needs %d bytes but only %d remain", what, n, d.limit-d.n)
	}
	return nil
}

// words reads n bit words. Unless the input length is known, the slice grows
// only as data arrives, so a header claiming a huge m cannot make it
// allocate much more than the input holds.
func (d *decoder) words(n uint64, what string) ([]uint64, error) {
	if err := d.need(8*n+4, what); err != nil {
		return nil, err
	}
	size := n
	if d.limit < 0 {
		size = min(n, chunkWords)
	}
	words := make([]uint64, 0, size)
	for uint64(len(words)) < n {
		c := min(n-uint64(len(words)), chunkWords)
		if len(d.chunk) < int(8*c) {
			d.chunk = make([]byte, 8*c)
		}
		p := d.chunk[:8*c]
		if err := d.read(p); err != nil {
			return nil, err
		}
		if uint64(cap(words)-len(words)) < c {
			grown := make([]uint64, len(words), min(n, 2*uint64(cap(words))))
			copy(grown, words)
			words = grown
		}
		for i := range c {
			words = append(words, binary.LittleEndian.Uint64(p[8*i:]))
		}
	}
	return words, nil
}

// decode reads one filter; its errors carry no "bloom:" prefix.
func decode(r io.Reader, want Mark, limit int64) (*Filter, error) {
	d := decoder{r: r, limit: limit}
	h := d.head[:]
	if err := d.read(h); err != nil {
		return nil, err
	}
	if string(h[:8]) != magic {
		return nil, corruptf("bad magic %q: not a filter", h[:8])
	}
	if v := binary.LittleEndian.Uint16(h[8:]); v != formatVersion {
		return nil, corruptf("unsupported format version %d", v)
	}
	var mark Mark
	copy(mark[:], h[10:26])
	fpRate := math.Float64frombits(binary.LittleEndian.Uint64(h[26:]))
	count := binary.LittleEndian.Uint64(h[34:])
	nlayers := binary.LittleEndian.Uint32(h[42:])
	if !(fpRate > 0 && fpRate < 1) {
		return nil, corruptf("false-positive rate %g outside (0, 1)", fpRate)
	}
	if nlayers < 1 || nlayers > maxLayers {
		return nil, corruptf("%d layers, want 1..%d", nlayers, maxLayers)
	}

	f := &Filter{fpRate: fpRate, count: count}
	var sum uint64
	for i := range int(nlayers) {
		lh := d.head[:layerHeadSize]
		if err := d.read(lh); err != nil {
			return nil, err
		}
		m := binary.LittleEndian.Uint64(lh)
		k := uint64(binary.LittleEndian.Uint32(lh[8:]))
		capacity := binary.LittleEndian.Uint64(lh[12:])
		lcount := binary.LittleEndian.Uint64(lh[20:])
		switch {
		case m < 1 || m > maxBits:
			return nil, corruptf("layer %d has %d bits, want 1..%d", i, m, uint64(maxBits))
		case k < 1 || k > maxK:
			return nil, corruptf("layer %d has k=%d, want 1..%d", i, k, maxK)
		case uint64(uint(m)) != m:
			return nil, corruptf("layer %d has %d bits, too many for this platform", i, m)
		case capacity < 1 || capacity > maxCapacity:
			return nil, corruptf("layer %d has capacity %d, want 1..%d", i, capacity, uint64(maxCapacity))
		}
		var carry uint64
		if sum, carry = bits.Add64(sum, lcount, 0); carry != 0 {
			return nil, corruptf("layer counts overflow")
		}
		words, err := d.words((m+63)/64, fmt.Sprintf("layer %d with checksum", i))
		if err != nil {
			return nil, err
		}
		if tail := m % 64; tail != 0 && words[len(words)-1]>>tail != 0 {
			return nil, corruptf("layer %d has bits set beyond its %d bits", i, m)
		}
		f.layers = append(f.layers, layer{
			bf:       bloom.FromWithM(words, uint(m), uint(k)),
			capacity: capacity,
			count:    lcount,
		})
		f.maxK = max(f.maxK, uint(k))
	}
	if sum != count {
		return nil, corruptf("layer counts add up to %d, header says %d", sum, count)
	}

	got := d.crc
	var trailer [4]byte
	if err := d.read(trailer[:]); err != nil {
		return nil, err
	}
	if stored := binary.LittleEndian.Uint32(trailer[:]); stored != got {
		return nil, corruptf("bad checksum %08x, computed %08x", stored, got)
	}
	if _, err := io.ReadFull(d.r, trailer[:1]); err == nil {
		return nil, corruptf("trailing bytes after checksum at offset %d", d.n)
	} else if !errors.Is(err, io.EOF) {
		return nil, err
	}
	if mark != want {
		return nil, fmt.Errorf("mark %x, want %x: %w", mark, want, ErrStale)
	}
	return f, nil
}
