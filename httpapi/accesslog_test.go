package httpapi

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The hand-made request line is the line slog's text handler writes for
// the same attributes, whatever the values.
func TestAccessLine_IsSlogsTextFormat(t *testing.T) {
	at := time.Date(2026, 12, 1, 19, 56, 51, 42_345_678, time.UTC)
	for _, tc := range []struct{ id, key, remote string }{
		{"ce47d9087516f109", "till", "127.0.0.1"},
		{"a=b", "", "::1"},
		{`quote"d`, "key with space", "@"},
		{"tab\there", "é", "10.0.0.1"},
		{"\u00a0nbsp", "till-2", ""},
	} {
		var want bytes.Buffer
		h := slog.NewTextHandler(&want, nil)
		d := 1234567 * time.Nanosecond
		rec := slog.NewRecord(at, slog.LevelInfo, "request", 0)
		rec.AddAttrs(slog.String("id", tc.id), slog.String("method", "POST"), slog.String("route", "POST /v1/redeem"),
			slog.Int("status", 201), slog.Int64("bytes", 174), slog.Float64("ms", float64(d.Microseconds())/1000),
			slog.String("key", tc.key), slog.String("remote", tc.remote))
		require.NoError(t, h.Handle(context.Background(), rec))
		got := accessLine(nil, at, tc.id, "POST", logValue("POST /v1/redeem"), 201, 174, d, tc.key, tc.remote)
		require.Equal(t, want.String(), string(got))
	}
}

func TestRequestIDs_AreUniqueHex(t *testing.T) {
	g := newRequestIDs()
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := g.next()
		require.Len(t, id, 16)
		require.False(t, seen[id])
		seen[id] = true
	}
}

func TestAppendLogTime_IsAppendFormat(t *testing.T) {
	const layout = "2006-01-02T15:04:05.000Z07:00"
	zones := []*time.Location{time.UTC, time.FixedZone("e", 5*3600+30*60), time.FixedZone("w", -8*3600),
		time.FixedZone("odd", -(3600 + 17)), time.FixedZone("h", -30*60)}
	at := time.Date(2026, 12, 1, 19, 56, 51, 42_345_678, time.UTC)
	for i := 0; i < 2000; i++ {
		tm := at.Add(time.Duration(i) * 7_777_777_777_777).In(zones[i%len(zones)])
		if i%100 == 0 {
			tm = time.Date(1+i*5, 1, 2, 3, 4, 5, 999_999_999, zones[i%len(zones)])
		}
		require.Equal(t, tm.Format(layout), string(appendLogTime([]byte("x"), tm))[1:], tm.String())
	}
	require.Equal(t, "x10000-01-01T00:00:00.000Z", string(appendLogTime([]byte("x"), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))))
}
