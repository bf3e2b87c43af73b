// Copying a file's whole store into an etcd prefix (promo migrate --to-etcd).

package store

import (
	"bytes"
	"context"

	"promo/store/kv"
	"promo/store/kv/etcdkv"
)

// MigrateResult is what MigrateToEtcd copied.
type MigrateResult struct {
	Keys         int64 `json:"keys"`
	Bytes        int64 `json:"bytes"`
	Transactions int64 `json:"transactions"`
}

// MigrateToEtcd copies the store's whole state, as one read transaction
// sees it, into the cluster under eo.Prefix, which must hold nothing (it
// refuses with conflict otherwise). The copy is streamed in transactions
// within the cluster's limits; the schema key is written last, so a copy
// cut short leaves a prefix that promo refuses to open ("holds data but no
// schema"): delete that prefix (etcdctl del --prefix P) and migrate again.
// Writes made to the store during the copy are not in it: stop the
// servers first.
func (s *Store) MigrateToEtcd(ctx context.Context, eo EtcdOptions) (MigrateResult, error) {
	var res MigrateResult
	if eo.Prefix == "" {
		eo.Prefix = etcdkv.DefaultPrefix
	}
	dst, err := etcdkv.Open(ctx, eo)
	if err != nil {
		return res, classify(err, "connect to etcd")
	}
	defer dst.Close()
	empty := true
	if err := dst.View(func(tx kv.Tx) error {
		empty = isEmpty(tx)
		if tx.Get(bucketMeta, metaSchema) != nil {
			empty = false
		}
		return nil
	}); err != nil {
		return res, classify(err, "read the etcd prefix")
	}
	if !empty {
		return res, Errorf(EConflict, "the etcd prefix %s already holds data: migrate into an empty prefix (another --etcd-prefix), or delete this one first (etcdctl del --prefix %s) if it is a copy cut short", eo.Prefix, eo.Prefix)
	}
	lim := dst.Limits()
	maxBytes := lim.MaxBytes - 64<<10 - 32*lim.MaxOps - lim.MaxOps*len(eo.Prefix)
	type pair struct {
		b    kv.Bucket
		k, v []byte
	}
	var chunk []pair
	size := 0
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		err := dst.Update(func(out kv.RwTx) error {
			for _, p := range chunk {
				out.Put(p.b, p.k, p.v)
			}
			return nil
		})
		if err != nil {
			return err
		}
		res.Transactions++
		res.Keys += int64(len(chunk))
		res.Bytes += int64(size)
		chunk, size = chunk[:0], 0
		return nil
	}
	var schema []byte
	err = s.view(func(tx kv.Tx) error {
		for _, b := range allBuckets {
			var err error
			tx.Scan(b, kv.All, func(k, v []byte) bool {
				if b == bucketMeta && (bytes.Equal(k, metaSchema) || bytes.Equal(k, metaFilterMark)) {
					if bytes.Equal(k, metaSchema) {
						schema = bytes.Clone(v)
					}
					return true
				}
				n := len(k) + len(v) + len(b) + 1
				if len(chunk)+1 > lim.MaxOps || size+n > maxBytes {
					if err = flush(); err != nil {
						return false
					}
				}
				if ctx.Err() != nil {
					err = ctx.Err()
					return false
				}
				chunk = append(chunk, pair{b, bytes.Clone(k), bytes.Clone(v)})
				size += n
				return true
			})
			if err != nil {
				return err
			}
		}
		return flush()
	})
	if err != nil {
		return res, classify(err, "copy into etcd")
	}
	if schema == nil {
		schema = []byte(schemaVersion)
	}
	if err := dst.Update(func(out kv.RwTx) error {
		out.Put(bucketMeta, metaSchema, schema)
		return nil
	}); err != nil {
		return res, classify(err, "write the schema into etcd")
	}
	res.Keys++
	res.Transactions++
	return res, nil
}
