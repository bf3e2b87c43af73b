package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"promo/store/kv"
)

// IdempotencyTTL is how long a first response is kept for replay.
const IdempotencyTTL = 48 * time.Hour

// MaxIdempotencyKey is the longest Idempotency-Key accepted.
const MaxIdempotencyKey = 255

// Idempotency identifies a retried request: the caller's scope (its API key
// name), the key it chose, and a hash of what it asked (method, path, body).
type Idempotency struct {
	Scope string
	Key   string
	Hash  [32]byte
}

// Validate checks the key: 1 to MaxIdempotencyKey printable ASCII characters.
func (i *Idempotency) Validate() error {
	if len(i.Key) == 0 || len(i.Key) > MaxIdempotencyKey {
		return &Error{Code: EInvalid, Field: "Idempotency-Key", Message: fmt.Sprintf("Idempotency-Key: want 1 to %d characters, got %d", MaxIdempotencyKey, len(i.Key))}
	}
	for j := 0; j < len(i.Key); j++ {
		if c := i.Key[j]; c < 0x21 || c > 0x7e {
			return &Error{Code: EInvalid, Field: "Idempotency-Key", Message: "Idempotency-Key: want printable ASCII without spaces"}
		}
	}
	return nil
}

func (i *Idempotency) dbKey() []byte {
	return append(append([]byte(i.Scope), 0), i.Key...)
}

type idemRecord struct {
	Hash   []byte          `json:"h"`
	At     time.Time       `json:"at"`
	Result json.RawMessage `json:"r,omitempty"`
	Code   string          `json:"c,omitempty"`
	Msg    string          `json:"m,omitempty"`
	Field  string          `json:"f,omitempty"`
	// Ref, when not 0, is the redemption a successful Redeem made: the
	// answer is that redemption as it was redeemed (see idemReplay).
	Ref uint64 `json:"-"`
}

// An idempotency record is stored in binary, as it is written on the
// writer's path of every retried-safe request (JSON's reflection cost a
// fifth of an idempotent redemption's time there):
//
//	1 | hash(32) | at (varint unix ns) | code | msg | field | result
//
// with each string a uvarint length and its bytes, and the result (JSON)
// the rest. Records written by schema 1 are JSON, and still read. A
// successful redemption's record names the redemption instead of carrying
// its answer, which it already stores:
//
//	2 | hash(32) | at (varint unix ns) | redemption number (uvarint)
//
// so an idempotent redemption writes a record of 45 bytes rather than
// about 340 (denser leaves of the idempotency bucket for the checkpoint
// to rewrite, fewer bytes in the log).
const (
	idemBinary = 1
	idemRef    = 2
)

func (r *idemRecord) encode() []byte {
	if r.Ref != 0 {
		b := make([]byte, 0, 33+2*binary.MaxVarintLen64)
		b = append(b, idemRef)
		b = append(b, r.Hash...)
		b = binary.AppendVarint(b, r.At.UnixNano())
		return binary.AppendUvarint(b, r.Ref)
	}
	b := make([]byte, 0, 48+len(r.Code)+len(r.Msg)+len(r.Field)+len(r.Result))
	b = append(b, idemBinary)
	b = append(b, r.Hash...)
	b = binary.AppendVarint(b, r.At.UnixNano())
	b = appendString(b, r.Code)
	b = appendString(b, r.Msg)
	b = appendString(b, r.Field)
	return append(b, r.Result...)
}

func decodeIdemRecord(v []byte) (idemRecord, error) {
	var r idemRecord
	if len(v) > 0 && v[0] == '{' {
		err := json.Unmarshal(v, &r)
		return r, err
	}
	if len(v) < 34 || (v[0] != idemBinary && v[0] != idemRef) {
		return r, errors.New("corrupt idempotency record")
	}
	r.Hash = bytes.Clone(v[1:33])
	d := decoder{b: v[33:]}
	r.At = time.Unix(0, d.varint()).UTC()
	if v[0] == idemRef {
		r.Ref = d.uvarint()
		if d.err || r.Ref == 0 || len(d.b) > 0 {
			return r, errors.New("corrupt idempotency record")
		}
		return r, nil
	}
	r.Code, r.Msg, r.Field = d.string(), d.string(), d.string()
	if d.err {
		return r, errors.New("corrupt idempotency record")
	}
	if len(d.b) > 0 {
		r.Result = bytes.Clone(d.b)
	}
	return r, nil
}

// jsonAppender is implemented by results encoded by hand (Redemption).
type jsonAppender interface{ appendJSON([]byte) []byte }

// idemReplay looks for a first response to replay. When it finds one it
// fills out and returns (true, the first response's error); a different
// request under the same key is idempotency_mismatch.
func idemReplay(tx kv.Tx, idem *Idempotency, out any) (bool, error) {
	if idem == nil {
		return false, nil
	}
	v := tx.Get(bucketIdem, idem.dbKey())
	if v == nil {
		return false, nil
	}
	rec, err := decodeIdemRecord(v)
	if err != nil {
		return true, internal(err, "read idempotency record")
	}
	if !bytes.Equal(rec.Hash, idem.Hash[:]) {
		return true, &Error{Code: EIdempotencyMismatch, Field: "Idempotency-Key",
			Message: fmt.Sprintf("Idempotency-Key %q was used at %s for a different request; use a new key for a new request", idem.Key, rec.At.Format(time.RFC3339))}
	}
	if rec.Code != "" {
		return true, &Error{Code: rec.Code, Message: rec.Msg, Field: rec.Field}
	}
	if rec.Ref != 0 {
		red, ok := out.(*Redemption)
		if !ok {
			return true, internal(fmt.Errorf("the record names redemption %s, the request wants %T", redemptionName(rec.Ref), out), "read idempotency record")
		}
		r, err := getRedemption(tx, rec.Ref)
		if err != nil {
			return true, internal(err, "read idempotency record")
		}
		// The first answer is the redemption as it was made: a later
		// rollback sets only these fields (an erasure's pseudonym is
		// replayed, as it is in the answers recorded whole).
		r.RolledBackAt, r.RollbackReason, r.RewardVoided = nil, "", false
		*red = r
		return true, nil
	}
	if err := json.Unmarshal(rec.Result, out); err != nil {
		return true, internal(err, "read idempotency record")
	}
	return true, nil
}

// idemSave records the first response (a result or a refusal, never an
// internal failure) and returns opErr unchanged.
func idemSave(tx *wtx, now time.Time, idem *Idempotency, out any, opErr error) error {
	if idem == nil || (opErr != nil && !isRuleError(opErr)) {
		return opErr
	}
	rec := idemRecord{Hash: idem.Hash[:], At: now.UTC()}
	if opErr != nil {
		var e *Error
		errors.As(opErr, &e)
		rec.Code, rec.Msg, rec.Field = e.Code, e.Message, e.Field
	} else if a, ok := out.(jsonAppender); ok {
		rec.Result = a.appendJSON(nil)
	} else {
		b, err := json.Marshal(out)
		if err != nil {
			return err
		}
		rec.Result = b
	}
	tx.Put(bucketIdem, idem.dbKey(), rec.encode())
	return opErr
}

// idemSaveRedemption records a successful redemption's answer as a
// reference to redemption n (see idemRef).
func idemSaveRedemption(tx *wtx, now time.Time, idem *Idempotency, n uint64) {
	rec := idemRecord{Hash: idem.Hash[:], At: now.UTC(), Ref: n}
	tx.Put(bucketIdem, idem.dbKey(), rec.encode())
}

// idemLocks serialises requests that share an idempotency key and span
// several transactions (Generate), so a retry waits for the first attempt.
type idemLocks struct {
	mu   sync.Mutex
	held map[string]*sync.Mutex
}

func (l *idemLocks) lock(key string) func() {
	l.mu.Lock()
	if l.held == nil {
		l.held = map[string]*sync.Mutex{}
	}
	m := l.held[key]
	if m == nil {
		m = &sync.Mutex{}
		l.held[key] = m
	}
	l.mu.Unlock()
	m.Lock()
	return func() {
		m.Unlock()
		l.mu.Lock()
		if l.held[key] == m && m.TryLock() {
			delete(l.held, key)
			m.Unlock()
		}
		l.mu.Unlock()
	}
}

// idempotent runs an operation spanning several transactions once per
// idempotency key: a retry replays the first outcome into out.
func (s *Store) idempotent(ctx context.Context, idem *Idempotency, out any, run func() error) error {
	if idem == nil {
		return run()
	}
	if err := idem.Validate(); err != nil {
		return err
	}
	defer s.idemLocks.lock(string(idem.dbKey()))()
	var replayed bool
	var prior error
	if err := s.view(func(tx kv.Tx) error {
		replayed, prior = idemReplay(tx, idem, out)
		return nil
	}); err != nil {
		return err
	}
	if replayed {
		return prior
	}
	opErr := run()
	if opErr != nil && !isRuleError(opErr) {
		return opErr
	}
	err := s.update(ctx, func(tx *wtx) error {
		if err := idemSave(tx, s.now(), idem, out, opErr); err != nil && !isRuleError(err) {
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return opErr
}

// purgeIdempotency deletes records older than IdempotencyTTL.
func (s *Store) purgeIdempotency(ctx context.Context) error {
	cutoff := s.now().Add(-IdempotencyTTL)
	var old [][]byte
	err := s.view(func(tx kv.Tx) error {
		tx.Scan(bucketIdem, kv.All, func(k, v []byte) bool {
			if rec, err := decodeIdemRecord(v); err == nil && rec.At.Before(cutoff) {
				old = append(old, bytes.Clone(k))
			}
			return true
		})
		return nil
	})
	if err != nil || len(old) == 0 {
		return err
	}
	for len(old) > 0 { // in transactions that fit any engine's limits
		part := old[:min(len(old), 100)]
		old = old[len(part):]
		if err := s.update(ctx, func(tx *wtx) error {
			for _, k := range part {
				tx.Delete(bucketIdem, k)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}
