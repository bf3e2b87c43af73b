// The log record of one Update: its writes, encoded in key order.

package walkv

import (
	"encoding/binary"
	"errors"

	"promo/store/kv"
)

// A log record is the writes of one Update, in key order:
//
//	op byte (1 put, 2 delete) | bucket | key | value (puts only)
//
// each of bucket, key and value a uvarint length and the bytes.
const (
	opPut = 1
	opDel = 2
)

func encode(t *tree, size int64) []byte {
	b := make([]byte, 0, size)
	t.Ascend(func(it item) bool {
		op := byte(opPut)
		if it.del {
			op = opDel
		}
		b = append(b, op)
		b = binary.AppendUvarint(b, uint64(len(it.b)))
		b = append(b, it.b...)
		b = binary.AppendUvarint(b, uint64(len(it.k)))
		b = append(b, it.k...)
		if !it.del {
			b = binary.AppendUvarint(b, uint64(len(it.v)))
			b = append(b, it.v...)
		}
		return true
	})
	return b
}

var errBadRecord = errors.New("a log record does not decode")

func decode(b []byte, fn func(item)) error {
	field := func() ([]byte, bool) {
		n, w := binary.Uvarint(b)
		if w <= 0 || n > uint64(len(b)-w) {
			return nil, false
		}
		f := b[w : w+int(n)]
		b = b[w+int(n):]
		return f, true
	}
	for len(b) > 0 {
		op := b[0]
		b = b[1:]
		bucket, ok1 := field()
		key, ok2 := field()
		if !ok1 || !ok2 || (op != opPut && op != opDel) {
			return errBadRecord
		}
		it := item{b: kv.Bucket(bucket), k: string(key), del: op == opDel}
		if !it.del {
			v, ok := field()
			if !ok {
				return errBadRecord
			}
			it.v = append(make([]byte, 0, len(v)), v...)
		}
		fn(it)
	}
	return nil
}
