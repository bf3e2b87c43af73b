package store

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Free text (names, custom benefit text, metadata, customer and order ids,
// terminals, reasons, the names and emails of a bulk assignment) is shown
// in terminals, spreadsheets, web pages and logs. Characters that steer
// those instead of being shown are refused wherever text comes in:
//   - C0 and C1 controls and DEL (Unicode category Cc): an ESC sequence
//     repaints a terminal, a newline forges a line of a log or a table;
//   - U+2028 and U+2029, line and paragraph separators;
//   - the bidirectional embeddings, overrides and isolates U+202A–U+202E
//     and U+2066–U+2069, which make text read in an order other than the
//     one it is stored in ("Trojan Source").

// refusedRune reports whether r may not appear in free text.
func refusedRune(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' ||
		r >= '\u202a' && r <= '\u202e' || r >= '\u2066' && r <= '\u2069'
}

// Printable returns s with every character free text refuses (see
// refusedRune) and every byte that is not UTF-8 written out as \uXXXX or
// \xXX, so that showing it can steer no terminal or page. Text stored
// before these characters were refused is shown through it.
func Printable(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, refusedRune) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case refusedRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// checkControls returns invalid_request naming field when s is not UTF-8
// or holds a refused character, saying which and where.
func checkControls(field, s string) error {
	if !utf8.ValidString(s) {
		return fieldErr(field, "must be UTF-8 text")
	}
	if i := strings.IndexFunc(s, refusedRune); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return fieldErr(field, "must not contain control characters, line separators or bidirectional controls; found U+%04X at byte %d", r, i)
	}
	return nil
}

// checkText validates a free-text identifier such as a customer or order
// id: at most max bytes of UTF-8, no refused character (see refusedRune),
// no spaces at either end, and present when required.
func checkText(field, s string, max int, required bool) error {
	if s == "" {
		if required {
			return fieldErr(field, "required")
		}
		return nil
	}
	if len(s) > max {
		return fieldErr(field, "at most %d bytes, got %d", max, len(s))
	}
	if err := checkControls(field, s); err != nil {
		return err
	}
	if strings.TrimSpace(s) != s {
		return fieldErr(field, "must not start or end with spaces")
	}
	return nil
}

// checkMetadata refuses control characters in a campaign's metadata: in
// every string value, however deeply nested, and in every key. The error
// names the value's path, e.g. metadata.labels[2].
func checkMetadata(field string, v any) error {
	switch v := v.(type) {
	case string:
		return checkControls(field, v)
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys) // the same error every time
		for _, k := range keys {
			if err := checkControls(field, k); err != nil {
				return fieldErr(field, "a key %s", strings.TrimPrefix(ErrorMessage(err), field+": "))
			}
			if err := checkMetadata(field+"."+k, v[k]); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range v {
			if err := checkMetadata(fmt.Sprintf("%s[%d]", field, i), e); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkCampaignText refuses control characters in a new campaign's free
// text: its name, a custom benefit's text and its metadata.
func checkCampaignText(c *Campaign) error {
	if err := checkControls("name", c.Name); err != nil {
		return err
	}
	if err := checkControls("benefit.text", c.Benefit.Text); err != nil {
		return err
	}
	return checkMetadata("metadata", c.Metadata)
}
