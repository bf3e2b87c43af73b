// Shards: what every redemption writes, kept per node on a cluster.
//
// A redemption writes its campaign's counters, takes a redemption id and
// appends an event. On a file there is one writer, and its group commit
// writes each of those keys once per group. On a cluster every node's
// groups would write the same keys, and etcd would make two nodes' commits
// conflict on them and run again one after the other. So on a cluster each
// store claims a shard (1…maxShard, 0 is the file's) and writes its own keys:
//
//   - counters: its deltas go to bucketCounterShards under the counter's key
//     and the shard; a counter is its key in bucketCounters plus every
//     shard's (readCounter). Reads that need the total (a budget, Assign's
//     cursor, stats, check) read every shard, so they still conflict with
//     other nodes' writes, as they must.
//   - redemption ids: shard s hands out the ids ≡ s (mod idStride), from
//     its own sequence, each above the file-wide sequence (which a file and
//     a backup of the cluster keep past every id).
//   - events: written in the same transaction to bucketEventsPending under
//     the shard and its own sequence, then numbered (numberEvents): moved to
//     bucketEvents with the next gap-free seq, in the order their commits
//     have in etcd. Reads of the log number what is pending first, so a
//     client reads its own events at once; every node numbers in the
//     background too.
//
// Two stores that hold the same shard (a claim that lapsed) stay correct:
// their commits conflict on the shard's keys as all nodes' did before.

package store

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"promo/store/kv"
)

const (
	bucketCounterShards kv.Bucket = "counter_shards" // counter key, shard(1) → vector of deltas
	bucketEventsPending kv.Bucket = "events_pending" // shard(1) seq(8) → Event JSON without its seq
	// bucketShards holds the claims: which store writes under which shard
	// now. They are not data: copies (backup, migrate) leave them out.
	bucketShards kv.Bucket = "shards" // shard number → leaseRec JSON

	maxShard  = 63
	idStride  = 64 // redemption ids of shard s are ≡ s (mod idStride)
	shardTTL  = time.Minute
	numberMax = 60 // events numbered per transaction: 2 writes each, within 128
	// numberDelay is how long numberLoop lets events gather after a
	// commit, so that one Txn numbers many; readers of the log do not
	// wait for it (they number first).
	numberDelay = 10 * time.Millisecond
)

// shardOf returns the shard a new write transaction writes under.
func (s *Store) shardOf() byte {
	if s.cl == nil {
		return 0
	}
	return byte(s.cl.shard.Load())
}

// claimShard makes this store the holder of a free shard (one whose claim
// has lapsed), starting from a random one, or keeps a random shard when
// none is free. It runs at open and then every shardTTL/3 to renew.
func (s *Store) claimShard() error {
	if s.opts.ReadOnly {
		return nil
	}
	cur := byte(s.cl.shard.Load())
	claimed := cur
	err := s.db.Update(func(tx kv.RwTx) error {
		claimed = cur // every shard claimed: share cur
		for i := range byte(maxShard) {
			n := (cur-1+i)%maxShard + 1
			ok, err := takeLease(tx, bucketShards, shardClaimKey(n), s.cl.holder, s.now(), shardTTL)
			if ok || err != nil {
				claimed = n
				return err
			}
		}
		return nil
	})
	if err == nil {
		s.cl.shard.Store(uint32(claimed))
	}
	return err
}

func shardClaimKey(n byte) []byte { return []byte(strconv.Itoa(int(n))) }

// randomShard is a shard to start from, 1…maxShard, and a holder name
// for this store's claims.
func randomShard() (byte, string) {
	var id [8]byte
	_, _ = crand.Read(id[:]) // never fails (Go 1.24+: it crashes instead)
	return byte(rand.IntN(maxShard)) + 1, hex.EncodeToString(id[:])
}

// bump adds deltas (pairs of index, amount) to the counter vector at key:
// to the transaction's shard of it on a cluster.
func bump(tx *wtx, key []byte, n int, deltas ...int64) error {
	b := bucketCounters
	if tx.shard != 0 {
		b, key = bucketCounterShards, append(bytes.Clone(key), tx.shard)
	}
	v := decodeVec(tx.Get(b, key), n)
	for i := 0; i+1 < len(deltas); i += 2 {
		v[deltas[i]] += deltas[i+1]
	}
	tx.Put(b, key, encodeVec(v))
	return nil
}

// readCounter returns the counter vector at key: its value plus every
// shard's.
func readCounter(tx kv.Tx, key []byte, n int) []int64 {
	v := decodeVec(tx.Get(bucketCounters, key), n)
	tx.Scan(bucketCounterShards, kv.Prefix(key), func(k, sv []byte) bool {
		if len(k) == len(key)+1 {
			for i, x := range decodeVec(sv, n) {
				v[i] += x
			}
		}
		return true
	})
	return v
}

// scanCounters calls fn with each counter key that starts with prefix, in
// key order, and its vector summed over the shards.
func scanCounters(tx kv.Tx, prefix []byte, n int, fn func(k []byte, v []int64)) {
	var keys [][]byte
	sums := map[string][]int64{}
	add := func(k []byte, v []byte) {
		cur, ok := sums[string(k)]
		if !ok {
			cur = make([]int64, n)
			sums[string(k)] = cur
			keys = append(keys, bytes.Clone(k))
		}
		for i, x := range decodeVec(v, n) {
			cur[i] += x
		}
	}
	tx.Scan(bucketCounters, kv.Prefix(prefix), func(k, v []byte) bool { add(k, v); return true })
	tx.Scan(bucketCounterShards, kv.Prefix(prefix), func(k, v []byte) bool { add(k[:len(k)-1], v); return true })
	slices.SortFunc(keys, bytes.Compare)
	for _, k := range keys {
		fn(k, sums[string(k)])
	}
}

// nextRedemptionID hands out a redemption id: the file's sequence on a
// file, the shard's ids on a cluster.
func (tx *wtx) nextRedemptionID() uint64 {
	if tx.shard == 0 {
		return tx.nextSeq(seqRedemptions)
	}
	name := seqRedemptions + "/" + strconv.Itoa(int(tx.shard))
	floor := max(readSeq(tx, name), readSeq(tx, seqRedemptions))
	id := floor - floor%idStride + uint64(tx.shard)
	if id <= floor {
		id += idStride
	}
	tx.Put(bucketMeta, seqKeyName(name), binary.BigEndian.AppendUint64(nil, id))
	return id
}

// appendEvent adds e to the event log: numbered now on a file, pending
// under the transaction's shard on a cluster (numberEvents numbers it).
func appendEvent(tx *wtx, now time.Time, e *Event) error {
	e.Time = now.UTC()
	tx.events = true
	if tx.shard == 0 {
		e.Seq = tx.nextSeq(seqEvents)
		tx.Put(bucketEvents, seqKey(e.Seq), e.appendJSON(nil))
		return nil
	}
	n := tx.nextSeq(seqEvents + "/" + strconv.Itoa(int(tx.shard)))
	tx.Put(bucketEventsPending, append([]byte{tx.shard}, seqKey(n)...), e.appendJSON(nil))
	return nil
}

// settleEvents numbers the events pending now, so that a read of the log
// that follows sees every event committed before it. On a file it does
// nothing. A failure leaves them to the next reader or the background.
func (s *Store) settleEvents() {
	if s.cl == nil || s.opts.ReadOnly {
		return
	}
	if err := s.numberEvents(); err != nil {
		s.log.Debug("numbering events", "err", err)
	}
}

// numberEvents moves the pending events to the log, oldest commit first,
// each with the next seq, until none is pending. Nodes that number at once
// conflict on the event sequence in etcd, and the loser runs again on the
// new state: no event is numbered twice or skipped.
func (s *Store) numberEvents() error {
	s.cl.numberMu.Lock()
	defer s.cl.numberMu.Unlock()
	for {
		n := 0
		err := s.db.Update(func(tx kv.RwTx) error {
			o, ok := tx.(kv.CommitOrderer)
			if !ok {
				return fmt.Errorf("the engine %T cannot order commits", tx)
			}
			keys, values := o.Oldest(bucketEventsPending, numberMax)
			n = len(keys)
			if n == 0 {
				return nil
			}
			for _, k := range keys {
				tx.Delete(bucketEventsPending, k)
			}
			_, err := putNumbered(tx, readSeq(tx, seqEvents), values)
			return err
		})
		if err != nil || n < numberMax {
			return err
		}
	}
}

// numberLoop numbers events in the background: numberDelay after this
// store committed some, and every second for those of nodes that stopped before
// they numbered theirs. It also renews the shard's claim.
func (s *Store) numberLoop(ctx context.Context) {
	defer s.cl.done.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	renew := time.NewTicker(shardTTL / 3)
	defer renew.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-renew.C:
			if err := s.claimShard(); err != nil {
				s.log.Debug("renewing the shard claim", "err", err)
			}
			continue
		case <-s.cl.pending:
			// Let the groups of the next moment join: one Txn numbers many.
			select {
			case <-ctx.Done():
				return
			case <-time.After(numberDelay):
			}
		case <-tick.C:
		}
		s.settleEvents()
	}
}

// eventsPending wakes numberLoop after a commit that appended events.
func (s *Store) eventsPending() {
	select {
	case s.cl.pending <- struct{}{}:
	default:
	}
}

// numberPendingInto numbers the events pending in tx (a cluster's
// snapshot) into dst, a copy of that snapshot's other buckets, as
// numberEvents would have: so a backup taken under load is a whole log.
func numberPendingInto(tx kv.Tx, dst kv.Engine) error {
	o, ok := tx.(kv.CommitOrderer)
	if !ok {
		return nil
	}
	keys, values := o.Oldest(bucketEventsPending, 1<<30)
	if len(keys) == 0 {
		return tx.Err()
	}
	seq := readSeq(tx, seqEvents)
	for len(values) > 0 {
		part := values[:min(len(values), 10_000)]
		values = values[len(part):]
		err := dst.Update(func(out kv.RwTx) error {
			var err error
			seq, err = putNumbered(out, seq, part)
			return err
		})
		if err != nil {
			return err
		}
	}
	return tx.Err()
}

// putNumbered puts the pending events values into the log as seq+1,
// seq+2, … and moves the event sequence to the last; it returns that.
func putNumbered(tx kv.RwTx, seq uint64, values [][]byte) (uint64, error) {
	for _, v := range values {
		var e Event
		if err := json.Unmarshal(v, &e); err != nil {
			return seq, internal(err, "read pending event")
		}
		seq++
		e.Seq = seq
		tx.Put(bucketEvents, seqKey(seq), e.appendJSON(nil))
	}
	tx.Put(bucketMeta, seqKeyName(seqEvents), binary.BigEndian.AppendUint64(nil, seq))
	return seq, nil
}
