package store

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"promo/gen"
)

// FuzzReadImport feeds arbitrary files to the import reader: it never
// panics, every code it accepts is canonical, and every line is either
// taken, skipped with a reason, or blank.
func FuzzReadImport(f *testing.F) {
	for _, s := range []string{
		"SUMMER-10\nWELCOME-BOB\n",
		"Code,Amount\nA-1,5\nB-2,7\n",
		"code\n\"quoted\",x\n\"unterminated\n",
		"a,b\n1,2\n",
		"\xff\xfe\n",
		"x;y;z\n,,,\n",
		strings.Repeat("ABC\n", 3),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		file, err := readImport(strings.NewReader(in))
		lines, problems := file.lines, file.problems.first
		if err != nil {
			if ErrorCode(err) != EInvalid || ErrorMessage(err) == "" {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, l := range lines {
			k, err := gen.Normalize(string(l.key))
			if err != nil || k != string(l.key) {
				t.Fatalf("line %d: key %q is not canonical", l.line, l.key)
			}
			if seen[k] {
				t.Fatalf("key %q accepted twice", k)
			}
			seen[k] = true
		}
		for i, p := range problems {
			if p.Reason == "" || p.Line < 1 {
				t.Fatalf("problem without a line or reason: %+v", p)
			}
			if i > 0 && p.Line < problems[i-1].Line {
				t.Fatalf("problems out of line order: %+v", problems)
			}
		}
		if len(problems) > MaxProblems || file.problems.total < len(problems) {
			t.Fatalf("%d problems listed of %d", len(problems), file.problems.total)
		}
	})
}

// FuzzIdempotencyKey checks the key rule: accepted keys are 1 to 255
// printable ASCII characters without spaces, and nothing panics.
func FuzzIdempotencyKey(f *testing.F) {
	for _, s := range []string{"sale-1", "", " ", strings.Repeat("k", 255), strings.Repeat("k", 256), "é", "a\x00b", "till-3/2026-11-21T10:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		idem := &Idempotency{Scope: "s", Key: key}
		err := idem.Validate()
		ok := len(key) >= 1 && len(key) <= MaxIdempotencyKey
		for i := 0; i < len(key); i++ {
			ok = ok && key[i] > ' ' && key[i] <= '~'
		}
		if ok != (err == nil) {
			t.Fatalf("key %q: valid=%v but Validate says %v", key, ok, err)
		}
		if err != nil && ErrorCode(err) != EInvalid {
			t.Fatalf("key %q: %v", key, err)
		}
	})
}

// FuzzIdemRecord checks the binary idempotency records, whole answers and
// those naming a redemption: what encode writes, decode reads back exactly, and decode never panics on any bytes (a
// record from schema 1, JSON, is read too).
func FuzzIdemRecord(f *testing.F) {
	f.Add([]byte("h"), int64(1764000000000000000), "already_redeemed", "this code was already redeemed", "code", []byte(`{"id":"rd_1"}`), uint64(1))
	f.Add([]byte{}, int64(0), "", "", "", []byte{}, uint64(0))
	f.Fuzz(func(t *testing.T, hash []byte, at int64, code, msg, field string, result []byte, ref uint64) {
		h := make([]byte, 32)
		copy(h, hash)
		rec := idemRecord{Hash: h, At: time.Unix(0, at).UTC(), Code: code, Msg: msg, Field: field}
		if len(result) > 0 {
			rec.Result = result
		}
		got, err := decodeIdemRecord(rec.encode())
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", rec, err)
		}
		if !bytes.Equal(got.Hash, rec.Hash) || !got.At.Equal(rec.At) || got.Code != code || got.Msg != msg || got.Field != field || !bytes.Equal(got.Result, rec.Result) {
			t.Fatalf("round trip: got %+v, want %+v", got, rec)
		}
		decodeIdemRecord(result) // arbitrary bytes: an error or a record, never a panic
		if ref != 0 {
			named := idemRecord{Hash: h, At: rec.At, Ref: ref}
			got, err := decodeIdemRecord(named.encode())
			if err != nil || got.Ref != ref || !bytes.Equal(got.Hash, h) || !got.At.Equal(rec.At) || got.Result != nil {
				t.Fatalf("decode(encode(%+v)) = %+v, %v", named, got, err)
			}
		}
	})
}

func TestIdemRecord_ReadsSchema1JSON(t *testing.T) {
	v := []byte(`{"h":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=","at":"2026-11-21T12:00:00Z","c":"already_redeemed","m":"this code was already redeemed"}`)
	rec, err := decodeIdemRecord(v)
	if err != nil || rec.Code != EAlreadyRedeemed || len(rec.Hash) != 32 || rec.Hash[31] != 31 || rec.At.Year() != 2026 {
		t.Fatalf("got %+v, %v", rec, err)
	}
}
