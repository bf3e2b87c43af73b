package store

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// refusedSamples are one character of each kind free text refuses.
var refusedSamples = map[string]string{
	"NUL": "\x00", "tab": "\t", "newline": "\n", "ESC": "\x1b", "DEL": "\x7f",
	"C1 NEL": "\u0085", "C1 CSI": "\u009b", "line separator": "\u2028", "paragraph separator": "\u2029",
	"LRE": "\u202a", "RLO": "\u202e", "LRI": "\u2066", "PDI": "\u2069",
}

func requireField(t *testing.T, err error, field string) {
	t.Helper()
	requireCode(t, err, EInvalid)
	var e *Error
	require.True(t, errors.As(err, &e))
	require.Equal(t, field, e.Field, "%v", err)
	require.Contains(t, e.Message, field+": ")
}

func TestCheckControls_RefusesSteeringCharacters(t *testing.T) {
	for name, c := range refusedSamples {
		err := checkControls("name", "Sale "+c+"now")
		requireField(t, err, "name")
		require.Contains(t, ErrorMessage(err), fmt.Sprintf("U+%04X at byte 5", []rune(c)[0]), name)
	}
	for _, ok := range []string{"", "Été 2026 ☀️", "שלום", "مرحبا", "👩‍👩‍👧 family", "a\u200db", "50% off!"} {
		require.NoError(t, checkControls("name", ok), "%q", ok)
	}
	requireField(t, checkControls("name", "bad \xff utf-8"), "name")
}

func TestStore_TextFields_RefuseControlCharacters(t *testing.T) {
	s, _ := testStore(t, Options{})
	mustCampaign(t, s, CampaignSpec{ID: "c", Kind: KindGeneric})
	code := mustGenerate(t, s, "c", 1)[0]
	esc := "\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\"

	_, err := s.CreateCampaign(ctx, CampaignSpec{ID: "x", Name: "Welcome" + esc, Benefit: &Benefit{Type: BenefitPercent, Value: 5}})
	requireField(t, err, "name")
	_, err = s.CreateCampaign(ctx, CampaignSpec{ID: "x", Benefit: &Benefit{Type: BenefitCustom, Text: "Free\ncoffee"}})
	requireField(t, err, "benefit.text")
	_, err = s.CreateCampaign(ctx, CampaignSpec{ID: "x", Benefit: &Benefit{Type: BenefitPercent, Value: 5},
		Metadata: map[string]any{"source": "ok", "nested": map[string]any{"tags": []any{"fine", 3.0, "evil\u202e"}}}})
	requireField(t, err, "metadata.nested.tags[2]")
	_, err = s.CreateCampaign(ctx, CampaignSpec{ID: "x", Benefit: &Benefit{Type: BenefitPercent, Value: 5},
		Metadata: map[string]any{"k\u2028": 1.0}})
	requireField(t, err, "metadata")
	_, err = s.Campaign("x")
	requireCode(t, err, ENotFound)
	_, err = s.UpdateCampaign(ctx, "c", CampaignPatch{Name: ptr("Renamed\u2066")})
	requireField(t, err, "name")

	_, err = s.Assign(ctx, "c", AssignRequest{CustomerID: "ann\u202egnp.exe"})
	requireField(t, err, "customer_id")
	_, err = s.Customer("ann\x1b[2J")
	requireField(t, err, "customer_id")
	_, err = s.Redeem(ctx, RedeemRequest{Code: code, OrderID: "o-1\u0085"})
	requireField(t, err, "order_id")
	_, err = s.Redeem(ctx, RedeemRequest{Code: code, Terminal: "till\u2029"})
	requireField(t, err, "terminal")
	_, err = s.Void(ctx, code, "leaked\x07")
	requireField(t, err, "reason")
	red, err := s.Redeem(ctx, RedeemRequest{Code: code, CustomerID: "ann", OrderID: "o-1", Terminal: "till-1"})
	require.NoError(t, err, "clean text still passes")
	_, err = s.Rollback(ctx, red.ID, RollbackRequest{Reason: "returned\r\nforged: log line"})
	requireField(t, err, "reason")

	c, err := s.CreateCampaign(ctx, CampaignSpec{ID: "ok", Name: "Été ☀️ שלום", Benefit: &Benefit{Type: BenefitCustom, Text: "Un café offert"},
		Metadata: map[string]any{"note": "RTL text: مرحبا"}})
	require.NoError(t, err)
	require.Equal(t, "Été ☀️ שלום", c.Name)
}

func TestReadAssignRows_RefusesControlCharactersInNamesAndEmails(t *testing.T) {
	in := "customer_id,email,name\nc1,c1@example.com,Ann\nc2,c2@example.com\u202e,Ben\nc3,c3@example.com,\x1b[31mCarl\n"
	_, err := ReadAssignRows(strings.NewReader(in), "")
	requireCode(t, err, EInvalid)
	var e *Error
	require.ErrorAs(t, err, &e)
	problems := e.Details.([]ImportProblem)
	require.Len(t, problems, 2)
	require.Equal(t, 3, problems[0].Line)
	require.Contains(t, problems[0].Reason, "email: must not contain control characters")
	require.Equal(t, 4, problems[1].Line)
	require.Contains(t, problems[1].Reason, "name: must not contain control characters")
	require.NotContains(t, problems[1].Code, "\x1b", "a problem never echoes the character it refuses")
}

func TestSpreadsheetSafe_NeutralisesFormulas(t *testing.T) {
	for in, want := range map[string]string{
		"=HYPERLINK(\"http://evil\",\"x\")": "'=HYPERLINK(\"http://evil\",\"x\")",
		"+1+1":                              "'+1+1",
		"-42":                               "'-42",
		"@SUM(A1)":                          "'@SUM(A1)",
		"\tx":                               "'\tx",
		"\rx":                               "'\rx",
		"":                                  "",
		"ann":                               "ann",
		"X31Z-ABCD":                         "X31Z-ABCD",
		"a=b":                               "a=b",
		"'quoted":                           "'quoted",
	} {
		require.Equal(t, want, SpreadsheetSafe(in), "%q", in)
	}
	rd := Redemption{ID: "rd_1", Code: "ABC", CustomerID: "=cmd|' /C calc'!A0", OrderID: "+order", Terminal: "@till", RollbackReason: "-x"}
	rec := rd.CSV()
	require.Equal(t, "'=cmd|' /C calc'!A0", rec[3])
	require.Equal(t, "'+order", rec[4])
	require.Equal(t, "'@till", rec[8])
	require.Equal(t, "'-x", rec[12])
	require.Equal(t, []string{"'-42", "'=x@example.com", "'@Ann", "ABC"}, AssignRow{CustomerID: "-42", Email: "=x@example.com", Name: "@Ann", Code: "ABC"}.CSV())
	require.Equal(t, "'=1+1", Code{Code: "ABC", CustomerID: "=1+1"}.CSV()[3])
}
