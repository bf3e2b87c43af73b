package etcdkv

import (
	"sync"
	"time"
)

// readCache remembers keys as the engine's last commits and reads left
// them, so that an Update's optimistic reads of keys it met recently (a
// campaign's counters, the sequences, the catalog) take no round trip to
// etcd. A cached read is like any optimistic read: the commit compares its
// ModRevision, so a key another client changed since fails the commit,
// which brings back the current value and runs the update again; a value
// from the cache is never believed unchecked.
//
// A key that failed a commit so is contended: for a while it is neither
// cached nor served, since a cached value of it would be stale more often
// than not and cost a failed commit every time; an update that prefetches
// reads the contended keys in the same round trip.
//
// It holds two generations of at most cacheKeys keys each: when the newer
// fills, the older is dropped, so memory stays bounded whatever the keys.
type readCache struct {
	mu       sync.Mutex
	cur, old map[string]read
	hot      map[string]time.Time // contended keys, until when
}

const (
	cacheKeys = 16 << 10
	hotFor    = 2 * time.Second
)

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
// writes), but for contended keys.
func (c *readCache) put(reads map[string]read) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	for k, r := range reads {
		if until, ok := c.hot[k]; ok {
			if now.Before(until) {
				continue
			}
			delete(c.hot, k)
		}
		if c.cur == nil || len(c.cur) >= cacheKeys {
			c.old, c.cur = c.cur, make(map[string]read, cacheKeys)
		}
		c.cur[k] = r
	}
}

// hotKeys returns up to n of the keys contended now.
func (c *readCache) hotKeys(n int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	var out []string
	for k, until := range c.hot {
		if !now.Before(until) {
			delete(c.hot, k)
		} else if len(out) < n {
			out = append(out, k)
		}
	}
	return out
}

// contended drops keys another client changed under a commit and keeps
// them out for hotFor.
func (c *readCache) contended(keys []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hot == nil || len(c.hot) >= cacheKeys {
		c.hot = make(map[string]time.Time)
	}
	until := time.Now().Add(hotFor)
	for _, k := range keys {
		c.hot[k] = until
		delete(c.cur, k)
		delete(c.old, k)
	}
}
