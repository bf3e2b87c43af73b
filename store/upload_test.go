package store

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// requireUploadRefused requires an *UploadError counting total bad lines
// and listing the first MaxProblems (or all, when fewer) in line order.
func requireUploadRefused(t *testing.T, err error, total int) []ImportProblem {
	t.Helper()
	requireCode(t, err, EInvalid)
	n, ok := UploadProblems(err)
	require.True(t, ok, "an UploadError: %v", err)
	require.Equal(t, total, n)
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, "file", e.Field)
	problems := e.Details.([]ImportProblem)
	require.Len(t, problems, min(total, MaxProblems))
	for i := 1; i < len(problems); i++ {
		require.Less(t, problems[i-1].Line, problems[i].Line)
	}
	if total == 1 {
		require.True(t, strings.HasPrefix(e.Message, "1 line "), e.Message)
	} else {
		require.True(t, strings.HasPrefix(e.Message, fmt.Sprintf("%d lines ", total)), e.Message)
	}
	if total > MaxProblems {
		require.Contains(t, e.Message, "the first 100 of them listed")
	}
	return problems
}

func TestImport_ListsTheFirst100ProblemsAndCountsThemAll(t *testing.T) {
	s, _ := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "other", Kind: KindGeneric})
	mustCampaign(t, s, CampaignSpec{ID: "c", Kind: KindGeneric})
	_, err := s.Import(ctx, "other", strings.NewReader("TAKEN-1\nTAKEN-2\n"), ImportOptions{})
	require.NoError(t, err)

	// Lines 1-3: good; 4: another campaign's; then 5,000 malformed lines
	// and repeats; the last line is another campaign's code too.
	var b strings.Builder
	b.WriteString("GOOD-1\nGOOD-2\nGOOD-3\nTAKEN-1\n")
	for i := range 5000 {
		if i%2 == 0 {
			fmt.Fprintf(&b, "BAD_%d\n", i)
		} else {
			b.WriteString("good-1\n")
		}
	}
	b.WriteString("TAKEN-2\n")
	_, err = s.Import(ctx, "c", strings.NewReader(b.String()), ImportOptions{})
	problems := requireUploadRefused(t, err, 5002)
	require.Equal(t, ImportProblem{Line: 4, Code: "TAKEN-1", Reason: "already a code of campaign other"}, problems[0])
	require.Equal(t, 5, problems[1].Line)
	require.Contains(t, problems[1].Reason, "'_' is not a letter")
	require.Contains(t, problems[2].Reason, "repeats line 1")
	require.Equal(t, 103, problems[99].Line)
	c, err := s.Campaign("c")
	require.NoError(t, err)
	require.Zero(t, c.Counts.Codes, "a refused file writes nothing")

	res, err := s.Import(ctx, "c", strings.NewReader(b.String()), ImportOptions{SkipInvalid: true})
	require.NoError(t, err)
	require.Equal(t, 3, res.Imported)
	require.Len(t, res.Skipped, MaxProblems)
	require.Equal(t, 5002, res.SkippedTotal)
	require.Equal(t, 4, res.Skipped[0].Line)
}

func TestImport_KeepsDistinctCodesCompactly(t *testing.T) {
	s, _ := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "c", Kind: KindGeneric})
	var b strings.Builder
	for i := range 20_000 { // enough to grow the repeat table many times
		fmt.Fprintf(&b, "CODE-%05d\n", i)
	}
	res, err := s.Import(ctx, "c", strings.NewReader(b.String()+"code-00017\n-CODE-20000-\n"), ImportOptions{SkipInvalid: true})
	require.NoError(t, err)
	require.Equal(t, 20_001, res.Imported)
	require.Equal(t, 1, res.SkippedTotal)
	require.Contains(t, res.Skipped[0].Reason, "repeats line 18")
	got, err := s.GetCode("CODE20000")
	require.NoError(t, err)
	require.Equal(t, "CODE-20000", got.Code, "a code's own form loses the dashes at its ends: no code starts with one")
	got, err = s.GetCode("code 12345")
	require.NoError(t, err)
	require.Equal(t, "CODE-12345", got.Code)
}

func TestImport_RefusesWhatWouldTakeMemory(t *testing.T) {
	s, _ := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "c", Kind: KindGeneric})
	// A quote never closed makes the rest of the file one field.
	huge := "code\nA-1\n\"" + strings.Repeat("B", 2<<20) + "\n"
	_, err := s.Import(ctx, "c", strings.NewReader(huge), ImportOptions{})
	requireField(t, err, "file")
	require.Contains(t, ErrorMessage(err), "the record after line 2 is longer than 1048576 bytes")

	long := "A" + strings.Repeat(" -", 100) + "B\n"
	_, err = s.Import(ctx, "c", strings.NewReader(long), ImportOptions{})
	problems := requireUploadRefused(t, err, 1)
	require.Contains(t, problems[0].Reason, "longer than 128 characters")
	require.LessOrEqual(t, len(problems[0].Code), 70+len("…"), "a problem quotes at most 70 bytes")

	_, err = s.Import(ctx, "c", strings.NewReader("A-1\nB\x1b[2J\n"), ImportOptions{})
	problems = requireUploadRefused(t, err, 1)
	require.Equal(t, `B\u001b[2J`, problems[0].Code, "a problem never sends on the character it refuses")
}

// An error from the reader (the server's size limit) ends the reading as
// it is, not as a problem with the file's content.
func TestReadCSV_PassesTheReadersErrorOn(t *testing.T) {
	tooLarge := &Error{Code: "too_large", Message: "the upload is larger than 10 bytes"}
	r := io.MultiReader(strings.NewReader("A-1\nA-2\n"), errReader{tooLarge})
	_, err := readImport(r)
	require.Same(t, tooLarge, err)
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestEachAssignRow_ListsTheFirst100ProblemsAndCountsThemAll(t *testing.T) {
	var b strings.Builder
	b.WriteString("customer_id,email,name,channel\n")
	for i := range 3000 {
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, "c%d,c%d@example.com,Customer %d,email\n", i, i, i)
		case 1:
			fmt.Fprintf(&b, "c%d\x01,,,\n", i)
		case 2:
			fmt.Fprintf(&b, "c%d,,,pigeon\n", i)
		}
	}
	calls := 0
	err := EachAssignRow(strings.NewReader(b.String()), "", func(AssignRow) error { calls++; return nil })
	problems := requireUploadRefused(t, err, 2000)
	require.Equal(t, 3, problems[0].Line)
	require.Equal(t, `c1\u0001`, problems[0].Code)
	require.Contains(t, problems[0].Reason, "customer_id: must not contain control characters")
	require.Contains(t, problems[1].Reason, `channel "pigeon" is not one of`)
	require.Equal(t, 1, calls, "no row is handed on after the first bad line")
}

func TestStore_AssignFile(t *testing.T) {
	s, _ := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "c", Kind: KindGeneric})
	var b bytes.Buffer
	b.WriteString("customer_id,email\n")
	for i := range 9000 {
		fmt.Fprintf(&b, "c%d,c%d@example.com\n", i, i)
	}
	good := b.Bytes()

	// All or nothing: a bad last line refuses the file before any write.
	bad := append(bytes.Clone(good), "c-last,\"=cmd\x1b\"\n"...)
	err := s.AssignFile(ctx, "c", bytes.NewReader(bad), "", func(int) error { t.Fatal("ready before a refusal"); return nil },
		func(AssignRow) error { t.Fatal("emitted before a refusal"); return nil })
	requireUploadRefused(t, err, 1)
	c, _ := s.Campaign("c")
	require.Zero(t, c.Counts.Assigned)

	var ready int
	var first []AssignRow
	require.NoError(t, s.AssignFile(ctx, "c", bytes.NewReader(good), ChannelMail, func(n int) error { ready = n; return nil },
		func(r AssignRow) error { first = append(first, r); return nil }))
	require.Equal(t, 9000, ready)
	require.Len(t, first, 9000)
	require.Equal(t, "c8999", first[8999].CustomerID)
	require.Equal(t, ChannelMail, first[8999].Channel)
	var again []AssignRow
	require.NoError(t, s.AssignFile(ctx, "c", bytes.NewReader(good), ChannelMail, nil, func(r AssignRow) error { again = append(again, r); return nil }))
	require.Equal(t, first, again, "a re-run returns the same codes")
	c, _ = s.Campaign("c")
	require.Equal(t, int64(9000), c.Counts.Assigned)

	err = s.AssignFile(ctx, "nope", bytes.NewReader(good), "", nil, func(AssignRow) error { return nil })
	requireCode(t, err, ENotFound)
}

// A file that changes between AssignFile's two readings stops at the first
// line the second reading finds bad.
func TestStore_AssignFile_FileChangedBetweenReadings(t *testing.T) {
	s, _ := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "c", Kind: KindGeneric})
	var b strings.Builder
	for i := range 10_000 {
		fmt.Fprintf(&b, "c%d\n", i)
	}
	f := &changingFile{first: b.String(), second: strings.Replace(b.String(), "c8000\n", "c8000\x00\n", 1)}
	n := 0
	err := s.AssignFile(ctx, "c", f, "", nil, func(AssignRow) error { n++; return nil })
	requireField(t, err, "file")
	require.Contains(t, ErrorMessage(err), "line 8001 changed while it was being read")
	require.Equal(t, 8000, n, "the rows before it were assigned, and keep their codes")
}

type changingFile struct {
	first, second string
	r             *strings.Reader
}

func (f *changingFile) Read(p []byte) (int, error) {
	if f.r == nil {
		f.r = strings.NewReader(f.first)
	}
	return f.r.Read(p)
}

func (f *changingFile) Seek(int64, int) (int64, error) {
	f.r = strings.NewReader(f.second)
	return 0, nil
}

func TestProblemList_KeepsTheLowestLines(t *testing.T) {
	var p problemList
	for _, line := range []int{500, 3, 900, 1, 250} {
		for i := range 60 {
			p.add(ImportProblem{Line: line + i, Reason: "x"})
		}
	}
	require.Equal(t, 300, p.total)
	require.Len(t, p.first, MaxProblems)
	require.Equal(t, 1, p.first[0].Line)
	require.Equal(t, 2, p.first[1].Line)
	require.Equal(t, 3, p.first[2].Line)
	require.Equal(t, 3, p.first[3].Line, "equal lines keep the order they came in")
	require.Equal(t, 51, p.first[MaxProblems-1].Line, "lines 1-62 of two runs fill the list")
}
