package store

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"promo/gen"
)

func TestStore_Generate(t *testing.T) {
	s, _ := testStore(t, Options{ChunkSize: 1000})
	mustCampaign(t, s, CampaignSpec{ID: "a"})
	mustCampaign(t, s, CampaignSpec{ID: "b", Format: &gen.Format{Alphabet: "numeric", Length: 10, Prefix: "VIP-", Group: 0}})
	var progress []int
	res, err := s.Generate(ctx, "a", GenerateRequest{Count: 10_500, Progress: func(done, total int) {
		require.Equal(t, 10_500, total)
		progress = append(progress, done)
	}})
	require.NoError(t, err)
	require.Equal(t, 10_500, res.Generated)
	require.Equal(t, "b1", res.Batch)
	require.GreaterOrEqual(t, len(progress), 10, "written in chunks of about 1000")
	require.Equal(t, 10_500, progress[len(progress)-1])

	resB, err := s.Generate(ctx, "b", GenerateRequest{Count: 50})
	require.NoError(t, err)
	require.NotEqual(t, res.Batch, resB.Batch)

	seen := map[string]bool{}
	for _, id := range []string{"a", "b"} {
		c, _ := s.Campaign(id)
		m := gen.NewMatcher(c.Format)
		require.NoError(t, s.EachCode(id, "", func(code Code) error {
			require.False(t, seen[code.Code], "duplicate %s", code.Code)
			seen[code.Code] = true
			require.Equal(t, "available", code.State)
			key, err := gen.Normalize(code.Code)
			require.NoError(t, err)
			require.Equal(t, gen.Valid, m.Match(key))
			return nil
		}))
	}
	require.Len(t, seen, 10_550)
	c, err := s.Campaign("b")
	require.NoError(t, err)
	require.Equal(t, int64(50), c.Counts.Generated)
	require.Equal(t, int64(50), c.Counts.ByState.Available)
	page, err := s.Codes("b", CodeQuery{Limit: 1})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(page.Codes[0].Code, "VIP-"), page.Codes[0].Code)
}

func TestStore_Generate_Refusals(t *testing.T) {
	s, _ := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "small", Format: &gen.Format{Alphabet: "numeric", Length: 8}})
	mustCampaign(t, s, CampaignSpec{ID: "same-shape", Format: &gen.Format{Alphabet: "numeric", Length: 8}})
	mustCampaign(t, s, CampaignSpec{ID: "risky", Format: &gen.Format{Alphabet: "numeric", Length: 8}, MinGuessOdds: 1000})

	_, err := s.Generate(ctx, "small", GenerateRequest{Count: 0})
	requireCode(t, err, EInvalid)
	_, err = s.Generate(ctx, "nope", GenerateRequest{Count: 1})
	requireCode(t, err, ENotFound)
	_, err = s.Generate(ctx, "small", GenerateRequest{Count: 101})
	requireCode(t, err, ECapacity)
	require.Contains(t, ErrorMessage(err), "at most 100 more")
	require.Contains(t, ErrorMessage(err), "length 9")
	mustGenerate(t, s, "small", 60)
	// Codes of the same shape share one guess space.
	_, err = s.Generate(ctx, "same-shape", GenerateRequest{Count: 41})
	requireCode(t, err, ECapacity)
	require.Contains(t, ErrorMessage(err), "at most 40 more")
	// A campaign may accept worse odds on purpose.
	mustGenerate(t, s, "risky", 500)

	_, err = s.UpdateCampaign(ctx, "small", CampaignPatch{Status: ptr(StatusArchived)})
	require.NoError(t, err)
	_, err = s.Generate(ctx, "small", GenerateRequest{Count: 1})
	requireCode(t, err, EConflict)
}

// Cancelling part-way leaves only whole chunks, and the counters count
// exactly the codes stored (the cleanup's Check verifies the rest).
func TestStore_Generate_CancelLeavesWholeChunks(t *testing.T) {
	s, _ := testStore(t, Options{ChunkSize: 500})
	mustCampaign(t, s, CampaignSpec{ID: "c"})
	cctx, cancel := context.WithCancel(ctx)
	res, err := s.Generate(cctx, "c", GenerateRequest{Count: 10_000, Progress: func(done, _ int) {
		if done >= 2000 {
			cancel()
		}
	}})
	require.ErrorIs(t, err, context.Canceled)
	require.Greater(t, res.Generated, 0)
	require.Less(t, res.Generated, 10_000)
	c, err := s.Campaign("c")
	require.NoError(t, err)
	require.Equal(t, int64(res.Generated), c.Counts.Generated)
	n := 0
	require.NoError(t, s.EachCode("c", "", func(Code) error { n++; return nil }))
	require.Equal(t, res.Generated, n)
}

func TestStore_Generate_Idempotent(t *testing.T) {
	s, _ := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "c"})
	idem := &Idempotency{Scope: "k", Key: "gen-1", Hash: [32]byte{1}}
	r1, err := s.Generate(ctx, "c", GenerateRequest{Count: 10, Idempotency: idem})
	require.NoError(t, err)
	r2, err := s.Generate(ctx, "c", GenerateRequest{Count: 10, Idempotency: idem})
	require.NoError(t, err)
	require.Equal(t, r1, r2)
	c, _ := s.Campaign("c")
	require.Equal(t, int64(10), c.Counts.Generated, "the retry made no codes")
	_, err = s.Generate(ctx, "c", GenerateRequest{Count: 11, Idempotency: &Idempotency{Scope: "k", Key: "gen-1", Hash: [32]byte{2}}})
	requireCode(t, err, EIdempotencyMismatch)
}

func TestStore_Import(t *testing.T) {
	s, _ := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "shop"})
	mustCampaign(t, s, CampaignSpec{ID: "other"})

	res, err := s.Import(ctx, "shop", strings.NewReader("Code,Amount\nSUMMER-10,10\nwelcome-bob,5\n\n  vip 2026  ,7\n"), ImportOptions{})
	require.NoError(t, err)
	require.True(t, res.Header)
	require.Equal(t, 3, res.Imported)
	require.Empty(t, res.Skipped)

	// The same file again imports nothing twice.
	res, err = s.Import(ctx, "shop", strings.NewReader("code\nSUMMER-10\nWELCOME-BOB\n"), ImportOptions{})
	require.NoError(t, err)
	require.Equal(t, 0, res.Imported)
	require.Equal(t, 2, res.AlreadyPresent)

	c, err := s.GetCode("summer10")
	require.NoError(t, err)
	require.Equal(t, "SUMMER-10", c.Code, "imported codes keep their own form")
	require.Equal(t, "shop", c.Campaign)
	_, err = s.GetCode("VIP-2026")
	require.NoError(t, err)

	// One bad line refuses the whole file, naming every bad line.
	bad := "NEW-1\nNEW_2\nSUMMER-10\nNEW-3\nnew 3\nNEW-4\n"
	_, err = s.Import(ctx, "other", strings.NewReader(bad), ImportOptions{})
	requireCode(t, err, EInvalid)
	var e *Error
	require.ErrorAs(t, err, &e)
	problems := e.Details.([]ImportProblem)
	require.Len(t, problems, 3)
	require.Equal(t, 2, problems[0].Line)
	require.Contains(t, problems[0].Reason, "'_' is not a letter")
	require.Equal(t, 3, problems[1].Line)
	require.Contains(t, problems[1].Reason, "campaign shop")
	require.Equal(t, 5, problems[2].Line)
	require.Contains(t, problems[2].Reason, "repeats line 4")
	_, err = s.GetCode("NEW-1")
	requireCode(t, err, ENotFound)

	// Skipping on purpose imports the rest.
	res, err = s.Import(ctx, "other", strings.NewReader(bad), ImportOptions{SkipInvalid: true})
	require.NoError(t, err)
	require.Equal(t, 3, res.Imported)
	require.Len(t, res.Skipped, 3)

	_, err = s.Import(ctx, "other", strings.NewReader("a,b\n1,2\n"), ImportOptions{})
	requireCode(t, err, EInvalid)
	require.Contains(t, ErrorMessage(err), "no header")
}

// Imported codes may look like a generated format with a wrong check
// symbol; they are found, not reported as typos.
func TestStore_Lookup_ImportedCodeShapedLikeAFormat(t *testing.T) {
	s, _ := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "gen"})
	codes := mustGenerate(t, s, "gen", 1)
	key := mustNormalize(codes[0])
	wrong := []byte(string(key))
	last := len(wrong) - 1
	if wrong[last] == '0' {
		wrong[last] = '1'
	} else {
		wrong[last] = '0'
	}
	_, err := s.GetCode(string(wrong))
	requireCode(t, err, ETypo)
	mustCampaign(t, s, CampaignSpec{ID: "imp"})
	_, err = s.Import(ctx, "imp", strings.NewReader(string(wrong)+"\n"), ImportOptions{})
	require.NoError(t, err)
	c, err := s.GetCode(string(wrong))
	require.NoError(t, err)
	require.Equal(t, "imp", c.Campaign)
}

func TestStore_Lookup_CountsRejectionsByStage(t *testing.T) {
	s, _ := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "c"})
	codes := mustGenerate(t, s, "c", 10)
	before := s.Rejected()
	_, err := s.GetCode("!!!")
	requireCode(t, err, ENotFound)
	_, err = s.GetCode(codes[0][:len(codes[0])-1] + flipSymbol(codes[0][len(codes[0])-1]))
	requireCode(t, err, ETypo)
	g, _ := gen.NewGenerator(gen.DefaultFormat(), nil)
	for i := 0; i < 100; i++ {
		k, _ := g.AppendKey(nil, 0, 0)
		_, err = s.GetCode(string(k))
		requireCode(t, err, ENotFound)
	}
	after := s.Rejected()
	require.Equal(t, before.Malformed+1, after.Malformed)
	require.Equal(t, before.Typo+1, after.Typo)
	require.Equal(t, int64(100), after.Filter+after.Store-before.Filter-before.Store)
	require.GreaterOrEqual(t, after.Filter-before.Filter, int64(95), "the filter answers almost every guess without bbolt")
}

func flipSymbol(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

// Generated codes are handed out in random order, not in key order, so
// consecutive customers do not get codes that start alike.
func TestStore_Assign_GeneratedCodesInRandomOrder(t *testing.T) {
	s, _ := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "c"})
	mustGenerate(t, s, "c", 1000)
	var got []string
	for i := 0; i < 20; i++ {
		c, err := s.Assign(ctx, "c", AssignRequest{CustomerID: fmt.Sprint("cust-", i)})
		require.NoError(t, err)
		got = append(got, c.Code)
	}
	require.False(t, slices.IsSorted(got), "20 assignments in key order: %v", got)
}

// A dense fill: a fifth of a 100,000-code space, in chunks of 500, so
// that many drawn codes already exist and makeUnique replaces them on the
// writer's goroutine while the next chunk is being drawn on the caller's.
// Every code is stored once and the counters agree (the cleanup's Check
// verifies the rest).
func TestStore_Generate_DenseFillReplacesDuplicatesWhileTheNextChunkIsDrawn(t *testing.T) {
	s, _ := testStore(t, Options{ChunkSize: 500})
	mustCampaign(t, s, CampaignSpec{ID: "dense", Format: &gen.Format{Alphabet: "numeric", Length: 5}, MinGuessOdds: 1})
	const n = 20_000
	res, err := s.Generate(ctx, "dense", GenerateRequest{Count: n})
	require.NoError(t, err)
	require.Equal(t, n, res.Generated)
	seen := make(map[string]bool, n)
	require.NoError(t, s.EachCode("dense", "", func(c Code) error {
		require.False(t, seen[c.Code], "duplicate %s", c.Code)
		seen[c.Code] = true
		return nil
	}))
	require.Len(t, seen, n)
	c, err := s.Campaign("dense")
	require.NoError(t, err)
	require.Equal(t, int64(n), c.Counts.Generated)
}

// A second generation into a space a fifth full draws a stored code about
// once in five: the filter says "maybe" for those, the database confirms,
// and makeUnique replaces them, so every code is stored once. (A chunk
// never meets another chunk's codes of the same generation: each covers
// cells of its own.)
func TestStore_Generate_IntoAFilledSpaceReplacesStoredCodes(t *testing.T) {
	s, _ := testStore(t, Options{ChunkSize: 500})
	format := &gen.Format{Alphabet: "numeric", Length: 5}
	mustCampaign(t, s, CampaignSpec{ID: "first", Format: format, MinGuessOdds: 1})
	mustCampaign(t, s, CampaignSpec{ID: "second", Format: format, MinGuessOdds: 1})
	const n = 20_000
	for _, id := range []string{"first", "second"} {
		res, err := s.Generate(ctx, id, GenerateRequest{Count: n})
		require.NoError(t, err)
		require.Equal(t, n, res.Generated)
	}
	seen := make(map[string]string, 2*n)
	for _, id := range []string{"first", "second"} {
		require.NoError(t, s.EachCode(id, "", func(c Code) error {
			require.Empty(t, seen[c.Code], "%s of %s is also in %s", c.Code, id, seen[c.Code])
			seen[c.Code] = id
			return nil
		}))
	}
	require.Len(t, seen, 2*n)
}

// OnBulk hears when codes start and stop being added in bulk: around each
// generation and import, failed ones included, and once for an import and
// a generation that overlap (an import reads its file before it waits for
// a generation to finish).
func TestStore_OnBulk_BracketsGenerationsAndImports(t *testing.T) {
	var mu sync.Mutex
	var calls []bool
	got := func() []bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(calls)
	}
	s, _ := testStore(t, Options{OnBulk: func(running bool) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, running)
	}})
	mustCampaign(t, s, CampaignSpec{ID: "gen"})
	mustCampaign(t, s, CampaignSpec{ID: "imp", Kind: KindGeneric})
	_, err := s.Generate(ctx, "gen", GenerateRequest{Count: 10})
	require.NoError(t, err)
	_, err = s.Import(ctx, "imp", strings.NewReader("IMPORTED-1\n"), ImportOptions{})
	require.NoError(t, err)
	_, err = s.Generate(ctx, "missing", GenerateRequest{Count: 10})
	require.Equal(t, ENotFound, ErrorCode(err))
	_, err = s.Import(ctx, "imp", strings.NewReader("BAD_1\n"), ImportOptions{})
	require.Equal(t, EInvalid, ErrorCode(err), "a malformed code")
	_, err = s.Redeem(ctx, RedeemRequest{Code: "IMPORTED-1"})
	require.NoError(t, err)
	require.Equal(t, []bool{true, false, true, false, true, false, true, false}, got(), "nothing but generations and imports")

	pr, pw := io.Pipe()
	imported := make(chan error, 1)
	go func() {
		_, err := s.Import(ctx, "imp", pr, ImportOptions{})
		imported <- err
	}()
	require.Eventually(t, func() bool { return len(got()) == 9 }, 10*time.Second, time.Millisecond)
	_, err = s.Generate(ctx, "gen", GenerateRequest{Count: 10})
	require.NoError(t, err)
	require.Len(t, got(), 9, "the generation ran inside the import's bracket")
	_, err = io.WriteString(pw, "IMPORTED-2\n")
	require.NoError(t, err)
	require.NoError(t, pw.Close())
	require.NoError(t, <-imported)
	require.Equal(t, []bool{true, false}, got()[8:])
}
