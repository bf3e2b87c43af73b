// The writer: every write runs in the one goroutine that groups the
// operations waiting at each moment into one transaction (group commit),
// checking each operation's rules before it writes, and answers them in
// order once the group is durable.

package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"promo/store/kv"
)

// wtx is a write transaction of the store: the engine's, plus what to do
// once it commits.
type wtx struct {
	kv.RwTx
	after  []func()
	events bool // an event was appended
	shard  byte // the shard it writes under (shards.go): 0 on a file
}

// onCommit runs f after the transaction commits, in order.
func (tx *wtx) onCommit(f func()) { tx.after = append(tx.after, f) }

func (tx *wtx) committed() {
	for _, f := range tx.after {
		f()
	}
}

// nextSeq returns the sequence's next number and records it.
func (tx *wtx) nextSeq(name string) uint64 {
	n := readSeq(tx, name) + 1
	tx.Put(bucketMeta, seqKeyName(name), binary.BigEndian.AppendUint64(nil, n))
	return n
}

// op is one write operation waiting for the writer goroutine.
type op struct {
	fn    func(tx *wtx) error
	reads []kv.Key // keys fn will read, fetched together where reads are round trips
	bulk  bool     // a large transaction, run alone (kv.Bulk)
	err   error
	done  chan struct{}
}

// update runs fn in a write transaction, possibly shared with other
// operations, and returns once that transaction has committed (or failed).
// fn must return a rule error (see isRuleError) only before it writes.
func (s *Store) update(ctx context.Context, fn func(tx *wtx) error) error {
	return s.submit(ctx, &op{fn: fn, done: make(chan struct{})})
}

// updateReading is update for an fn that reads the keys reads (a hint:
// see kv.Prefetcher).
func (s *Store) updateReading(ctx context.Context, reads []kv.Key, fn func(tx *wtx) error) error {
	return s.submit(ctx, &op{fn: fn, reads: reads, done: make(chan struct{})})
}

// bulkUpdate runs fn alone in a large transaction, through the engine's
// bulk path when it has one.
func (s *Store) bulkUpdate(ctx context.Context, fn func(tx *wtx) error) error {
	return s.submit(ctx, &op{fn: fn, bulk: true, done: make(chan struct{})})
}

// submitNoWait queues o without waiting for room or for its outcome; it
// reports false when the queue is full or the store is closing.
func (s *Store) submitNoWait(o *op) bool {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return false
	}
	select {
	case s.ops <- o:
		return true
	default:
		return false
	}
}

func (s *Store) submit(ctx context.Context, o *op) error {
	if s.opts.ReadOnly {
		return Errorf(EUnavailable, "the database is open read-only")
	}
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return Errorf(EUnavailable, "the store is closing")
	}
	select {
	case s.ops <- o:
	case <-ctx.Done():
		s.closeMu.RUnlock()
		return ctx.Err()
	}
	s.closeMu.RUnlock()
	<-o.done // once queued, the op runs: its caller must learn the outcome
	return o.err
}

// writeLoop commits the operations queued at each moment together, and,
// while an earlier batch waits for the disk, those that arrive meanwhile;
// a bulk operation runs alone.
func (s *Store) writeLoop() {
	defer func() {
		close(s.completions)
		<-s.completed
		close(s.loopDone)
	}()
	_, pipelined := s.db.(kv.Pipeliner)
	batch := make([]*op, 0, s.opts.MaxBatch)
	var held *op // a bulk op that arrived while filling a batch
	for {
		first := held
		held = nil
		if first == nil {
			select {
			case first = <-s.ops:
			case <-s.closing:
				// Drain what was queued before Close.
				select {
				case first = <-s.ops:
				default:
					return
				}
			}
		}
		if first.bulk {
			s.commit([]*op{first}, nil, false)
			continue
		}
		batch = append(batch[:0], first)
		for len(batch) < s.opts.MaxBatch {
			o := s.nextOp(false)
			if o == nil {
				break
			}
			if o.bulk {
				held = o
				break
			}
			batch = append(batch, o)
		}
		held = s.commit(batch, held, pipelined)
	}
}

// nextOp returns the next queued operation, or nil when there is none.
// With gather set, while an earlier batch waits for the disk, it waits for
// one to arrive until a batch is answered: the operations in between could
// not be durable before the next fdatasync anyway, so they share a record.
func (s *Store) nextOp(gather bool) *op {
	select {
	case o := <-s.ops:
		return o
	default:
	}
	if !gather {
		return nil
	}
	select {
	case <-s.durable: // a token left by an earlier answer
	default:
	}
	if s.inflight.Load() == 0 {
		return nil
	}
	select {
	case o := <-s.ops:
		return o
	case <-s.durable:
		return nil
	}
}

// errAbort marks a transaction abandoned because one operation failed
// unexpectedly; the others are then run one by one.
var errAbort = errors.New("batch aborted")

// completion is a batch whose writes are on their way to disk.
type completion struct {
	batch []*op
	tx    *wtx
	wait  func() error
}

// complete answers the batches the writer handed over, in order, once each
// is durable.
func (s *Store) complete() {
	defer close(s.completed)
	for c := range s.completions {
		s.finish(c.batch, c.tx, c.wait())
		s.inflight.Add(-1)
		select {
		case s.durable <- struct{}{}:
		default:
		}
	}
}

// finish answers a batch: after its commit (err nil), or with err.
func (s *Store) finish(batch []*op, tx *wtx, err error) {
	if err == nil {
		s.commits.Add(1)
		s.committed.Add(int64(len(batch)))
		tx.committed()
		if tx.events {
			s.notifyEvents()
			if s.cl != nil {
				s.eventsPending()
			}
		}
	}
	for _, o := range batch {
		if err != nil && (o.err == nil || isRuleError(o.err)) {
			o.err = classify(err, "commit")
		}
		close(o.done)
	}
}

// commit runs batch as one transaction and hands it on to be answered
// once durable. With gather set (a kv.Pipeliner), it also runs the
// operations that arrive while an earlier batch waits for the disk, as
// they arrive (see nextOp), so that their rules are checked meanwhile
// rather than after that fdatasync; held is a bulk op met so far, which
// ends the gathering. It returns the bulk op to run next, if any.
func (s *Store) commit(batch []*op, held *op, gather bool) *op {
	var failed int = -1
	tx := &wtx{}
	run := func(t kv.RwTx) error {
		*tx = wtx{RwTx: t, shard: s.shardOf()}
		if p, ok := t.(kv.Prefetcher); ok {
			var keys []kv.Key
			for _, o := range batch {
				keys = append(keys, o.reads...)
			}
			if len(keys) > 0 {
				p.Prefetch(keys)
			}
		}
		for i := 0; ; i++ {
			if i == len(batch) {
				if !gather || held != nil || len(batch) >= s.opts.MaxBatch {
					return nil
				}
				o := s.nextOp(true)
				if o == nil {
					return nil
				}
				if o.bulk {
					held = o
					return nil
				}
				batch = append(batch, o)
			}
			o := batch[i]
			o.err = safeCall(o.fn, tx)
			if o.err != nil && !isRuleError(o.err) {
				failed = i
				return errAbort
			}
		}
	}
	bulk := len(batch) == 1 && batch[0].bulk
	var err error
	switch b, p := s.db.(kv.Bulk); {
	case bulk && p:
		err = b.BulkUpdate(run)
	default:
		if pl, ok := s.db.(kv.Pipeliner); ok && !bulk {
			var wait func() error
			if wait, err = pl.UpdateAsync(run); err == nil {
				// The writer reuses batch's array for the next batch.
				s.inflight.Add(1)
				s.completions <- completion{batch: slices.Clone(batch), tx: tx, wait: wait}
				return held
			}
			break
		}
		err = s.db.Update(run)
	}
	if errors.Is(err, kv.ErrTooLarge) && len(batch) > 1 {
		// Over the engine's limits (etcd's operations per Txn): halves.
		s.commit(batch[:len(batch)/2], nil, false)
		s.commit(batch[len(batch)/2:], nil, false)
		return held
	}
	if err != nil && failed >= 0 && len(batch) > 1 {
		// Rerun each operation alone so only the faulty one fails.
		for _, o := range batch {
			s.commit([]*op{o}, nil, false)
		}
		return held
	}
	s.drainCompletions()
	s.finish(batch, tx, err)
	return held
}

// drainCompletions waits until the completer has answered every batch
// handed to it, so that a batch answered directly comes after them.
func (s *Store) drainCompletions() {
	if _, ok := s.db.(kv.Pipeliner); !ok {
		return
	}
	done := make(chan struct{})
	s.inflight.Add(1)
	s.completions <- completion{wait: func() error { close(done); return errSkip }}
	<-done
}

// errSkip marks the completion drainCompletions sends: it answers nobody.
var errSkip = errors.New("no batch")

// safeCall runs fn, turning a panic into an internal error.
func safeCall(fn func(*wtx) error, tx *wtx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = internal(fmt.Errorf("panic: %v", r), "internal error")
		}
	}()
	return fn(tx)
}

// view runs fn in a read transaction.
func (s *Store) view(fn func(tx kv.Tx) error) error {
	if err := s.db.View(fn); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return err
		}
		return classify(err, "read")
	}
	return nil
}
