package httpapi

import (
	"bufio"
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"promo/store"
)

// Request and response helpers every handler shares: bodies read within
// their limits, query parameters, the Idempotency-Key header, JSON answers
// and the CSV and NDJSON streams of exports.

// Request bodies.

// smallBody is the largest body readBody allocates whole before it arrives.
const smallBody = 16 << 10

// readBody reads the whole request body within limit bytes. An oversize
// body is too_large (413).
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if n := r.ContentLength; n >= 0 && n <= min(limit, smallBody) && r.Body != nil {
		// A small body of known length (net/http never reads past it): one
		// allocation of the right size, not ReadAll's growth. Larger ones
		// grow as their bytes arrive, so a client that announces a big
		// body and sends nothing holds no buffer of that size.
		b := make([]byte, n)
		if _, err := io.ReadFull(r.Body, b); err != nil {
			return nil, &store.Error{Code: store.EInvalid, Message: "reading the request body: " + err.Error()}
		}
		return b, nil
	}
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, &store.Error{Code: store.ETooLarge, Message: fmt.Sprintf("the request body is larger than %d bytes", limit)}
	}
	if err != nil {
		return nil, &store.Error{Code: store.EInvalid, Message: "reading the request body: " + err.Error()}
	}
	return b, nil
}

// json reads a JSON request body within MaxBodyBytes and decodes it
// strictly into dst (see decodeJSON); it returns the body, which an
// Idempotency-Key hashes.
func (s *Server) json(r *http.Request, dst any, emptyOK bool) ([]byte, error) {
	body, err := readBody(r, s.opts.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	return body, decodeJSON(body, dst, emptyOK)
}

// limitedBody is an upload's body within MaxUploadBytes: reading past the
// limit fails with too_large.
type limitedBody struct {
	r     io.Reader
	limit int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if _, ok := err.(*http.MaxBytesError); ok {
		return n, &store.Error{Code: store.ETooLarge, Message: fmt.Sprintf("the upload is larger than %d bytes; split it", b.limit)}
	}
	return n, err
}

// Headers and query parameters.

// idempotency reads the Idempotency-Key header: scoped to the caller, with
// a hash of the method, path and body. A header that is present but empty
// is refused like any other bad key (it is not taken as no key: a client
// that meant to send one would otherwise lose its protection silently).
func idempotency(r *http.Request, body []byte) (*store.Idempotency, error) {
	vals, present := r.Header["Idempotency-Key"]
	if !present || len(vals) == 0 {
		return nil, nil
	}
	key := vals[0]
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\n", r.Method, r.URL.Path)
	h.Write(body)
	idem := &store.Idempotency{Scope: callerOf(r).Name, Key: key}
	copy(idem.Hash[:], h.Sum(nil))
	return idem, idem.Validate()
}

// accepts reports whether the request's Accept header names mime.
func accepts(r *http.Request, mime string) bool {
	return strings.Contains(r.Header.Get("Accept"), mime)
}

// isCSV reports whether the request's body is text/csv.
func isCSV(r *http.Request) bool {
	return strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "text/csv")
}

// boolParam reads the query parameter name as true or false (absent:
// false).
func boolParam(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, &store.Error{Code: store.EInvalid, Field: name, Message: fmt.Sprintf("%s: want true or false, got %q", name, v)}
	}
	return b, nil
}

// intParam reads the query parameter name as a whole number of 0 or more
// (absent: def).
func intParam(r *http.Request, name string, def int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, &store.Error{Code: store.EInvalid, Field: name, Message: fmt.Sprintf("%s: want a whole number, got %q", name, v)}
	}
	return n, nil
}

// firstOr returns v, or def when v is "".
func firstOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// Answers: JSON, and the streams of exports.

var contentTypeJSON = []string{"application/json"}

// jsonAppender is implemented by the answers encoded by hand on hot paths
// (validations, redemptions); their output is byte for byte encoding/json's
// (the store's FuzzJSONEncoding holds them to it).
type jsonAppender interface{ AppendJSON([]byte) []byte }

// smallAnswer is the most net/http buffers before it sends a response's
// headers (its bufferBeforeChunkingSize): an answer this small, written
// whole before the handler returns, gets its Content-Length from net/http,
// without the header's two allocations. A larger one is given it, so that
// it is not sent chunked.
const smallAnswer = 2048

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h["Content-Type"] = contentTypeJSON
	if a, ok := v.(jsonAppender); ok {
		b := append(a.AppendJSON(make([]byte, 0, 256)), '\n')
		if len(b) > smallAnswer {
			h["Content-Length"] = []string{strconv.Itoa(len(b))}
		}
		w.WriteHeader(status)
		w.Write(b)
		return
	}
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

// streamCSV answers a CSV download: check first (so a bad campaign is an
// error response, not a broken stream), then the header and every row
// each emits.
func streamCSV(w http.ResponseWriter, filename string, header []string, each func(emit func([]string) error) error, check func() error) error {
	if err := check(); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", filename))
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return err
	}
	if err := each(cw.Write); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// streamNDJSON answers one JSON value a line: check first, then every
// value each emits; an error part-way ends the stream with an error body
// as its last line.
func streamNDJSON(w http.ResponseWriter, each func(emit func(any) error) error, check func() error) error {
	if err := check(); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	if err := each(func(v any) error { return enc.Encode(v) }); err != nil {
		_ = enc.Encode(errorBody(err))
		bw.Flush()
		return err
	}
	return bw.Flush()
}
