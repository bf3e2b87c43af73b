// Leases: one node of a cluster at a time does a job (webhook deliveries),
// the holder of a lease kept in the store and renewed while it lives.

package store

import (
	"context"
	"encoding/json"
	"time"

	"promo/store/kv"
)

// leaseRec is the meta record of a lease (TakeLease).
type leaseRec struct {
	Holder string `json:"holder"`
	Until  int64  `json:"until_ms"`
}

// TakeLease makes holder the holder of the named lease until ttl from now
// when nobody else holds it live, or renews holder's own; it reports whether
// holder holds it. Nodes of a cluster run a job that must run once (the
// webhook dispatcher) only while they hold its lease, renewing it well
// within ttl. Two holders overlap only when one's clock or a pause outlasts
// the ttl: the jobs behind a lease must tolerate that (webhooks are
// delivered at least once). On a file, the one process always holds it.
func (s *Store) TakeLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if s.cl == nil {
		return true, nil
	}
	key := []byte("lease/" + name)
	held := false
	err := s.update(ctx, func(tx *wtx) error {
		held = false
		ok, err := takeLease(tx, bucketMeta, key, holder, s.now(), ttl)
		if ok {
			tx.onCommit(func() { held = true })
		}
		return err
	})
	return held, err
}

// takeLease writes holder's record of the lease at key in b, valid until
// ttl after now, unless another holder's record is still valid; it
// reports whether it wrote it.
func takeLease(tx kv.RwTx, b kv.Bucket, key []byte, holder string, now time.Time, ttl time.Duration) (bool, error) {
	var cur leaseRec
	if v := tx.Get(b, key); v != nil {
		if err := json.Unmarshal(v, &cur); err != nil {
			return false, internal(err, "read lease "+string(key))
		}
	}
	if cur.Holder != holder && cur.Until > now.UnixMilli() {
		return false, nil
	}
	v, err := json.Marshal(leaseRec{Holder: holder, Until: now.UnixMilli() + ttl.Milliseconds()})
	if err != nil {
		return false, err
	}
	tx.Put(b, key, v)
	return true, nil
}
