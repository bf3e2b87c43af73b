package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"time"

	"promo/store/kv"
)

// Event types.
const (
	EventCampaignCreated = "campaign.created"
	EventCampaignUpdated = "campaign.updated"
	EventCodesGenerated  = "codes.generated"
	EventCodesImported   = "codes.imported"
	EventCodeAssigned    = "code.assigned"
	EventCodeRedeemed    = "code.redeemed"
	EventRolledBack      = "redemption.rolled_back"
	EventCodeVoided      = "code.voided"
	EventCodesVoided     = "codes.voided"
	EventKeyCreated      = "key.created"
	EventKeyRevoked      = "key.revoked"
	EventHoldPlaced      = "hold.placed"
	EventSuspectedLeak   = "code.suspected_leak"
	EventCustomerErased  = "customer.erased"
	EventWebhookDisabled = "webhook.disabled"
	EventHoldReleased    = "hold.released"
)

// Event is one entry of the append-only log. Seq numbers start at 1 and have
// no gaps: an event is written in the same transaction as the change it
// records, and a transaction that rolls back takes its numbers with it.
type Event struct {
	Seq         uint64    `json:"seq"`
	Time        time.Time `json:"time"`
	Type        string    `json:"type"`
	Campaign    string    `json:"campaign,omitempty"`
	Code        string    `json:"code,omitempty"`
	CustomerID  string    `json:"customer_id,omitempty"`
	Channel     string    `json:"channel,omitempty"`
	Redemption  string    `json:"redemption,omitempty"`
	OrderID     string    `json:"order_id,omitempty"`
	OrderAmount int64     `json:"order_amount,omitempty"`
	Currency    string    `json:"currency,omitempty"`
	Discount    int64     `json:"discount,omitempty"`
	Terminal    string    `json:"terminal,omitempty"`
	RewardCode  string    `json:"reward_code,omitempty"`
	Batch       string    `json:"batch,omitempty"`
	Count       int64     `json:"count,omitempty"`
	Status      string    `json:"status,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	Key         string    `json:"key,omitempty"`
	Role        string    `json:"role,omitempty"`
	Hold        string    `json:"hold,omitempty"`
}

func seqKey(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// Events returns up to limit events with Seq > after, oldest first.
func (s *Store) Events(after uint64, limit int) ([]Event, error) {
	if limit <= 0 || limit > 10_000 {
		limit = 10_000
	}
	out := []Event{}
	s.settleEvents()
	err := s.view(func(tx kv.Tx) error {
		var err error
		tx.Scan(bucketEvents, kv.From(seqKey(after+1)), func(_, v []byte) bool {
			var e Event
			if err = json.Unmarshal(v, &e); err != nil {
				return false
			}
			out = append(out, e)
			return len(out) < limit
		})
		return err
	})
	return out, err
}

// LastEventSeq returns the newest event's sequence number (0 when none),
// once the events committed before the call are numbered.
func (s *Store) LastEventSeq() (uint64, error) {
	s.settleEvents()
	return s.lastEventSeq()
}

func (s *Store) lastEventSeq() (uint64, error) {
	var n uint64
	err := s.view(func(tx kv.Tx) error {
		n = readSeq(tx, seqEvents)
		return nil
	})
	return n, err
}

// WaitEvents returns when an event with Seq > after exists, ctx ends, or
// the store closes; it lets followers wait without polling.
func (s *Store) WaitEvents(ctx context.Context, after uint64) error {
	for {
		s.eventsMu.Lock()
		ready := s.eventsReady
		s.eventsMu.Unlock()
		last, err := s.lastEventSeq()
		if err != nil || last > after {
			return err
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closing:
			return Errorf(EUnavailable, "the store is closing")
		}
	}
}

func (s *Store) notifyEvents() {
	s.eventsMu.Lock()
	close(s.eventsReady)
	s.eventsReady = make(chan struct{})
	s.eventsMu.Unlock()
}
