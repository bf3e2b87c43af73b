package wal

import (
	"encoding/binary"
	"hash/crc32"
)

// A record on disk is a 16-byte header, the payload, and zero padding to
// the next multiple of 8 bytes:
//
//	crc32c  uint32  over the rest of the header and the payload
//	length  uint32  of the payload
//	lsn     uint64  the record's log sequence number
//
// LSNs start at 1 and grow by one per record, across segments and across
// the life of the log, so a record left from a segment's earlier use (a
// recycled segment) can never pass for a current one: its LSN is too low.
const (
	headerSize = 16
	align      = 8
	// MaxRecord bounds a payload. A record larger than a segment gets a
	// segment of its own.
	MaxRecord = 1 << 30
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type header struct {
	crc    uint32
	length uint32
	lsn    uint64
}

func parseHeader(b []byte) header {
	return header{
		crc:    binary.LittleEndian.Uint32(b[0:]),
		length: binary.LittleEndian.Uint32(b[4:]),
		lsn:    binary.LittleEndian.Uint64(b[8:]),
	}
}

func (h header) zero() bool { return h.crc == 0 && h.length == 0 && h.lsn == 0 }

// frameSize is the bytes a record of n payload bytes takes.
func frameSize(n int) int64 { return int64(headerSize+n+align-1) &^ (align - 1) }

// appendFrame appends the record's frame to b.
func appendFrame(b []byte, lsn uint64, payload []byte) []byte {
	start := len(b)
	b = append(b, make([]byte, headerSize)...)
	binary.LittleEndian.PutUint32(b[start+4:], uint32(len(payload)))
	binary.LittleEndian.PutUint64(b[start+8:], lsn)
	b = append(b, payload...)
	crc := crc32.Update(0, castagnoli, b[start+4:start+headerSize])
	crc = crc32.Update(crc, castagnoli, payload)
	binary.LittleEndian.PutUint32(b[start:], crc)
	for (len(b)-start)%align != 0 {
		b = append(b, 0)
	}
	return b
}

// valid reports whether payload matches the header's checksum.
func (h header) valid(raw []byte, payload []byte) bool {
	crc := crc32.Update(0, castagnoli, raw[4:headerSize])
	return crc32.Update(crc, castagnoli, payload) == h.crc
}
