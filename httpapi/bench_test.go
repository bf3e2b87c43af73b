package httpapi

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"promo/gen"
	"promo/store"
)

// BenchmarkHandler_Validate measures the server's own cost of one
// invalid-guess lookup (W2's request), without the network: routing, auth,
// decoding, the store's lookup path, encoding, metrics and the log line.
func BenchmarkHandler_Validate(b *testing.B) {
	st, err := store.Open(filepath.Join(b.TempDir(), "promo.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if _, err := st.CreateCampaign(ctx, store.CampaignSpec{ID: "c", Benefit: &store.Benefit{Type: "percent", Value: 10}}); err != nil {
		b.Fatal(err)
	}
	if _, err := st.Generate(ctx, "c", store.GenerateRequest{Count: 100_000}); err != nil {
		b.Fatal(err)
	}
	_, key, err := st.CreateKey(ctx, "till", store.RolePOS)
	if err != nil {
		b.Fatal(err)
	}
	h := New(st, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), AccessLog: io.Discard, FailedLookupsPerMinute: -1}).Handler()
	g, _ := gen.NewGenerator(gen.DefaultFormat(), nil)
	body := make([]byte, 0, 32)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		body = append(body[:0], `{"code":"`...)
		body, _ = g.AppendKey(body, 0, 0)
		body = append(body, `"}`...)
		r, _ := http.NewRequest("POST", "/v1/validate", bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+key)
		w.Body.Reset()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}

// BenchmarkDecodeRedeem compares the tills' fast decoder with
// encoding/json on W2's body.
func BenchmarkDecodeRedeem(b *testing.B) {
	body := []byte(`{"code":"7K3MQ9XD2RTM"}`)
	for _, c := range []struct {
		name   string
		decode func([]byte, *store.RedeemRequest) error
	}{
		{"fast", func(body []byte, r *store.RedeemRequest) error { return decodeJSON(body, r, false) }},
		{"encoding-json", func(body []byte, r *store.RedeemRequest) error { return decodeStrict(body, r) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				var r store.RedeemRequest
				if err := c.decode(body, &r); err != nil || r.Code == "" {
					b.Fatal(err)
				}
			}
		})
	}
}
