package store

import (
	"hash/maphash"
	"unsafe"
)

// importSet collects the distinct codes of an import file compactly: the
// keys and displays live back to back in large byte blocks (no allocation
// per code), and repeats are found through an open-addressing table of
// indexes into lines (4 bytes a slot) rather than a map of strings. A
// million codes take about 48 bytes each for lines plus their text.
type importSet struct {
	lines []importLine
	block []byte   // the current block; full blocks stay alive through lines
	table []uint32 // index+1 into lines; 0 is empty
	seed  maphash.Seed
}

const importBlock = 1 << 20

// lookup returns the line of the code whose key is key, if there is one.
func (s *importSet) lookup(key string) (int, bool) {
	if s.table == nil {
		return 0, false
	}
	if i := s.table[s.find(key)]; i != 0 {
		return s.lines[i-1].line, true
	}
	return 0, false
}

// add records a code whose key is not there yet.
func (s *importSet) add(line int, key, display string) {
	if s.table == nil {
		s.seed = maphash.MakeSeed()
		s.table = make([]uint32, 1024)
	}
	slot := s.find(key)
	k := s.store(key)
	d := unsafe.String(unsafe.SliceData(k), len(k))
	if display != key {
		b := s.store(display)
		d = unsafe.String(unsafe.SliceData(b), len(b))
	}
	s.lines = append(s.lines, importLine{line: line, display: d, key: k})
	s.table[slot] = uint32(len(s.lines))
	if 2*len(s.lines) >= len(s.table) {
		s.grow()
	}
}

// find returns the slot holding key, or the empty slot where it belongs.
func (s *importSet) find(key string) int {
	mask := len(s.table) - 1
	for slot := int(maphash.String(s.seed, key)) & mask; ; slot = (slot + 1) & mask {
		i := s.table[slot]
		if i == 0 || string(s.lines[i-1].key) == key {
			return slot
		}
	}
}

func (s *importSet) grow() {
	old := s.table
	s.table = make([]uint32, 2*len(old))
	mask := len(s.table) - 1
	for _, i := range old {
		if i == 0 {
			continue
		}
		slot := int(maphash.Bytes(s.seed, s.lines[i-1].key)) & mask
		for s.table[slot] != 0 {
			slot = (slot + 1) & mask
		}
		s.table[slot] = i
	}
}

// store copies text into the current block and returns the copy. The
// bytes are never written again, which is what makes the strings over
// them (unsafe.String in add) sound.
func (s *importSet) store(text string) []byte {
	if len(s.block)+len(text) > cap(s.block) {
		s.block = make([]byte, 0, max(importBlock, len(text)))
	}
	n := len(s.block)
	s.block = append(s.block, text...)
	return s.block[n:len(s.block):len(s.block)]
}

// done returns the codes, in file order, and lets go of the table.
func (s *importSet) done() []importLine {
	s.table, s.block = nil, nil
	return s.lines
}
