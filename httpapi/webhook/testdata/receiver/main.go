// A webhook receiver for promo in Go: it checks Promo-Signature and prints
// each event's seq and type. README.md shows it.
//
//	PROMO_WEBHOOK_SECRET=whsec_... go run . 127.0.0.1:8081
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

var secret = []byte(os.Getenv("PROMO_WEBHOOK_SECRET"))

// verified checks "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t.body)>".
func verified(header string, body []byte) bool {
	var t, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			t = v
		case "v1":
			sig = v
		}
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(t + "." + string(body)))
	got, err := hex.DecodeString(sig)
	sec, terr := strconv.ParseInt(t, 10, 64)
	return err == nil && terr == nil && hmac.Equal(got, mac.Sum(nil)) &&
		math.Abs(float64(time.Now().Unix()-sec)) < 300
}

func main() {
	http.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if !verified(r.Header.Get("Promo-Signature"), body) {
			http.Error(w, "bad signature", http.StatusBadRequest)
			return
		}
		var event struct {
			Seq  uint64 `json:"seq"`
			Type string `json:"type"`
		}
		if json.Unmarshal(body, &event) != nil {
			http.Error(w, "bad JSON", http.StatusBadRequest)
			return
		}
		// Deliveries are at least once: de-duplicate by event.Seq.
		fmt.Println(event.Seq, event.Type)
		w.WriteHeader(http.StatusNoContent)
	})
	if err := http.ListenAndServe(os.Args[1], nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
