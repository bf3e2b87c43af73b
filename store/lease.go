// Leases: one node of a cluster at a time does a job (webhook deliveries),
// the holder of a lease kept in the store and renewed while it lives.

package store

import (
	"context"
	"encoding/json"
	"time"
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
		now := s.now().UnixMilli()
		var cur leaseRec
		if v := tx.Get(bucketMeta, key); v != nil {
			if err := json.Unmarshal(v, &cur); err != nil {
				return internal(err, "read lease "+name)
			}
		}
		held = false
		if cur.Holder != holder && cur.Until > now {
			return nil
		}
		v, err := json.Marshal(leaseRec{Holder: holder, Until: now + ttl.Milliseconds()})
		if err != nil {
			return err
		}
		tx.Put(bucketMeta, key, v)
		tx.onCommit(func() { held = true })
		return nil
	})
	return held, err
}
