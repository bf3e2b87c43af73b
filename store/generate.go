package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"promo/gen"
	"promo/store/kv"
)

// MaxGenerate is the most codes one Generate call makes.
const MaxGenerate = 100_000_000

// Batch records one Generate or Import call.
type Batch struct {
	ID        string    `json:"id"`
	Campaign  string    `json:"campaign"`
	Kind      string    `json:"kind"` // "generate" or "import"
	Requested int       `json:"requested"`
	Done      int       `json:"done"`
	CreatedAt time.Time `json:"created_at"`
}

// GenerateRequest asks for Count new codes.
type GenerateRequest struct {
	Count int `json:"count"`
	// Progress, if set, is called after each committed chunk.
	Progress func(done, total int) `json:"-"`
	// Idempotency, if set, makes a retry with the same key replay the result.
	Idempotency *Idempotency `json:"-"`
}

// GenerateResult reports a Generate call.
type GenerateResult struct {
	Generated int    `json:"generated"`
	Batch     string `json:"batch"`
	Campaign  string `json:"campaign"`
}

// Generate makes req.Count random codes for the campaign, unique across the
// whole database, in transactions of Options.ChunkSize codes so that memory
// stays bounded; a crash part-way leaves whole chunks whose codes the
// counters count. Codes are made in key order (each code's first symbols are
// drawn first, which keeps the distribution uniform) so every chunk touches
// one narrow range of the B+tree. It returns invalid_request for a bad count,
// not_found, conflict for an archived campaign, capacity when the guess odds
// would be broken, and ctx's error (with the codes made so far) when ctx ends.
func (s *Store) Generate(ctx context.Context, campaignID string, req GenerateRequest) (GenerateResult, error) {
	if req.Count < 1 || req.Count > MaxGenerate {
		return GenerateResult{}, fieldErr("count", "want 1 to %d codes per call, got %d", MaxGenerate, req.Count)
	}
	defer s.bulk()()
	var res GenerateResult
	err := s.idempotent(ctx, req.Idempotency, &res, func() error {
		var err error
		res, err = s.generate(ctx, campaignID, req)
		return err
	})
	return res, err
}

// minCellRoom is the fewest possible codes a generation's cell may hold.
// How many codes a cell holds is about Poisson: with 64 places in a space
// half full, the chance that a cell is asked for more than it holds is
// 2e-7. Cells of ten in a space two fifths full, which etcd's small
// transactions once led to, overflow at 3e-3 each: a generation over
// 10,000 of them always gave up.
const minCellRoom = 64

func (s *Store) generate(ctx context.Context, campaignID string, req GenerateRequest) (GenerateResult, error) {
	s.genMu.Lock()
	defer s.genMu.Unlock()
	c, err := s.campaign(campaignID)
	if err != nil {
		return GenerateResult{}, err
	}
	if c.Status == StatusArchived {
		return GenerateResult{}, Errorf(EConflict, "campaign %q is archived; it takes no new codes", c.ID)
	}
	var existing, total uint64
	if err := s.view(func(tx kv.Tx) error {
		existing, total = s.codeCounts(tx, c.Format)
		return nil
	}); err != nil {
		return GenerateResult{}, err
	}
	if err := c.Format.CheckCapacity(existing, uint64(req.Count), c.MinGuessOdds); err != nil {
		return GenerateResult{}, &Error{Code: ECapacity, Field: "count", Message: err.Error(), Err: err}
	}
	g, err := gen.NewGenerator(c.Format, s.opts.Random)
	if err != nil {
		return GenerateResult{}, internal(err, "make a generator")
	}
	chunk := s.chunkFor(g.KeyLen())
	// Cells fine enough that one chunk's range holds few existing codes,
	// and with room for minCellRoom codes or more.
	p := 0
	for p < c.Format.Length-1 && g.Cells(p+1) != 0 && g.Cells(p+1) <= 1<<20 &&
		c.Format.Space()/float64(g.Cells(p+1)) >= minCellRoom &&
		uint64(g.Cells(p))*uint64(chunk) < 4*(total+uint64(req.Count)) {
		p++
	}
	counts := make([]uint32, g.Cells(p))
	for i := 0; i < req.Count; i++ {
		cell, err := g.Cell(p)
		if err != nil {
			return GenerateResult{}, internal(err, "draw random codes")
		}
		counts[cell]++
	}
	res := GenerateResult{Campaign: c.ID}
	var batch uint64
	err = s.update(ctx, func(tx *wtx) error {
		var err error
		batch, err = newBatch(tx, s.now(), &Batch{Campaign: c.ID, Kind: "generate", Requested: req.Count})
		return err
	})
	if err != nil {
		return res, err
	}
	res.Batch = batchName(batch)
	// The next chunk is drawn and sorted while the writer stores this one,
	// on the other core: drawing and sorting were a sixth of a generation's
	// time. makeUnique's replacements, drawn on the writer's goroutine, take
	// a generator of their own (a Generator is not safe for concurrent use).
	fix, err := gen.NewGenerator(c.Format, s.opts.Random)
	if err != nil {
		return res, internal(err, "make a generator")
	}
	keyLen := g.KeyLen()
	var bufs [2]struct {
		arena []byte
		keys  [][]byte
	}
	var inflight chan error // the chunk the writer is storing, if any
	var inflightN int
	wait := func() error {
		if inflight == nil {
			return nil
		}
		err := <-inflight
		inflight = nil
		if err == nil {
			res.Generated += inflightN
			if req.Progress != nil {
				req.Progress(res.Generated, req.Count)
			}
		}
		return err
	}
	// finish returns err, or the stored chunk's failure, once no chunk is
	// in flight: nothing is written after Generate returns.
	finish := func(err error) (GenerateResult, error) {
		if werr := wait(); err == nil {
			err = werr
		}
		return res, err
	}
	for i, cell := 0, 0; cell < len(counts); i++ {
		if err := ctx.Err(); err != nil {
			return finish(err)
		}
		b := &bufs[i%2] // the other is the chunk in flight
		b.arena, b.keys = b.arena[:0], b.keys[:0]
		if b.arena == nil {
			b.arena, b.keys = make([]byte, 0, chunk*keyLen), make([][]byte, 0, chunk)
		}
		for ; cell < len(counts) && (len(b.keys) == 0 || len(b.keys)+int(counts[cell]) <= chunk); cell++ {
			for j := uint32(0); j < counts[cell]; j++ {
				if b.arena, err = g.AppendKey(b.arena, cell, p); err != nil {
					return finish(internal(err, "draw random codes"))
				}
				b.keys = append(b.keys, b.arena[len(b.arena)-keyLen:len(b.arena):len(b.arena)])
			}
		}
		keys := b.keys
		slices.SortFunc(keys, bytes.Compare)
		if err := wait(); err != nil {
			return res, err
		}
		done := make(chan error, 1)
		inflight, inflightN = done, len(keys)
		go func() {
			done <- s.bulkUpdate(ctx, func(tx *wtx) error {
				if err := s.makeUnique(tx, fix, keys, p); err != nil {
					return err
				}
				return s.insertCodes(tx, c, batch, keys, nil, cGenerated, true)
			})
		}()
	}
	if err := wait(); err != nil {
		return res, err
	}
	if err := s.SaveFilter(); err != nil {
		s.log.Warn("saving the filter after generating", "err", err)
	}
	return res, nil
}

// makeUnique replaces keys that exist in the database or repeat within keys
// by fresh ones from the same cells, leaves keys sorted, and adds them to
// the filter. With 55 random bits a replacement almost never happens; the
// filter makes the check nearly free: each key is tested and added in one
// pass, and only the few it may hold already (its false positives) are
// read from the database.
func (s *Store) makeUnique(tx kv.Tx, g *gen.Generator, keys [][]byte, p int) error {
	f := s.filter.Load()
	maybe := map[string]bool{} // keys the filter may have held before they were added
	for _, i := range f.TestAndAddMany(keys, nil) {
		maybe[string(keys[i])] = true
	}
	exists := func(k []byte) bool { return maybe[string(k)] && tx.Get(bucketCodes, k) != nil }
	if s.cl != nil && len(keys) > 0 {
		// Another node may have just stored any of them, and this node's
		// filter may not know it yet: one Scan of the chunk's range reads
		// them all and conflicts with any code stored in it before this
		// commits; a replacement outside it is read.
		// Both ends are copies: replacements are made in place, and a range
		// that moved with keys[0] would take in keys the Scan never read.
		lo, hi := bytes.Clone(keys[0]), append(bytes.Clone(keys[len(keys)-1]), 0)
		stored := map[string]bool{}
		tx.Scan(bucketCodes, kv.Range{Start: lo, End: hi}, func(k, _ []byte) bool {
			stored[string(k)] = true
			return true
		})
		r := kv.Range{Start: lo, End: hi}
		exists = func(k []byte) bool {
			if r.Contains(k) {
				return stored[string(k)]
			}
			return tx.Get(bucketCodes, k) != nil
		}
	}
	for tries := 0; ; tries++ {
		dups := 0
		for i, k := range keys {
			if (i > 0 && bytes.Equal(keys[i-1], k)) || exists(k) {
				// Same cell: a key's first p random symbols name its cell.
				fresh, err := g.AppendKey(nil, g.CellOf(k, p), p)
				if err != nil {
					return internal(err, "draw random codes")
				}
				copy(k, fresh)
				if len(f.TestAndAddMany([][]byte{k}, nil)) > 0 {
					maybe[string(k)] = true
				}
				dups++
			}
		}
		if dups == 0 {
			return nil
		}
		if tries > 100 {
			return internal(errors.New("no unique code after 100 tries"), "generate unique codes")
		}
		slices.SortFunc(keys, bytes.Compare)
	}
}

// insertCodes stores new codes (sorted keys) for campaign c: the records,
// the campaign's creation-order index, the counters, the batch's progress,
// an event, and the filter (before commit; inFilter says makeUnique has
// added them already). displays, when set, holds each code's form as
// imported. counter is cGenerated or cImported.
func (s *Store) insertCodes(tx *wtx, c *Campaign, batch uint64, keys [][]byte, displays []string, counter int64, inFilter bool) error {
	if len(keys) == 0 {
		return nil
	}
	if !inFilter {
		s.filter.Load().AddMany(keys)
	}
	if err := s.filterGrew(tx); err != nil {
		return err
	}
	rec := codeRec{state: stateAvailable, camp: c.Num, batch: batch}
	plain := rec.encode()
	for i, k := range keys {
		val := plain
		if displays != nil && displays[i] != string(k) {
			r := rec
			r.display = displays[i]
			val = r.encode()
		}
		tx.Put(bucketCodes, k, val)
	}
	// Generated codes enter the campaign's creation order shuffled: they are
	// made in key order, and handing them out in that order would give
	// consecutive customers codes that start alike, which looks guessable.
	// Imported codes keep the order of their file.
	order := keys
	if counter == cGenerated {
		order = slices.Clone(keys)
		rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	v := readVec(tx, c.Num)
	if err := appendIndex(tx, c.Num, uint64(v[cGenerated]+v[cImported]), order); err != nil {
		return err
	}
	n := int64(len(keys))
	if err := bump(tx, counterKey(c.Num, dimTotal, nil), nCounters, counter, n, cStAvailable, n); err != nil {
		return err
	}
	if batch != 0 {
		if err := bumpBatch(tx, batch, len(keys)); err != nil {
			return err
		}
	}
	typ := EventCodesGenerated
	if counter == cImported {
		typ = EventCodesImported
	}
	return appendEvent(tx, s.now(), &Event{Type: typ, Campaign: c.ID, Batch: batchName(batch), Count: n})
}

// codeCounts returns, from the counters, how many codes share format f's
// guess space (shape) and how many the database holds in all (total).
func (s *Store) codeCounts(tx kv.Tx, f gen.Format) (shape, total uint64) {
	for _, o := range s.cat.Load().byID {
		v := readVec(tx, o.Num)
		n := uint64(v[cGenerated] + v[cImported])
		total += n
		if o.Format.SameShape(f) {
			shape += n
		}
	}
	return shape, total
}

func newBatch(tx *wtx, now time.Time, b *Batch) (uint64, error) {
	n := tx.nextSeq(seqBatches)
	b.ID, b.CreatedAt = batchName(n), now.UTC()
	v, err := json.Marshal(b)
	if err != nil {
		return 0, err
	}
	tx.Put(bucketBatches, seqKey(n), v)
	return n, nil
}

// getBatch returns batch n, nil when there is none.
func (s *Store) getBatch(n uint64) (*Batch, error) {
	var b *Batch
	err := s.view(func(tx kv.Tx) error {
		v := tx.Get(bucketBatches, seqKey(n))
		if v == nil {
			return nil
		}
		b = &Batch{}
		return json.Unmarshal(v, b)
	})
	return b, err
}

// campaignBatches returns the campaign's batches, oldest first.
func campaignBatches(tx kv.Tx, campaignID string) ([]Batch, error) {
	out := []Batch{}
	var err error
	tx.Scan(bucketBatches, kv.All, func(_, v []byte) bool {
		var b Batch
		if err = json.Unmarshal(v, &b); err != nil {
			return false
		}
		if b.Campaign == campaignID {
			out = append(out, b)
		}
		return true
	})
	return out, err
}

func bumpBatch(tx *wtx, n uint64, done int) error {
	var b Batch
	if err := json.Unmarshal(tx.Get(bucketBatches, seqKey(n)), &b); err != nil {
		return fmt.Errorf("batch %d: %w", n, err)
	}
	b.Done += done
	v, err := json.Marshal(&b)
	if err != nil {
		return err
	}
	tx.Put(bucketBatches, seqKey(n), v)
	return nil
}

// chunkFor returns how many codes of keyLen bytes one transaction of
// Generate writes: Options.ChunkSize, within the engine's limits (etcd's
// operations and bytes per Txn) with room for the counters, the index page,
// the batch and the event.
func (s *Store) chunkFor(keyLen int) int {
	chunk := s.opts.ChunkSize
	if l, ok := s.db.(kv.Limiter); ok {
		lim := l.Limits()
		if lim.MaxOps > 0 {
			chunk = min(chunk, max(1, lim.MaxOps-16))
		}
		if lim.MaxBytes > 0 {
			// A code's key and record, its place in an index page (a whole
			// page of indexPageSize keys may be rewritten), overheads.
			perCode := 3*keyLen + 96
			chunk = min(chunk, max(1, (lim.MaxBytes-indexPageSize*keyLen-64<<10)/perCode))
		}
	}
	return chunk
}

// perTx returns how many items of opsEach keys read and written one
// transaction takes: n, within the engine's operations per transaction
// (etcd's), with room for counters, an event and a batch.
func (s *Store) perTx(n, opsEach int) int {
	if l, ok := s.db.(kv.Limiter); ok {
		if lim := l.Limits(); lim.MaxOps > 0 {
			n = min(n, max(1, (lim.MaxOps-16)/opsEach))
		}
	}
	return n
}
