// Package webhook delivers promo's event log to the webhooks subscribed to
// it: each event POSTed as the log's JSON, signed like Stripe's webhooks
// (Promo-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "t.body")>),
// in seq order per webhook, at least once. A 2xx answer within the timeout
// (10 s) is a delivery; anything else is retried with exponential backoff
// and jitter, from 1 s up to 1 h between tries, for MaxAge (3 days), after
// which the webhook is disabled and the event webhook.disabled says so.
//
// Each webhook's place in the log is the store's (durable), so a restart
// loses nothing: deliveries resume after the last event acknowledged, and
// receivers de-duplicate by seq. A few workers serve all webhooks, one
// webhook at a time each, so a slow or dead receiver holds up its own
// webhook only, and never the store's writes.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"promo/store"
)

// Store is what the dispatcher needs of the store.
type Store interface {
	WebhookTargets() ([]store.WebhookTarget, error)
	EventJSON(after uint64, limit int) ([]store.Event, [][]byte, error)
	RecordWebhook(ctx context.Context, id string, o store.WebhookOutcome) (store.Webhook, error)
	WaitEvents(ctx context.Context, after uint64) error
	LastEventSeq() (uint64, error)
}

// Options configure a Dispatcher. The zero value is ready to use.
type Options struct {
	// Timeout bounds one attempt (default 10 s).
	Timeout time.Duration
	// Workers is how many webhooks are served at once (default 4).
	Workers int
	// MaxAge is how long an event is retried before its webhook is
	// disabled (default 72 h).
	MaxAge time.Duration
	// Backoff is the wait after the n-th failed attempt of an event
	// (default: 1 s doubling up to 1 h, ±20% jitter).
	Backoff func(n int) time.Duration
	// Poll is how often the webhooks are looked at when no event comes,
	// for retries and new webhooks (default 1 s).
	Poll time.Duration
	// Gather is how long new events gather after one wakes the
	// dispatcher before it looks at the webhooks (default 20 ms): under
	// load events come with every group commit, thousands a second, and
	// looking after each one cost every redemption four read
	// transactions.
	Gather time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Transport, if set, replaces the HTTP transport (tests).
	Transport http.RoundTripper
	// Logger receives failures; nil means slog.Default().
	Logger *slog.Logger
}

// Backoff is the default wait after the n-th failed attempt.
func Backoff(n int) time.Duration {
	d := time.Second << min(n-1, 12)
	d = min(d, time.Hour)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// Dispatcher delivers the log to the webhooks. Run it once.
type Dispatcher struct {
	st     Store
	opts   Options
	client *http.Client
	log    *slog.Logger

	mu      sync.Mutex
	busy    map[string]bool          // webhooks a worker is serving
	retryAt map[string]time.Time     // after a failure, not before
	latest  map[string]store.Webhook // each webhook as its worker last recorded it
}

// New returns a dispatcher over st.
func New(st Store, opts Options) *Dispatcher {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = 72 * time.Hour
	}
	if opts.Backoff == nil {
		opts.Backoff = Backoff
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.Gather <= 0 {
		opts.Gather = 20 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	client := &http.Client{Timeout: opts.Timeout, Transport: opts.Transport,
		// A redirect is not a delivery: the receiver must answer 2xx itself.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &Dispatcher{st: st, opts: opts, client: client, log: opts.Logger,
		busy: map[string]bool{}, retryAt: map[string]time.Time{}, latest: map[string]store.Webhook{}}
}

// Run delivers until ctx ends, then waits for attempts in flight.
func (d *Dispatcher) Run(ctx context.Context) error {
	sem := make(chan struct{}, d.opts.Workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	wake := make(chan struct{}, 1)
	go func() { // new events wake the dispatcher, once per Gather at most
		after, _ := d.st.LastEventSeq()
		for ctx.Err() == nil {
			if err := d.st.WaitEvents(ctx, after); err != nil {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(d.opts.Gather):
			}
			after, _ = d.st.LastEventSeq()
			select {
			case wake <- struct{}{}:
			default:
			}
		}
	}()
	t := time.NewTicker(d.opts.Poll)
	defer t.Stop()
	for {
		last, err := d.st.LastEventSeq()
		if err == nil {
			d.schedule(ctx, last, sem, &wg)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-wake:
		}
	}
}

// schedule starts a worker for every webhook with events to deliver that
// is not being served, nor waiting for a retry.
func (d *Dispatcher) schedule(ctx context.Context, last uint64, sem chan struct{}, wg *sync.WaitGroup) {
	targets, err := d.st.WebhookTargets()
	if err != nil {
		d.log.Warn("webhooks: reading the webhooks", "err", err)
		return
	}
	now := d.opts.Now()
	for _, w := range targets {
		d.mu.Lock()
		// The list may have been read before a worker that finished since
		// moved the webhook's place: start from the newer place, or that
		// worker's events go out twice.
		if l, ok := d.latest[w.ID]; ok && l.Delivered > w.Delivered {
			w.Webhook = l
		}
		ready := !d.busy[w.ID] && !now.Before(d.retryAt[w.ID]) && w.Delivered < last
		if ready {
			d.busy[w.ID] = true
		}
		d.mu.Unlock()
		if !ready {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			d.done(w.ID, time.Time{})
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			d.done(w.ID, d.serve(ctx, w))
		}()
	}
}

// recorded keeps what a worker recorded of its webhook, for schedule.
func (d *Dispatcher) recorded(w store.Webhook) store.Webhook {
	d.mu.Lock()
	d.latest[w.ID] = w
	d.mu.Unlock()
	return w
}

func (d *Dispatcher) done(id string, retryAt time.Time) {
	d.mu.Lock()
	delete(d.busy, id)
	if retryAt.IsZero() {
		delete(d.retryAt, id)
	} else {
		d.retryAt[id] = retryAt
	}
	d.mu.Unlock()
}

// serve delivers w's events in order until it has caught up, an attempt
// fails, or ctx ends. It returns when to try again after a failure.
func (d *Dispatcher) serve(ctx context.Context, w store.WebhookTarget) time.Time {
	for ctx.Err() == nil {
		events, raw, err := d.st.EventJSON(w.Delivered, 100)
		if err != nil || len(events) == 0 {
			return time.Time{}
		}
		skipped := uint64(0)
		for i, e := range events {
			if !w.Subscribes(e.Type) {
				skipped = e.Seq
				continue
			}
			del := d.attempt(ctx, w, e, raw[i])
			if ctx.Err() != nil && !del.OK {
				return time.Time{} // stopping: not the receiver's failure
			}
			o := store.WebhookOutcome{Delivery: &del}
			if del.OK {
				o.Done = e.Seq
			} else if since := w.Failing; since != nil && del.At.Sub(*since) >= d.opts.MaxAge {
				o.Disable = true
			}
			hook, err := d.st.RecordWebhook(context.WithoutCancel(ctx), w.ID, o)
			if err != nil {
				d.log.Warn("webhooks: recording a delivery", "webhook", w.ID, "err", err)
				return d.opts.Now().Add(d.opts.Poll)
			}
			w.Webhook = d.recorded(hook)
			if !del.OK {
				if hook.Disabled {
					d.log.Warn("webhooks: disabled after failing too long", "webhook", w.ID, "url", w.URL)
				}
				return d.opts.Now().Add(d.opts.Backoff(hook.Attempts))
			}
			skipped = 0
		}
		if skipped > w.Delivered {
			hook, err := d.st.RecordWebhook(context.WithoutCancel(ctx), w.ID, store.WebhookOutcome{Done: skipped})
			if err != nil {
				return d.opts.Now().Add(d.opts.Poll)
			}
			w.Webhook = d.recorded(hook)
		}
	}
	return time.Time{}
}

// Sign returns the Promo-Signature header for body at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// attempt POSTs one event and says what came of it.
func (d *Dispatcher) attempt(ctx context.Context, w store.WebhookTarget, e store.Event, body []byte) store.Delivery {
	start := d.opts.Now()
	del := store.Delivery{Seq: e.Seq, Type: e.Type, At: start.UTC()}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		del.Error = err.Error()
		return del
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "promo-webhook/1")
	h.Set("Promo-Signature", Sign(w.Secret, start, body))
	h.Set("Promo-Event-Seq", strconv.FormatUint(e.Seq, 10))
	h.Set("Promo-Event-Type", e.Type)
	h.Set("Promo-Webhook-Id", w.ID)
	resp, err := d.client.Do(req)
	del.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		del.Error = describe(err)
		return del
	}
	defer resp.Body.Close()
	del.Status = resp.StatusCode
	del.OK = resp.StatusCode >= 200 && resp.StatusCode < 300
	if !del.OK {
		del.Error = fmt.Sprintf("the receiver answered %s", resp.Status)
	}
	return del
}

// describe says what went wrong with a request, without the URL (which
// the webhook's listing shows).
func describe(err error) string {
	var ue interface{ Timeout() bool }
	if errors.As(err, &ue) && ue.Timeout() {
		return "no answer within the timeout"
	}
	var uerr interface{ Unwrap() error }
	if errors.As(err, &uerr) {
		if inner := uerr.Unwrap(); inner != nil {
			return inner.Error()
		}
	}
	return err.Error()
}
