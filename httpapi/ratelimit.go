package httpapi

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"promo/store"
)

// lookupLimiter slows API keys that keep failing lookups, before they can
// enumerate codes: each failed lookup (not_found, typo) takes a token from
// the bucket of the key that made it, and a key with an empty bucket is
// answered 429 with Retry-After. The bucket is the key's alone: one key's
// failures never slow another key, whatever address either comes from
// (tills behind one NAT, a checkout behind a reverse proxy). There is no
// bucket per address: every lookup route needs a key, so a request without
// a valid one is answered 401 before any lookup, and an address bucket
// could only lock honest tills out along with a guesser at their address.
// Successful lookups cost nothing, so a busy till is never slowed. The
// admin socket is not limited.
type lookupLimiter struct {
	perMinute float64
	burst     int
	delay     time.Duration // how long a refusal is held back (Options.LimitedDelay)
	mu        sync.Mutex
	buckets   map[string]*bucket // by key name
	sweep     time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLookupLimiter(perMinute float64, burst int, delay time.Duration) *lookupLimiter {
	return &lookupLimiter{perMinute: perMinute, burst: burst, delay: delay, buckets: map[string]*bucket{}}
}

func (l *lookupLimiter) off() bool { return l.perMinute < 0 }

// keyOf returns the name of the bucket a request draws from, or "" for a
// request that is not limited (the admin socket; a request without a key
// never reaches a lookup).
func (l *lookupLimiter) keyOf(r *http.Request) string {
	if local, _ := r.Context().Value(ctxLocal).(bool); local {
		return ""
	}
	return callerOf(r).Name
}

func (l *lookupLimiter) bucket(k string, now time.Time) *bucket {
	b := l.buckets[k]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(rate.Limit(l.perMinute/60), l.burst)}
		l.buckets[k] = b
	}
	b.seen = now
	// Forget keys idle long enough for their bucket to be full again.
	if now.Sub(l.sweep) > time.Minute {
		full := time.Duration(float64(l.burst)/l.perMinute*float64(time.Minute)) + time.Minute
		for k, b := range l.buckets {
			if now.Sub(b.seen) > full {
				delete(l.buckets, k)
			}
		}
		l.sweep = now
	}
	return b
}

// check refuses a key whose bucket is empty, with how long to wait. The
// refusal comes after the limiter's delay (or when the request ends), so
// a guesser that ignores Retry-After is slowed to one request per delay
// per connection; other keys' requests are not held.
func (l *lookupLimiter) check(r *http.Request) error {
	err := l.refusal(r)
	if err != nil && l.delay > 0 {
		t := time.NewTimer(l.delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	return err
}

// refusal is check's answer, given at once.
func (l *lookupLimiter) refusal(r *http.Request) error {
	k := l.keyOf(r)
	if l.off() || k == "" {
		return nil
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(k, now)
	if tokens := b.lim.TokensAt(now); tokens < 1 {
		wait := time.Duration((1 - tokens) / float64(b.lim.Limit()) * float64(time.Second))
		secs := int(math.Ceil(wait.Seconds()))
		return &store.Error{Code: store.ERateLimited, Details: map[string]int{"retry_after": secs},
			Message: fmt.Sprintf("too many failed lookups with the API key %q; retry in %d s", k, secs)}
	}
	return nil
}

// record takes a token from the key's bucket for a failed lookup.
func (l *lookupLimiter) record(r *http.Request, err error) {
	l.recordCode(r, store.ErrorCode(err))
}

// recordCode is record for an answer's error code ("" for none).
func (l *lookupLimiter) recordCode(r *http.Request, code string) {
	k := l.keyOf(r)
	if l.off() || k == "" {
		return
	}
	if code != store.ENotFound && code != store.ETypo {
		return
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bucket(k, now).lim.AllowN(now, 1)
}

// retryAfter sets Retry-After for a rate_limited error.
func retryAfter(w http.ResponseWriter, body ErrorBody) {
	if d, ok := body.Error.Details.(map[string]int); ok && body.Error.Code == store.ERateLimited {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, d["retry_after"])))
	}
}
