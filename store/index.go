package store

import (
	"encoding/binary"
	"errors"

	"promo/store/kv"
)

// A campaign's codes in creation order are kept in index pages: the key is
// the campaign number and the position of the page's first code, the value
// the codes' keys, each prefixed by its length. One Put per page instead of
// one per code makes bulk generation about twice as fast and the index
// about a third the size of a key-per-code index.
const indexPageSize = 1024

func indexKey(num uint32, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(u32(num), seq)
}

// appendIndex records keys as the campaign's codes from position seq on.
func appendIndex(tx *wtx, num uint32, seq uint64, keys [][]byte) error {
	for len(keys) > 0 {
		n := min(len(keys), indexPageSize)
		size := 0
		for _, k := range keys[:n] {
			size += 1 + len(k)
		}
		page := make([]byte, 0, size)
		for _, k := range keys[:n] {
			page = append(append(page, byte(len(k))), k...)
		}
		tx.Put(bucketCampCodes, indexKey(num, seq), page)
		keys, seq = keys[n:], seq+uint64(n)
	}
	return nil
}

// walkIndex calls fn with the position and key of each of the campaign's
// codes from position from on, in creation order, until fn returns false.
// key is only valid during the call.
func walkIndex(tx kv.Tx, num uint32, from uint64, fn func(seq uint64, key []byte) (bool, error)) error {
	pfx := u32(num)
	// from may lie inside the page before: start at the last page that
	// begins at or before it.
	start := indexKey(num, from)
	tx.Scan(bucketCampCodes, kv.Range{Start: pfx, End: indexKey(num, from+1), Reverse: true}, func(k, _ []byte) bool {
		start = append([]byte(nil), k...)
		return false
	})
	var err error
	tx.Scan(bucketCampCodes, kv.Range{Start: start, End: kv.PrefixEnd(pfx)}, func(k, v []byte) bool {
		seq := binary.BigEndian.Uint64(k[4:])
		for len(v) > 0 {
			n := int(v[0])
			if 1+n > len(v) {
				err = errors.New("corrupt index page")
				return false
			}
			if seq >= from {
				more, ferr := fn(seq, v[1:1+n])
				if ferr != nil || !more {
					err = ferr
					return false
				}
			}
			v, seq = v[1+n:], seq+1
		}
		return true
	})
	return err
}
