package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"promo/store/kv"
)

// Webhooks: each event of the log is POSTed to the webhooks subscribed to
// its type, in seq order per webhook, at least once. A webhook keeps its
// place in the log (the seq of the last event delivered, or skipped as not
// subscribed) durably, so that nothing is lost across restarts; a new
// webhook starts at the log's end. The delivery itself (HTTP, signatures,
// retries) is the dispatcher's (httpapi/webhook); the store keeps the
// webhooks, their places and their recent attempts.
//
//	webhooks    id                 → webhookRec JSON
//	deliveries  id 0 attempt(8)    → Delivery JSON, the last MaxDeliveries kept
const (
	bucketWebhooks   kv.Bucket = "webhooks"
	bucketDeliveries kv.Bucket = "deliveries"
	seqWebhooks                = "webhooks"
	seqDeliveries              = "deliveries"
)

// MaxDeliveries is how many recent attempts a webhook keeps.
const MaxDeliveries = 100

// MaxWebhooks bounds how many webhooks a database has.
const MaxWebhooks = 100

// EventTypes lists every event type, for subscriptions and documentation.
var EventTypes = []string{EventCampaignCreated, EventCampaignUpdated, EventCodesGenerated, EventCodesImported,
	EventCodeAssigned, EventCodeRedeemed, EventRolledBack, EventCodeVoided, EventCodesVoided, EventKeyCreated,
	EventKeyRevoked, EventHoldPlaced, EventHoldReleased, EventSuspectedLeak, EventCustomerErased,
	EventWebhookDisabled}

// Webhook is a subscription of a URL to event types, as listed: never its
// secret.
type Webhook struct {
	ID          string     `json:"id"`
	URL         string     `json:"url"`
	Events      []string   `json:"events"`
	Description string     `json:"description,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	Disabled    bool       `json:"disabled"`
	DisabledAt  *time.Time `json:"disabled_at,omitempty"`
	// Delivered is the seq of the last event the webhook is done with.
	Delivered uint64 `json:"delivered_seq"`
	// Failing is when the current event first failed; nil while none does.
	Failing *time.Time `json:"failing_since,omitempty"`
	// Attempts counts the tries of the current event.
	Attempts int `json:"attempts,omitempty"`
}

// WebhookSpec is what a caller sends to create a webhook.
type WebhookSpec struct {
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description"`
}

type webhookRec struct {
	Webhook
	Secret string `json:"secret"`
}

// Delivery is one attempt to deliver an event.
type Delivery struct {
	Attempt    uint64    `json:"attempt"`
	Seq        uint64    `json:"seq"`
	Type       string    `json:"type"`
	At         time.Time `json:"at"`
	Status     int       `json:"status,omitempty"` // the receiver's HTTP status; 0 when none came
	OK         bool      `json:"ok"`
	Error      string    `json:"error,omitempty"`
	DurationMS float64   `json:"duration_ms"`
}

// Subscribes reports whether the webhook wants events of type typ.
func (w Webhook) Subscribes(typ string) bool {
	return slices.Contains(w.Events, "*") || slices.Contains(w.Events, typ)
}

func (spec *WebhookSpec) validate() error {
	u, err := url.Parse(spec.URL)
	switch {
	case spec.URL == "":
		return fieldErr("url", "required: where to POST the events, e.g. \"https://crm.example.com/promo\"")
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "":
		return fieldErr("url", "want an http or https URL without user info or fragment, got %q", truncate(spec.URL, 80))
	case len(spec.URL) > 2000:
		return fieldErr("url", "at most 2000 characters")
	case len(spec.Events) == 0:
		return fieldErr("events", "required: the event types to send, e.g. [\"code.redeemed\"], or [\"*\"] for all")
	}
	for _, e := range spec.Events {
		if e != "*" && !slices.Contains(EventTypes, e) {
			return fieldErr("events", "unknown event type %q; the types are %s, or \"*\" for all", truncate(e, 40), strings.Join(EventTypes, ", "))
		}
	}
	return checkText("description", spec.Description, 500, false)
}

// CreateWebhook subscribes spec.URL to spec.Events from the log's end on,
// and returns the webhook with its signing secret ("whsec_" and 256 random
// bits), shown this once. The secret is kept in the database, as signing
// needs it. It returns invalid_request or conflict (too many webhooks).
func (s *Store) CreateWebhook(ctx context.Context, spec WebhookSpec) (Webhook, string, error) {
	if err := spec.validate(); err != nil {
		return Webhook{}, "", err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return Webhook{}, "", internal(err, "draw a secret")
	}
	secret := "whsec_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw[:]))
	var out Webhook
	s.settleEvents() // it starts after the events committed before it
	err := s.update(ctx, func(tx *wtx) error {
		n := 0
		tx.Scan(bucketWebhooks, kv.All, func(_, _ []byte) bool { n++; return true })
		if n >= MaxWebhooks {
			return Errorf(EConflict, "there are %d webhooks, the most; remove one first", n)
		}
		var b [4]byte
		if _, err := rand.Read(b[:]); err != nil {
			return internal(err, "draw an id")
		}
		id := fmt.Sprintf("wh_%d%s", tx.nextSeq(seqWebhooks), hex.EncodeToString(b[:2]))
		out = Webhook{ID: id, URL: spec.URL, Events: slices.Clone(spec.Events), Description: spec.Description,
			CreatedAt: s.now().UTC(), Delivered: readSeq(tx, seqEvents)}
		return putWebhook(tx, webhookRec{Webhook: out, Secret: secret})
	})
	return out, secret, err
}

func putWebhook(tx *wtx, r webhookRec) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	tx.Put(bucketWebhooks, []byte(r.ID), v)
	return nil
}

func getWebhook(tx kv.Tx, id string) (webhookRec, error) {
	var r webhookRec
	v := tx.Get(bucketWebhooks, []byte(id))
	if v == nil {
		return r, &Error{Code: ENotFound, Field: "id", Message: fmt.Sprintf("no webhook %q", truncate(id, 40))}
	}
	if err := json.Unmarshal(v, &r); err != nil {
		return r, internal(err, "read webhook")
	}
	return r, nil
}

// Webhooks lists the webhooks, oldest first.
func (s *Store) Webhooks() ([]Webhook, error) {
	recs, err := s.webhookRecs()
	out := make([]Webhook, len(recs))
	for i, r := range recs {
		out[i] = r.Webhook
	}
	return out, err
}

func (s *Store) webhookRecs() ([]webhookRec, error) {
	var out []webhookRec
	err := s.view(func(tx kv.Tx) error {
		var err error
		tx.Scan(bucketWebhooks, kv.All, func(_, v []byte) bool {
			var r webhookRec
			if err = json.Unmarshal(v, &r); err != nil {
				return false
			}
			out = append(out, r)
			return true
		})
		return err
	})
	slices.SortFunc(out, func(a, b webhookRec) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, err
}

// DeleteWebhook removes a webhook and its attempts. It returns not_found.
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	return s.update(ctx, func(tx *wtx) error {
		if _, err := getWebhook(tx, id); err != nil {
			return err
		}
		tx.Delete(bucketWebhooks, []byte(id))
		var keys [][]byte
		tx.Scan(bucketDeliveries, kv.Prefix(append([]byte(id), 0)), func(k, _ []byte) bool {
			keys = append(keys, bytes.Clone(k))
			return true
		})
		for _, k := range keys {
			tx.Delete(bucketDeliveries, k)
		}
		return nil
	})
}

// WebhookDeliveries returns the webhook's recent attempts, newest first.
// It returns not_found.
func (s *Store) WebhookDeliveries(id string) ([]Delivery, error) {
	out := []Delivery{}
	err := s.view(func(tx kv.Tx) error {
		if _, err := getWebhook(tx, id); err != nil {
			return err
		}
		var err error
		tx.Scan(bucketDeliveries, kv.Range{Start: append([]byte(id), 0), End: append([]byte(id), 1), Reverse: true}, func(_, v []byte) bool {
			var d Delivery
			if err = json.Unmarshal(v, &d); err != nil {
				return false
			}
			out = append(out, d)
			return true
		})
		return err
	})
	return out, err
}

// WebhookTarget is what the dispatcher needs of a webhook: its place and
// its secret.
type WebhookTarget struct {
	Webhook
	Secret string
}

// WebhookTargets returns the enabled webhooks with their secrets, for the
// dispatcher.
func (s *Store) WebhookTargets() ([]WebhookTarget, error) {
	recs, err := s.webhookRecs()
	var out []WebhookTarget
	for _, r := range recs {
		if !r.Disabled {
			out = append(out, WebhookTarget(r))
		}
	}
	return out, err
}

// WebhookOutcome is what happened to one attempt (Delivery) and what the
// dispatcher decided: advance the webhook's place to Done (the event was
// delivered, or is not subscribed), or, on failure, keep it, or disable the
// webhook (it failed too long).
type WebhookOutcome struct {
	Delivery *Delivery // nil when no attempt was made (only skipped events)
	Done     uint64    // the new place; 0 keeps it
	Disable  bool
}

// RecordWebhook records an attempt and moves the webhook's place. A
// webhook deleted meanwhile is not_found. Disabling it appends the event
// webhook.disabled.
func (s *Store) RecordWebhook(ctx context.Context, id string, o WebhookOutcome) (Webhook, error) {
	var out Webhook
	err := s.update(ctx, func(tx *wtx) error {
		r, err := getWebhook(tx, id)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		if d := o.Delivery; d != nil {
			d.Attempt = tx.nextSeq(seqDeliveries)
			v, err := json.Marshal(d)
			if err != nil {
				return err
			}
			pfx := append([]byte(id), 0)
			tx.Put(bucketDeliveries, binary.BigEndian.AppendUint64(bytes.Clone(pfx), d.Attempt), v)
			var old [][]byte
			n := 0
			tx.Scan(bucketDeliveries, kv.Range{Start: pfx, End: append([]byte(id), 1), Reverse: true}, func(k, _ []byte) bool {
				if n++; n > MaxDeliveries {
					old = append(old, bytes.Clone(k))
				}
				return true
			})
			for _, k := range old {
				tx.Delete(bucketDeliveries, k)
			}
			if d.OK {
				r.Failing, r.Attempts = nil, 0
			} else {
				if r.Failing == nil {
					t := d.At
					r.Failing = &t
				}
				r.Attempts++
			}
		}
		if o.Done > r.Delivered {
			r.Delivered = o.Done
			if o.Delivery == nil || o.Delivery.OK {
				r.Failing, r.Attempts = nil, 0
			}
		}
		if o.Disable && !r.Disabled {
			r.Disabled, r.DisabledAt = true, &now
			if err := appendEvent(tx, now, &Event{Type: EventWebhookDisabled, Reason: fmt.Sprintf("webhook %s (%s) failed for %s; re-create it to resume", r.ID, r.URL,
				now.Sub(*r.Failing).Round(time.Minute))}); err != nil {
				return err
			}
		}
		out = r.Webhook
		return putWebhook(tx, r)
	})
	return out, err
}

// EventJSON returns the events after after (up to limit) as the log keeps
// them: their JSON, byte for byte what GET /v1/events answers in its list.
func (s *Store) EventJSON(after uint64, limit int) ([]Event, [][]byte, error) {
	var events []Event
	var raw [][]byte
	err := s.view(func(tx kv.Tx) error {
		var err error
		tx.Scan(bucketEvents, kv.From(seqKey(after+1)), func(_, v []byte) bool {
			var e Event
			if err = json.Unmarshal(v, &e); err != nil {
				return false
			}
			events, raw = append(events, e), append(raw, bytes.Clone(v))
			return len(events) < limit
		})
		return err
	})
	return events, raw, err
}
