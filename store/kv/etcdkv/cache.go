package etcdkv

import "sync"

// readCache remembers keys as the engine's last commits and reads left
// them, so that an Update's optimistic reads of keys it met recently (a
// campaign's counters, the sequences, the catalog) take no round trip to
// etcd. A cached read is like any optimistic read: the commit compares its
// ModRevision, so a key another node changed since fails the commit, which
// brings back the current value and runs the update again; a value from
// the cache is never believed unchecked.
//
// It holds two generations of at most cacheKeys keys each: when the newer
// fills, the older is dropped, so memory stays bounded whatever the keys.
type readCache struct {
	mu       sync.Mutex
	cur, old map[string]read
}

const cacheKeys = 16 << 10

func (c *readCache) get(key string) (read, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.cur[key]; ok {
		return r, true
	}
	r, ok := c.old[key]
	return r, ok
}

// put records reads known current at one moment (a commit's reads and
// writes, a failed commit's refreshed values).
func (c *readCache) put(reads map[string]read) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, r := range reads {
		if c.cur == nil || len(c.cur) >= cacheKeys {
			c.old, c.cur = c.cur, make(map[string]read, cacheKeys)
		}
		c.cur[k] = r
	}
}
