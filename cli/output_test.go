package cli

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"promo/httpapi"
	"promo/store"
)

// TestRun_JSON checks that --json prints what the API answers: the store's
// value, decoded here into its type.
func TestRun_JSON(t *testing.T) {
	tests := []struct {
		name  string
		setup []string
		args  string
		into  func() any
		check func(t *testing.T, v any)
	}{
		{name: "CampaignCreate", args: "campaign create c1 --percent 10 --kind welcome", into: func() any { return &store.Campaign{} },
			check: func(t *testing.T, v any) {
				c := v.(*store.Campaign)
				require.Equal(t, "c1", c.ID)
				require.True(t, c.OnePerCustomer)
				require.Equal(t, int64(10), c.Benefit.Value)
			}},
		{name: "CampaignList", args: "campaign list", into: func() any { return &struct{ Campaigns []store.Campaign }{} },
			check: func(t *testing.T, v any) {
				require.Len(t, v.(*struct{ Campaigns []store.Campaign }).Campaigns, 5)
			}},
		{name: "CampaignShow", args: "campaign show gen", into: func() any { return &store.Campaign{} },
			check: func(t *testing.T, v any) { require.Equal(t, int64(4), v.(*store.Campaign).Counts.Imported) }},
		{name: "CampaignPause", args: "campaign pause gen", into: func() any { return &store.Campaign{} },
			check: func(t *testing.T, v any) { require.Equal(t, store.StatusPaused, v.(*store.Campaign).Status) }},
		{name: "Generate", args: "generate gen --count 3", into: func() any { return &store.GenerateResult{} },
			check: func(t *testing.T, v any) { require.Equal(t, 3, v.(*store.GenerateResult).Generated) }},
		{name: "Import", args: "import gen $DIR/codes.txt", into: func() any { return &store.ImportResult{} },
			check: func(t *testing.T, v any) { require.Equal(t, 2, v.(*store.ImportResult).Imported) }},
		{name: "Assign", args: "assign welcome --customer alice", into: func() any { return &store.Code{} },
			check: func(t *testing.T, v any) { require.Equal(t, "WXYZ1111", v.(*store.Code).Code) }},
		{name: "Code", args: "code ABCD2345", into: func() any { return &store.Code{} },
			check: func(t *testing.T, v any) { require.Equal(t, "available", v.(*store.Code).State) }},
		{name: "Validate", args: "validate ABCD2345 --amount 1000", into: func() any { return &store.Validation{} },
			check: func(t *testing.T, v any) { require.Equal(t, int64(100), v.(*store.Validation).Discount) }},
		{name: "Redeem", args: "redeem ABCD2345 --amount 1000", into: func() any { return &store.Redemption{} },
			check: func(t *testing.T, v any) { require.Equal(t, "rd_1", v.(*store.Redemption).ID) }},
		{name: "Rollback", setup: []string{"redeem ABCD2345"}, args: "rollback rd_1", into: func() any { return &store.Redemption{} },
			check: func(t *testing.T, v any) { require.NotNil(t, v.(*store.Redemption).RolledBackAt) }},
		{name: "Void", args: "void ABCD2345", into: func() any { return &store.Code{} },
			check: func(t *testing.T, v any) { require.Equal(t, "voided", v.(*store.Code).State) }},
		{name: "StatsCampaign", args: "stats gen", into: func() any { return &store.CampaignStats{} },
			check: func(t *testing.T, v any) { require.Equal(t, int64(4), v.(*store.CampaignStats).Counts.Codes) }},
		{name: "Stats", args: "stats", into: func() any { return &store.Overview{} },
			check: func(t *testing.T, v any) { require.Len(t, v.(*store.Overview).Campaigns, 5) }},
		{name: "Customer", setup: []string{"assign welcome --customer alice"}, args: "customer alice", into: func() any { return &store.CustomerView{} },
			check: func(t *testing.T, v any) { require.Len(t, v.(*store.CustomerView).Codes, 1) }},
		{name: "KeysCreate", args: "keys create k1 --role issuer", into: func() any { return &httpapi.KeyCreated{} },
			check: func(t *testing.T, v any) {
				k := v.(*httpapi.KeyCreated)
				require.Equal(t, "issuer", k.Key.Role)
				require.True(t, strings.HasPrefix(k.Secret, "pk_"))
			}},
		{name: "KeysList", setup: []string{"keys create k1 --role pos"}, args: "keys list", into: func() any { return &struct{ Keys []store.Key }{} },
			check: func(t *testing.T, v any) { require.Len(t, v.(*struct{ Keys []store.Key }).Keys, 1) }},
		{name: "Check", args: "check", into: func() any { return &httpapi.CheckResult{} },
			check: func(t *testing.T, v any) { require.True(t, v.(*httpapi.CheckResult).OK) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := seededDB(t)
			for _, s := range tt.setup {
				mustRun(t, expand(s, db)...)
			}
			stdout := mustRun(t, expand("--json "+tt.args, db)...)
			require.Equal(t, 1, strings.Count(stdout, "\n"), "one line of JSON")
			v := tt.into()
			dec := json.NewDecoder(strings.NewReader(stdout))
			dec.DisallowUnknownFields()
			require.NoError(t, dec.Decode(v), stdout)
			tt.check(t, v)
		})
	}
}

func TestRun_EventsJSONLines(t *testing.T) {
	t.Parallel()
	db := seededDB(t)
	stdout := mustRun(t, "--db", db, "events", "--json", "--after", "2")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	require.Len(t, lines, 9) // the seed wrote 11 events
	for i, line := range lines {
		var ev store.Event
		require.NoError(t, json.Unmarshal([]byte(line), &ev))
		require.Equal(t, uint64(i+3), ev.Seq)
	}
}

func TestRun_ExportFile(t *testing.T) {
	t.Parallel()
	db := seededDB(t)
	out := filepath.Join(filepath.Dir(db), "codes.csv")
	mustRun(t, "--db", db, "redeem", "BCDE3456", "--customer", "bob")
	require.Contains(t, mustRun(t, "--db", db, "export", "gen", "--out", out), "exported 4 codes to "+out)
	records := readCSV(t, out)
	require.Equal(t, store.CodeCSVHeader, records[0])
	require.Len(t, records, 5)
	byCode := map[string][]string{}
	for _, r := range records[1:] {
		byCode[r[0]] = r
	}
	require.Equal(t, "redeemed", byCode["BCDE3456"][2])
	require.Equal(t, "1", byCode["BCDE3456"][7])
	require.Equal(t, "available", byCode["ABCD2345"][2])

	// No temporary files are left beside it.
	entries, err := os.ReadDir(filepath.Dir(out))
	require.NoError(t, err)
	for _, e := range entries {
		require.NotContains(t, e.Name(), ".tmp")
	}
}

func TestRun_AssignBulkRerunSameCodes(t *testing.T) {
	t.Parallel()
	db := seededDB(t)
	dir := filepath.Dir(db)
	customers := filepath.Join(dir, "customers.csv")
	first, second := filepath.Join(dir, "first.csv"), filepath.Join(dir, "second.csv")
	mustRun(t, "--db", db, "assign", "welcome", "--customers", customers, "--out", first)
	mustRun(t, "--db", db, "assign", "welcome", "--customers", customers, "--out", second)
	a, b := readCSV(t, first), readCSV(t, second)
	require.Equal(t, store.AssignCSVHeader, a[0])
	require.Equal(t, [][]string{store.AssignCSVHeader, {"alice", "alice@example.com", "Alice", "WXYZ1111"}, {"bob", "", "Bob", "WXYZ2222"}}, a)
	require.Equal(t, a, b)
	requireClean(t, db)
}

func TestRun_BackupOpensClean(t *testing.T) {
	t.Parallel()
	db := seededDB(t)
	mustRun(t, "--db", db, "redeem", "ABCD2345")
	backup := filepath.Join(t.TempDir(), "backup.db")
	require.Contains(t, mustRun(t, "--db", db, "backup", backup), "wrote "+backup)
	st, err := os.Stat(backup)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	requireClean(t, backup)
	require.Contains(t, mustRun(t, "--db", backup, "code", "ABCD2345"), "redeemed")
}

func TestRun_ProgressOnlyOnATerminal(t *testing.T) {
	t.Parallel()
	db := seededDB(t)
	stdout, stderr, code := run(t, "--db", db, "generate", "gen", "--count", "1000")
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "generated 1000 codes")
	require.Empty(t, stderr, "no bar when stderr is not a terminal")
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	require.NoError(t, err)
	defer f.Close()
	require.Nil(t, (&env{stderr: f}).progress(10, "x"), "a file is not a terminal")
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	records, err := csv.NewReader(bufio.NewReader(f)).ReadAll()
	require.NoError(t, err)
	return records
}

func TestMoney(t *testing.T) {
	tests := []struct {
		amount   int64
		currency string
		want     string
	}{
		{2000, "EUR", "20.00 EUR"},
		{5, "EUR", "0.05 EUR"},
		{-150, "USD", "-1.50 USD"},
		{500, "JPY", "500 JPY"},
		{1234, "KWD", "1.234 KWD"},
		{2000, "", "2000 (no currency)"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, money(tt.amount, tt.currency))
	}
}

// A cell's control characters are written out, so text stored before they
// were refused can neither repaint the terminal nor break the table.
func TestTable_WritesControlCharactersOut(t *testing.T) {
	var b strings.Builder
	tb := newTable(&b, "ID", "NAME")
	tb.row("c1", "Sale\x1b[2J\x1b]0;pwned\x07")
	tb.row("c2", "evil\u202etxt.exe\nforged row")
	require.NoError(t, tb.flush())
	require.NotContains(t, b.String(), "\x1b")
	require.NotContains(t, b.String(), "\u202e")
	require.Equal(t, 3, strings.Count(b.String(), "\n"), "one line per row: %q", b.String())
	require.Contains(t, b.String(), `Sale\u001b[2J\u001b]0;pwned\u0007`)
	require.Contains(t, b.String(), `evil\u202etxt.exe\u000aforged row`)
}
