package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"promo/store"
)

func badLines(header string, n int, line func(i int) string) []byte {
	var b strings.Builder
	b.WriteString(header)
	for i := range n {
		b.WriteString(line(i))
	}
	return []byte(b.String())
}

// An upload with thousands of bad lines is refused listing the first 100
// and counting them all; nothing is written.
func TestUpload_ListsTheFirst100BadLinesAndTheirTotal(t *testing.T) {
	e := newEnv(t, Options{SpoolDir: t.TempDir()})
	e.campaign("c", "")
	for _, tc := range []struct {
		name, path string
		body       []byte
	}{
		{"Import", "/v1/campaigns/c/import", badLines("code\n", 5000, func(i int) string { return fmt.Sprintf("BAD_%d\n", i) })},
		{"BulkAssign", "/v1/campaigns/c/assign", badLines("customer_id,email\n", 5000, func(i int) string { return fmt.Sprintf("c%d,c%d@example.com\x1b[2J\n", i, i) })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, h, b := e.req(admin, "POST", tc.path, tc.body, "Content-Type", "text/csv")
			require.Equal(t, http.StatusBadRequest, status, "%s", b)
			require.Empty(t, h.Get(CustomersHeader))
			refused, problems := refusal(t, b)
			require.Equal(t, store.EInvalid, refused.Code)
			require.Equal(t, "file", refused.Field)
			require.Len(t, problems, 100)
			require.Equal(t, 5000, refused.DetailsTotal)
			require.Equal(t, 2, problems[0].Line)
			require.Equal(t, 101, problems[99].Line)
			require.Contains(t, refused.Message, "5000 lines ")
			require.Contains(t, refused.Message, "the first 100 of them listed")
			require.Less(t, len(b), 32<<10, "the answer stays small")
		})
	}
	var c store.Campaign
	e.must(200, issuer, "GET", "/v1/campaigns/c", nil, &c)
	require.Zero(t, c.Counts.Codes)
	require.Zero(t, c.Counts.Assigned)
	left, err := os.ReadDir(e.srv.opts.SpoolDir)
	require.NoError(t, err)
	require.Empty(t, left, "the spooled upload is gone")
}

func TestUpload_BulkAssignStreamsRowsAfterTheirCount(t *testing.T) {
	e := newEnv(t, Options{SpoolDir: t.TempDir()})
	e.campaign("c", "")
	body := []byte("customer_id,email,name\nann,ann@example.com,Ann\n=HYPERLINK(\"http://evil\"),x@example.com,@Evil\nben,,\n")
	status, h, b := e.req(issuer, "POST", "/v1/campaigns/c/assign?channel=mail", body, "Content-Type", "text/csv")
	require.Equal(t, http.StatusOK, status, "%s", b)
	require.Equal(t, "3", h.Get(CustomersHeader))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	require.Len(t, lines, 4)
	require.Equal(t, "customer_id,email,name,code", lines[0])
	require.True(t, strings.HasPrefix(lines[2], `"'=HYPERLINK(""http://evil"")",x@example.com,'@Evil,`), "formulas are neutralised: %s", lines[2])

	status, h, b = e.req(issuer, "POST", "/v1/campaigns/c/assign", body, "Content-Type", "text/csv", "Accept", "application/x-ndjson")
	require.Equal(t, http.StatusOK, status, "%s", b)
	require.Equal(t, "3", h.Get(CustomersHeader))
	var rows []store.AssignRow
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r store.AssignRow
		require.NoError(t, json.Unmarshal([]byte(l), &r))
		rows = append(rows, r)
	}
	require.Len(t, rows, 3)
	require.Equal(t, `=HYPERLINK("http://evil")`, rows[1].CustomerID, "JSON is never changed")
	require.Equal(t, store.ChannelEmail, rows[1].Channel)

	// The CSV exports neutralise formulas too.
	_, _, b = e.req(issuer, "GET", "/v1/campaigns/c/codes", nil, "Accept", "text/csv")
	require.Contains(t, string(b), `"'=HYPERLINK(""http://evil"")"`)
	e.must(201, pos, "POST", "/v1/redeem", map[string]string{"code": rows[1].Code, "customer_id": rows[1].CustomerID, "order_id": "+1-555", "terminal": "@till"}, nil)
	_, _, b = e.req(issuer, "GET", "/v1/campaigns/c/redemptions", nil, "Accept", "text/csv")
	require.Contains(t, string(b), `'+1-555,`)
	require.Contains(t, string(b), `,'@till,`)
}

func TestUpload_TooLargeIs413(t *testing.T) {
	e := newEnv(t, Options{MaxUploadBytes: 1000, SpoolDir: t.TempDir()})
	e.campaign("c", "")
	big := badLines("", 200, func(i int) string { return fmt.Sprintf("CODE-%04d\n", i) })
	for _, path := range []string{"/v1/campaigns/c/import", "/v1/campaigns/c/assign"} {
		status, _, b := e.req(admin, "POST", path, big, "Content-Type", "text/csv")
		require.Equal(t, http.StatusRequestEntityTooLarge, status, "%s %s", path, b)
		require.Equal(t, store.ETooLarge, errCode(t, b))
	}
	var c store.Campaign
	e.must(200, issuer, "GET", "/v1/campaigns/c", nil, &c)
	require.Zero(t, c.Counts.Codes)
}

// A bulk assignment refused before its first row is an error response,
// not a mail merge cut short after its header.
func TestUpload_BulkAssignRefusedBeforeItsFirstRow(t *testing.T) {
	e := newEnv(t, Options{SpoolDir: t.TempDir()})
	e.campaign("c", "")
	e.must(200, admin, "PATCH", "/v1/campaigns/c", `{"status": "archived"}`, nil)
	status, h, b := e.req(issuer, "POST", "/v1/campaigns/c/assign", []byte("ann\nben\n"), "Content-Type", "text/csv")
	require.Equal(t, http.StatusConflict, status, "%s", b)
	require.Equal(t, store.EConflict, errCode(t, b))
	require.Empty(t, h.Get(CustomersHeader))
}
