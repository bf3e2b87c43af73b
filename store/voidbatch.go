package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// voidChunk is how many codes of the campaign's index one transaction of
// VoidBatch walks: small enough that redemptions queued meanwhile wait
// for one short transaction at most.
const voidChunk = 2000

// VoidBatchRequest voids the codes of one batch of a campaign (or, with
// Batch empty, of the whole campaign) that are not yet redeemed.
type VoidBatchRequest struct {
	Batch  string `json:"batch"`
	Reason string `json:"reason"`
}

// VoidBatchResult reports a VoidBatch.
type VoidBatchResult struct {
	Voided   int    `json:"voided"`
	Campaign string `json:"campaign"`
	Batch    string `json:"batch,omitempty"`
}

// VoidBatch voids every code of the batch (or of the campaign) that is not
// yet redeemed, for a printed batch that leaked: redeemed codes stay
// redeemed, voided ones stay as they are. It walks the campaign's codes in
// chunks of a few thousand per transaction, so a batch of a million codes
// neither stalls redemptions nor holds memory per code, and writes one
// event with the count (codes.voided) in its last transaction. Run again
// after an interruption, it voids what is left. It returns not_found (the
// campaign, or a batch it does not have) or invalid_request.
func (s *Store) VoidBatch(ctx context.Context, campaignID string, req VoidBatchRequest) (VoidBatchResult, error) {
	c, err := s.campaign(campaignID)
	if err != nil {
		return VoidBatchResult{}, err
	}
	if err := checkText("reason", req.Reason, 500, false); err != nil {
		return VoidBatchResult{}, err
	}
	var batch uint64
	if req.Batch != "" {
		batch, err = s.campaignBatch(c, req.Batch)
		if err != nil {
			return VoidBatchResult{}, err
		}
	}
	res := VoidBatchResult{Campaign: c.ID, Batch: req.Batch}
	voidChunk := uint64(s.perTx(voidChunk, 1))
	for from, done := uint64(0), false; !done; {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		err := s.update(ctx, func(tx *wtx) error {
			now := s.now().UTC()
			n, next, more := 0, from, false
			var stateDeltas [4]int64
			err := walkIndex(tx, c.Num, from, func(seq uint64, key []byte) (bool, error) {
				if seq >= from+voidChunk {
					next, more = seq, true
					return false, nil
				}
				next = seq + 1
				rec, err := decodeCodeRec(tx.Get(bucketCodes, key))
				if err != nil {
					return false, internal(err, "read code")
				}
				if (batch != 0 && rec.batch != batch) || rec.state == stateRedeemed || rec.state == stateVoided {
					return true, nil
				}
				stateDeltas[rec.state]--
				rec.state, rec.voidedAt = stateVoided, now.UnixMilli()
				tx.Put(bucketCodes, append([]byte(nil), key...), rec.encode())
				n++
				return true, nil
			})
			if err != nil {
				return err
			}
			if n > 0 {
				deltas := []int64{cVoided, int64(n), cStVoided, int64(n),
					cStAvailable, stateDeltas[stateAvailable], cStAssigned, stateDeltas[stateAssigned]}
				if err := bump(tx, counterKey(c.Num, dimTotal, nil), nCounters, deltas...); err != nil {
					return err
				}
			}
			total := res.Voided + n
			if !more && total > 0 {
				if err := appendEvent(tx, now, &Event{Type: EventCodesVoided, Campaign: c.ID, Batch: req.Batch,
					Count: int64(total), Reason: req.Reason}); err != nil {
					return err
				}
			}
			tx.onCommit(func() { res.Voided, from, done = total, next, !more })
			return nil
		})
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// campaignBatch returns the number of c's batch named name, or not_found.
func (s *Store) campaignBatch(c *Campaign, name string) (uint64, error) {
	n, err := strconv.ParseUint(strings.TrimPrefix(name, "b"), 10, 64)
	notFound := &Error{Code: ENotFound, Field: "batch", Message: fmt.Sprintf("batch: campaign %q has no batch %q (batches look like b1; `promo stats %s` lists them)", c.ID, truncate(name, 40), c.ID)}
	if err != nil || !strings.HasPrefix(name, "b") || n == 0 {
		return 0, notFound
	}
	b, err := s.getBatch(n)
	if err != nil {
		return 0, err
	}
	if b == nil || b.Campaign != c.ID {
		return 0, notFound
	}
	return n, nil
}
