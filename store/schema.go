// The file's schema: how an empty store is recognised, and the migrations
// an older file gets on its first writable open.

package store

import (
	"encoding/binary"

	"promo/store/kv"
)

// isEmpty reports whether tx holds no key of any promo bucket.
func isEmpty(tx kv.Tx) bool {
	empty := true
	for _, b := range allBuckets {
		tx.Scan(b, kv.All, func(_, _ []byte) bool {
			empty = false
			return false
		})
	}
	return empty
}

// migrateSequences turns a schema-1 file's sequences (bbolt's bucket
// sequences) into meta keys. Ids were never deleted and a rolled-back
// transaction took its numbers with it, so each sequence is the bucket's
// last key.
func migrateSequences(tx kv.RwTx) {
	for name, b := range map[string]kv.Bucket{seqCampaigns: bucketCampNums, seqRedemptions: bucketRedemptions,
		seqBatches: bucketBatches, seqEvents: bucketEvents} {
		tx.Put(bucketMeta, seqKeyName(name), binary.BigEndian.AppendUint64(nil, lastID(tx, b)))
	}
}

// lastID returns the number of the last key of a bucket keyed by ids of 4
// or 8 bytes (0 when it is empty).
func lastID(tx kv.Tx, b kv.Bucket) uint64 {
	var last uint64
	tx.Scan(b, kv.Range{Reverse: true}, func(k, _ []byte) bool {
		if len(k) == 4 {
			last = uint64(binary.BigEndian.Uint32(k))
		} else if len(k) == 8 {
			last = binary.BigEndian.Uint64(k)
		}
		return false
	})
	return last
}

// countUsedAssigned sets each campaign's assigned_used counter from its
// codes, once, for a file written before promo kept that counter.
func countUsedAssigned(tx kv.RwTx) error {
	used := map[uint32]int64{}
	var err error
	tx.Scan(bucketCodes, kv.All, func(_, v []byte) bool {
		r, derr := decodeCodeRec(v)
		if derr != nil {
			err = derr
			return false
		}
		if r.customer != "" && r.redemptions > 0 {
			used[r.camp]++
		}
		return true
	})
	if err != nil {
		return err
	}
	for num, n := range used {
		key := counterKey(num, dimTotal, nil)
		vec := decodeVec(tx.Get(bucketCounters, key), nCounters)
		vec[cUsedAssigned] += n - readCounter(tx, key, nCounters)[cUsedAssigned] // shards keep theirs
		tx.Put(bucketCounters, key, encodeVec(vec))
	}
	return nil
}

func seqKeyName(name string) []byte { return []byte("seq/" + name) }

// readSeq returns the last number the sequence handed out (0 when none).
func readSeq(tx kv.Tx, name string) uint64 {
	if v := tx.Get(bucketMeta, seqKeyName(name)); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}
