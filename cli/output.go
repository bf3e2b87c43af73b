package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"promo/store"
)

// printJSON writes v as the API does (json.Marshal) and a newline.
func (e *env) printJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "%s\n", b)
	return err
}

// table writes aligned columns of cells. Nothing is written before flush.
type table struct {
	w   io.Writer
	buf bytes.Buffer
	tw  *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{w: w}
	t.tw = tabwriter.NewWriter(&t.buf, 0, 8, 2, ' ', 0)
	if len(header) > 0 {
		t.row(anySlice(header)...)
	}
	return t
}

// row adds a line of cells, each shown with its control characters (an ESC,
// a bidi override, a newline: refused since, but possibly stored before)
// written out, so that no cell can repaint the terminal or break the table.
func (t *table) row(cells ...any) {
	for i, c := range cells {
		if i > 0 {
			fmt.Fprint(t.tw, "\t")
		}
		fmt.Fprint(t.tw, store.Printable(fmt.Sprint(c)))
	}
	fmt.Fprint(t.tw, "\n")
}

// flush writes the table without the padding at the ends of lines.
func (t *table) flush() error {
	if err := t.tw.Flush(); err != nil {
		return err
	}
	lines := strings.SplitAfter(t.buf.String(), "\n")
	for i, l := range lines {
		if s, ok := strings.CutSuffix(l, "\n"); ok {
			lines[i] = strings.TrimRight(s, " ") + "\n"
		}
	}
	_, err := io.WriteString(t.w, strings.Join(lines, ""))
	return err
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// section prints a heading before a table, with a blank line above.
func section(w io.Writer, title string) { fmt.Fprintf(w, "\n%s\n", title) }

// money shows an amount of minor units: "20.00 EUR" when the currency is
// known, otherwise the minor units with a note.
func money(amount int64, currency string) string {
	if currency == "" {
		// A campaign without a currency: its amounts are the orders' own
		// minor units, whatever their currency; say so rather than guess.
		return strconv.FormatInt(amount, 10) + " (no currency)"
	}
	return store.FormatMoney(amount, currency)
}

// timeText shows a time in UTC, RFC 3339, or "-" for none.
func timeText(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// plural returns "1 code" or "2 codes".
func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.FormatInt(n, 10) + " " + many
}

// sizeText shows a byte count for people: "12.3 MB".
func sizeText(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// progress is a bar on stderr while stderr is a terminal; its methods do
// nothing otherwise (a nil *progress is valid).
type progress struct{ bar *progressbar.ProgressBar }

func (e *env) progress(total int64, what string) *progress {
	f, ok := e.stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &progress{bar: progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(f),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionClearOnFinish(),
	)}
}

func (p *progress) set(n int) {
	if p != nil {
		_ = p.bar.Set(n)
	}
}

func (p *progress) add(n int) {
	if p != nil {
		_ = p.bar.Add(n)
	}
}

// done removes the bar from the terminal.
func (p *progress) done() {
	if p != nil {
		_ = p.bar.Finish()
	}
}

// quoteIfNeeded quotes a value for a key=value line when it has spaces or
// quotes.
func quoteIfNeeded(s string) string {
	if strings.ContainsAny(s, " \t\"=") || s == "" {
		return strconv.Quote(s)
	}
	return s
}

// ctxWriter fails its writes once ctx ends, to stop a copy that takes no
// context of its own.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
