// Package bloom keeps a concurrency-safe, growable, persistable Bloom filter
// over every promo code ever stored, so that guessed codes that were never
// issued can be rejected without a disk lookup.
//
// The filter may answer Test with a wrong "yes" but never with a wrong "no":
// a key that was added always tests true, across growth, Save/Load and
// concurrent use. It wraps github.com/bits-and-blooms/bloom/v3, whose filters
// are not safe for concurrent use on their own.
//
// The filter is a scalable Bloom filter (Almeida et al., 2007): a list of
// layers, each a plain Bloom filter. When an Add would overfill the newest
// layer, a layer with twice its capacity and half its false-positive rate is
// appended. The layers' rates sum to less than twice the target, so a grown
// filter's false-positive rate approaches, but in expectation stays under,
// twice the target; size the first layer for the expected number of keys.
package bloom

import (
	"fmt"
	"math"
	"sync"

	"github.com/bits-and-blooms/bloom/v3"
)

// DefaultFPRate is the target false-positive rate when none is given (0.1%).
const DefaultFPRate = 0.001

const (
	minCapacity = 1024
	// maxCapacity bounds a layer's capacity; a layer never needs more keys
	// than it has bits.
	maxCapacity = maxBits
	// maxBits bounds a layer's bit array (16 GiB) so that every filter this
	// package writes is one it accepts when reading.
	maxBits   = 1 << 37
	maxK      = 64
	maxLayers = 64
	// addBatch is how many keys AddMany adds per write-lock hold, so that a
	// huge batch does not stall concurrent Test calls for its whole length.
	addBatch = 8192
)

// Filter is a growable Bloom filter over byte-string keys.
//
// A Filter is safe for concurrent use by multiple goroutines: Test calls run
// in parallel with each other, Add and AddMany are serialised against all
// other calls. The zero value is not usable; create one with New, Build,
// Read or Load.
type Filter struct {
	mu     sync.RWMutex
	layers []layer // oldest first; keys are added to the last one
	fpRate float64
	count  uint64
	maxK   uint // largest k of any layer
}

type layer struct {
	bf       *bloom.BloomFilter
	capacity uint64
	count    uint64
}

// New returns an empty filter sized for capacity keys at a false-positive
// rate of fpRate. A capacity below 1024 is raised to 1024; an fpRate outside
// (0, 1) is replaced by DefaultFPRate. The filter grows when more than
// capacity keys are added. New returns no error and allocates the first
// layer's bit array (about 1.8 bytes per key at the default rate); the
// returned filter is safe for concurrent use.
func New(capacity uint64, fpRate float64) *Filter {
	if !(fpRate > 0 && fpRate < 1) {
		fpRate = DefaultFPRate
	}
	f := &Filter{fpRate: fpRate}
	f.appendLayer(min(max(capacity, minCapacity), maxCapacity))
	return f
}

// layerParams returns the bit count m and hash count k of a layer holding
// capacity keys at false-positive rate p, by the same formulas as
// bloom.EstimateParameters, but bounded so that the result stays readable.
func layerParams(capacity uint64, p float64) (m, k uint64) {
	n := float64(capacity)
	bits := math.Ceil(-n * math.Log(p) / (math.Ln2 * math.Ln2))
	hashes := math.Ceil(math.Ln2 * bits / n)
	if !(bits < maxBits) {
		bits = maxBits
	}
	m = max((uint64(bits)+63)/64*64, 64)
	k = uint64(max(1, min(hashes, maxK)))
	return m, k
}

// appendLayer adds an empty layer for capacity keys whose target rate is the
// filter's rate halved once per existing layer. The caller holds the write
// lock or owns f exclusively.
func (f *Filter) appendLayer(capacity uint64) {
	p := math.Ldexp(f.fpRate, -len(f.layers))
	m, k := layerParams(capacity, p)
	f.layers = append(f.layers, layer{bf: bloom.New(uint(m), uint(k)), capacity: capacity})
	f.maxK = max(f.maxK, uint(k))
}

// Clone returns an independent copy of f, taken under the read lock: later
// Adds to either filter do not show in the other. Clone is safe for
// concurrent use.
func (f *Filter) Clone() *Filter {
	f.mu.RLock()
	defer f.mu.RUnlock()
	c := &Filter{fpRate: f.fpRate, count: f.count, maxK: f.maxK, layers: make([]layer, len(f.layers))}
	for i, l := range f.layers {
		c.layers[i] = layer{bf: l.bf.Copy(), capacity: l.capacity, count: l.count}
	}
	return c
}

// Add records key so that Test(key) returns true from now on. Add does not
// retain key, returns no error and is safe for concurrent use; it takes the
// write lock.
func (f *Filter) Add(key []byte) {
	f.mu.Lock()
	f.add(key)
	f.mu.Unlock()
}

// AddMany records every key in keys, like calling Add for each, but takes the
// write lock once per 8192 keys rather than once per key. Concurrent Test
// calls may see a prefix of keys added before AddMany returns. AddMany does
// not retain keys, returns no error and is safe for concurrent use.
func (f *Filter) AddMany(keys [][]byte) {
	for len(keys) > 0 {
		n := min(len(keys), addBatch)
		f.mu.Lock()
		for _, key := range keys[:n] {
			f.add(key)
		}
		f.mu.Unlock()
		keys = keys[n:]
	}
}

// TestAndAddMany adds every key in keys, as AddMany does, and returns
// present with the index of each key that Test would have reported true
// just before it was added: one probably added earlier, or repeated
// within keys. It reads each key's bits once, where Test and then AddMany
// read them twice; with keys far apart in a large filter, each read is a
// cache miss. It is safe for concurrent use.
func (f *Filter) TestAndAddMany(keys [][]byte, present []int) []int {
	for base := 0; base < len(keys); base += addBatch {
		n := min(len(keys)-base, addBatch)
		f.mu.Lock()
		for i, key := range keys[base : base+n] {
			if f.testAndAdd(key) {
				present = append(present, base+i)
			}
		}
		f.mu.Unlock()
	}
	return present
}

// last returns the layer a key is added to, appending one first when the
// newest is full, and counts the key. The caller holds the write lock.
func (f *Filter) last() *layer {
	last := &f.layers[len(f.layers)-1]
	if last.count >= last.capacity && len(f.layers) < maxLayers {
		f.appendLayer(min(2*last.capacity, maxCapacity))
		last = &f.layers[len(f.layers)-1]
	}
	last.count++
	f.count++
	return last
}

// add is Add without locking.
func (f *Filter) add(key []byte) { f.last().bf.Add(key) }

// testAndAdd is test, then add, without locking.
func (f *Filter) testAndAdd(key []byte) bool {
	last := f.last() // after any growth, so that test sees every layer
	if len(f.layers) == 1 {
		return last.bf.TestAndAdd(key)
	}
	was := f.test(key)
	last.bf.Add(key)
	return was
}

// Test reports whether key may have been added: false means it certainly was
// not, true means it probably was. Test returns no error, does not allocate
// while the filter has one layer, and is safe for concurrent use; it takes
// the read lock.
func (f *Filter) Test(key []byte) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.test(key)
}

// test is Test without locking.
func (f *Filter) test(key []byte) bool {
	if len(f.layers) == 1 {
		return f.layers[0].bf.Test(key)
	}
	// Hash once for all layers. Location i does not depend on how many
	// locations are asked for, so the first k of them are exactly the ones
	// bloom.BloomFilter.Add set in a layer with k hash functions.
	locs := bloom.Locations(key, f.maxK)
	for i := len(f.layers) - 1; i >= 0; i-- {
		bf := f.layers[i].bf
		if bf.TestLocations(locs[:bf.K()]) {
			return true
		}
	}
	return false
}

// Count returns the number of keys added so far, counting repeats. It
// returns no error and is safe for concurrent use.
func (f *Filter) Count() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.count
}

// Capacity returns the sum of the layers' capacities: the number of keys the
// filter holds before it grows again. It returns no error and is safe for
// concurrent use.
func (f *Filter) Capacity() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var c uint64
	for _, l := range f.layers {
		c += l.capacity
	}
	return c
}

// Layers returns the number of layers, 1 until the filter first grows. It
// returns no error and is safe for concurrent use.
func (f *Filter) Layers() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.layers)
}

// SizeBytes returns the memory taken by the layers' bit arrays. It returns no
// error and is safe for concurrent use.
func (f *Filter) SizeBytes() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var n uint64
	for _, l := range f.layers {
		n += 8 * uint64(len(l.bf.BitSet().Words()))
	}
	return n
}

// FPRate returns the configured target false-positive rate, that of the
// first layer; a grown filter's rate approaches twice this value. It returns
// no error and is safe for concurrent use.
func (f *Filter) FPRate() float64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.fpRate
}

// Build returns a new filter, as made by New(capacity, fpRate), holding every
// key that each passes to add. The store passes an each that iterates its
// codes. add does not retain its key and is safe for concurrent use. If each
// returns an error, Build returns nil and that error wrapped.
func Build(capacity uint64, fpRate float64, each func(add func(key []byte)) error) (*Filter, error) {
	f := New(capacity, fpRate)
	if err := each(f.Add); err != nil {
		return nil, fmt.Errorf("bloom: build filter: %w", err)
	}
	return f, nil
}
