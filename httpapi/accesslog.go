package httpapi

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
)

// accessLine appends one request's log line in log/slog's text format (the
// format of promo's other log lines), formatted by hand: through slog's
// handler the line cost a tenth of an invalid guess's answer.
// route comes as its log value already (logValue), since it is the same
// on every line of a route and costs a quoting each time.
func accessLine(b []byte, t time.Time, id, method, route string, status int, bytes int64, d time.Duration, key, remote string) []byte {
	b = append(b, "time="...)
	b = appendLogTime(b, t)
	b = append(b, " level=INFO msg=request id="...)
	b = appendLogValue(b, id)
	b = append(b, " method="...)
	b = appendLogValue(b, method)
	b = append(b, " route="...)
	b = append(b, route...)
	b = append(b, " status="...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, " bytes="...)
	b = strconv.AppendInt(b, bytes, 10)
	b = append(b, " ms="...)
	b = strconv.AppendFloat(b, float64(d.Microseconds())/1000, 'g', -1, 64)
	b = append(b, " key="...)
	b = appendLogValue(b, key)
	b = append(b, " remote="...)
	b = appendLogValue(b, remote)
	return append(b, '\n')
}

// appendLogTime appends t as t.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
// does, in a third of its time (TestAppendLogTime_IsAppendFormat).
func appendLogTime(b []byte, t time.Time) []byte {
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	}
	b = append(b, byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-')
	b = append(b, byte('0'+month/10), byte('0'+month%10), '-', byte('0'+day/10), byte('0'+day%10), 'T')
	b = append(b, byte('0'+hour/10), byte('0'+hour%10), ':', byte('0'+minute/10), byte('0'+minute%10), ':')
	ms := t.Nanosecond() / 1e6
	b = append(b, byte('0'+sec/10), byte('0'+sec%10), '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	_, off := t.Zone()
	if off == 0 {
		return append(b, 'Z')
	}
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	if off%60 != 0 { // a zone offset in seconds: leave it to the library
		return t.AppendFormat(b[:len(b)-23], "2006-01-02T15:04:05.000Z07:00")
	}
	h, m := off/3600, off/60%60
	return append(b, sign, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+m/10), byte('0'+m%10))
}

// logValue is s as appendLogValue writes it.
func logValue(s string) string { return string(appendLogValue(nil, s)) }

// appendLogValue appends s as slog's text handler does: quoted when empty
// or when it holds a space, '=', '"' or an unprintable rune.
func appendLogValue(b []byte, s string) []byte {
	if needsQuote(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

func needsQuote(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c == ' ' || c == '=' || c == '"' || c < 0x21 || c == 0x7f {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

// requestIDs makes request ids: 16 hex digits, a random prefix of this
// process and a counter, so that making one costs no random read.
type requestIDs struct {
	prefix [4]byte
	n      atomic.Uint32
}

func newRequestIDs() *requestIDs {
	g := &requestIDs{}
	_, _ = rand.Read(g.prefix[:])
	return g
}

func (g *requestIDs) next() string {
	var b [8]byte
	copy(b[:4], g.prefix[:])
	binary.BigEndian.PutUint32(b[4:], g.n.Add(1))
	return hex.EncodeToString(b[:])
}
