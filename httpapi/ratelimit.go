package httpapi

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"promo/store"
)

// lookupLimiter slows callers that keep failing lookups, before they can
// enumerate codes: each failed lookup (not_found, typo) takes a token from
// the caller's bucket, both per API key and per client address, and a
// caller with an empty bucket is answered 429 with Retry-After. Successful
// lookups cost nothing, so a busy till is never slowed. The admin socket is
// not limited.
type lookupLimiter struct {
	perMinute float64
	burst     int
	mu        sync.Mutex
	buckets   map[string]*bucket
	sweep     time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLookupLimiter(perMinute float64, burst int) *lookupLimiter {
	return &lookupLimiter{perMinute: perMinute, burst: burst, buckets: map[string]*bucket{}}
}

func (l *lookupLimiter) off() bool { return l.perMinute < 0 }

// keys returns the buckets a request draws from.
func (l *lookupLimiter) keys(r *http.Request) []string {
	if local, _ := r.Context().Value(ctxLocal).(bool); local {
		return nil
	}
	keys := []string{"addr " + clientAddr(r)}
	if c := callerOf(r); c.Name != "" {
		keys = append(keys, "key "+c.Name)
	}
	return keys
}

func (l *lookupLimiter) bucket(k string, now time.Time) *bucket {
	b := l.buckets[k]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(rate.Limit(l.perMinute/60), l.burst)}
		l.buckets[k] = b
	}
	b.seen = now
	// Forget callers idle long enough for their bucket to be full again.
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

// check refuses a caller whose bucket is empty, with how long to wait.
func (l *lookupLimiter) check(r *http.Request) error {
	if l.off() {
		return nil
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range l.keys(r) {
		b := l.bucket(k, now)
		if tokens := b.lim.TokensAt(now); tokens < 1 {
			wait := time.Duration((1 - tokens) / float64(b.lim.Limit()) * float64(time.Second))
			secs := int(math.Ceil(wait.Seconds()))
			return &store.Error{Code: store.ERateLimited, Details: map[string]int{"retry_after": secs},
				Message: fmt.Sprintf("too many failed lookups from this %s; retry in %d s", strings.Fields(k)[0], secs)}
		}
	}
	return nil
}

// record takes a token for a failed lookup.
func (l *lookupLimiter) record(r *http.Request, err error) {
	if l.off() {
		return
	}
	if code := store.ErrorCode(err); code != store.ENotFound && code != store.ETypo {
		return
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range l.keys(r) {
		l.bucket(k, now).lim.AllowN(now, 1)
	}
}

// retryAfter sets Retry-After for a rate_limited error.
func retryAfter(w http.ResponseWriter, body ErrorBody) {
	if d, ok := body.Error.Details.(map[string]int); ok && body.Error.Code == store.ERateLimited {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, d["retry_after"])))
	}
}
