package httpapi

import (
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"promo/httpapi/qr"
	"promo/store"
)

// sheetStyle is the code sheet's one inline stylesheet. The dashboard opens
// a sheet as a blob: document, which inherits the dashboard's
// Content-Security-Policy, so that policy allows exactly this stylesheet
// by its hash (sheetStyleHash).
const sheetStyle = `
@page { size: A4; margin: 10mm; }
* { box-sizing: border-box; }
body { margin: 0; font: 11pt/1.3 system-ui, "DejaVu Sans", Arial, sans-serif; color: #000; background: #fff; }
header { padding: 4mm 0 3mm; border-bottom: 0.4mm solid #000; margin-bottom: 4mm; }
header h1 { font-size: 16pt; margin: 0 0 1mm; }
header p { margin: 0; color: #333; }
.hint { background: #fff6d6; border: 1px solid #e0c060; padding: 2mm 3mm; margin: 0 0 4mm; }
.grid { display: grid; grid-template-columns: repeat(3, 1fr); gap: 4mm; }
.card { border: 0.3mm dashed #888; padding: 3mm; text-align: center; break-inside: avoid; page-break-inside: avoid; }
.card img { width: 32mm; height: 32mm; image-rendering: pixelated; display: block; margin: 0 auto 2mm; }
.code { font: 700 13pt/1.2 "DejaVu Sans Mono", Menlo, Consolas, monospace; letter-spacing: 0.04em; }
.benefit { font-weight: 700; margin-top: 1mm; }
.terms { font-size: 8.5pt; color: #333; }
footer { margin-top: 5mm; font-size: 9pt; color: #333; }
@media screen { body { max-width: 190mm; margin: 8mm auto; padding: 0 4mm; } }
@media print { .hint { display: none; } }
`

var sheetStyleHash = cspHash(sheetStyle)

// sheetPolicy is the policy of the sheet when it is loaded directly: no
// scripts, its one stylesheet, and its inline images.
var sheetPolicy = "default-src 'none'; style-src '" + sheetStyleHash + "'; img-src data:; base-uri 'none'; form-action 'none'"

var sheetTemplate = template.Must(template.New("sheet").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{{.Campaign.Name}} — codes</title>
<style>` + sheetStyle + `</style></head>
<body>
<header>
<h1>{{.Campaign.Name}}</h1>
<p>{{.Benefit}}{{with .Terms}} · {{.}}{{end}}</p>
<p>Campaign <b>{{.Campaign.ID}}</b> · {{len .Cards}} {{if eq .State "all"}}codes{{else}}{{.State}} codes{{end}} · printed {{.Printed}}</p>
</header>
<p class="hint">Print this page (Ctrl+P or ⌘P). The dashed lines are cutting guides. Scan a QR code at the till, or type the code: case, spaces and dashes do not matter.</p>
{{if .Cards}}<div class="grid">
{{range .Cards}}<div class="card"><img src="{{.QR}}" alt="QR code of {{.Code}}" width="174" height="174"><div class="code">{{.Code}}</div><div class="benefit">{{$.Benefit}}</div>{{with .Terms}}<div class="terms">{{.}}</div>{{end}}</div>
{{end}}</div>{{else}}<p>No {{.State}} codes.</p>{{end}}
{{with .Next}}<footer>More codes follow: the next sheet starts after this one (cursor {{.}}).</footer>{{end}}
</body></html>
`))

type sheetCard struct {
	Code  string
	QR    template.URL
	Terms string
}

// codeSheet serves GET /admin/campaigns/{id}/sheet: a printable page of a
// campaign's codes, each with its QR code as an inline image, for direct
// mail and events. ?state= picks the codes (available by default; all for
// every state), ?limit= how many (1 to 1,000, default 90: six A4 pages),
// ?cursor= where to start (the X-Next-Cursor of the previous sheet).
func (s *Server) codeSheet(w http.ResponseWriter, r *http.Request) error {
	id, q := mux.Vars(r)["id"], r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "available"
	}
	limit, err := intParam(r, "limit", 90)
	if err != nil {
		return err
	}
	if limit < 1 || limit > 1000 {
		return &store.Error{Code: store.EInvalid, Field: "limit", Message: fmt.Sprintf("limit: want 1 to 1000 codes a sheet, got %d", limit)}
	}
	c, err := s.st.Campaign(id)
	if err != nil {
		return err
	}
	storeState := state
	if state == "all" {
		storeState = ""
	}
	page, err := s.st.Codes(id, store.CodeQuery{State: storeState, Limit: limit, Cursor: q.Get("cursor")})
	if err != nil {
		return err
	}
	cards := make([]sheetCard, 0, len(page.Codes))
	for _, code := range page.Codes {
		img, err := qr.PNG(code.Code, 160)
		if err != nil {
			return err
		}
		var terms []string
		if code.ExpiresAt != nil && (c.ExpiresAt == nil || !code.ExpiresAt.Equal(*c.ExpiresAt)) {
			terms = append(terms, "valid until "+code.ExpiresAt.UTC().Format("2 Jan 2006"))
		}
		cards = append(cards, sheetCard{Code: code.Code, QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(img)),
			Terms: strings.Join(terms, " · ")})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", sheetPolicy)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if page.NextCursor != "" {
		w.Header().Set("X-Next-Cursor", page.NextCursor)
	}
	return sheetTemplate.Execute(w, map[string]any{
		"Campaign": c, "State": state, "Cards": cards, "Next": page.NextCursor,
		"Benefit": c.Benefit.String(), "Terms": campaignTerms(c),
		"Printed": time.Now().UTC().Format("2 Jan 2006 15:04 MST"),
	})
}

// campaignTerms are the conditions printed under a campaign's benefit.
func campaignTerms(c *store.Campaign) string {
	var t []string
	if c.MinOrder > 0 {
		t = append(t, "on orders from "+store.FormatMoney(c.MinOrder, c.Benefit.Currency))
	}
	if c.StartsAt != nil {
		t = append(t, "from "+c.StartsAt.UTC().Format("2 Jan 2006"))
	}
	if c.ExpiresAt != nil {
		t = append(t, "until "+c.ExpiresAt.UTC().Format("2 Jan 2006"))
	}
	if c.ValidFor > 0 {
		t = append(t, "valid for "+c.ValidFor.String()+" once given")
	}
	if c.MaxRedemptionsPerCode > 1 {
		t = append(t, fmt.Sprintf("each code up to %d uses", c.MaxRedemptionsPerCode))
	} else {
		t = append(t, "one use per code")
	}
	return strings.Join(t, " · ")
}
