package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"

	"github.com/gorilla/mux"

	"promo/store"
)

// Uploads (import, bulk assign) are read as streams, never whole: the
// store keeps only what it must (an import's distinct codes, compactly;
// the first 100 bad lines of any upload), and a bulk assignment's body is
// spooled to a temporary file so that it can be checked in full before
// anything is written, then read again to write. At most uploadSlots are
// read at once; more wait their turn, so the memory of many uploads in
// parallel stays bounded too.
const uploadSlots = 2

// upload returns the request body limited to MaxUploadBytes; reading past
// the limit fails with too_large. It waits for an upload slot first; the
// returned release frees it.
func (s *Server) upload(r *http.Request) (io.Reader, func(), error) {
	select {
	case s.uploads <- struct{}{}:
	case <-r.Context().Done():
		return nil, nil, r.Context().Err()
	}
	body := &limitedBody{r: http.MaxBytesReader(nil, r.Body, s.opts.MaxUploadBytes), limit: s.opts.MaxUploadBytes}
	return body, func() { <-s.uploads }, nil
}

func (s *Server) importCodes(w http.ResponseWriter, r *http.Request) error {
	skip, err := boolParam(r, "skip_invalid")
	if err != nil {
		return err
	}
	body, release, err := s.upload(r)
	if err != nil {
		return err
	}
	defer release()
	res, err := s.st.Import(r.Context(), mux.Vars(r)["id"], body, store.ImportOptions{SkipInvalid: skip})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, res)
	return nil
}

// spool copies an upload into a temporary file in SpoolDir and returns it
// at its start, with the function that closes and removes it. The file is
// removed at once where the system allows (so that a crash leaves nothing
// behind), else when done.
func (s *Server) spool(body io.Reader) (*os.File, func(), error) {
	f, err := os.CreateTemp(s.opts.SpoolDir, ".promo-upload-*")
	if err != nil {
		return nil, nil, &store.Error{Code: store.EUnavailable, Message: "cannot keep the upload while it is checked: " + err.Error(), Err: err}
	}
	removed := os.Remove(f.Name()) == nil
	done := func() {
		f.Close()
		if !removed {
			os.Remove(f.Name())
		}
	}
	_, err = io.Copy(f, body)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		done()
		if se, ok := err.(*store.Error); ok {
			return nil, nil, se // too_large
		}
		return nil, nil, &store.Error{Code: store.EUnavailable, Message: "cannot keep the upload while it is checked: " + err.Error(), Err: err}
	}
	return f, done, nil
}

// assignFile is a bulk assignment: a CSV of customers in, checked in full
// before any code is given, and the mail-merge CSV customer_id,email,name,
// code out (or, with Accept: application/x-ndjson, each row as JSON, an
// error body as the last line if the assignment stops part-way). The
// number of customers comes first, in the Promo-Customers header.
func (s *Server) assignFile(w http.ResponseWriter, r *http.Request) error {
	id := mux.Vars(r)["id"]
	if _, err := s.st.Campaign(id); err != nil {
		return err
	}
	body, release, err := s.upload(r)
	if err != nil {
		return err
	}
	defer release()
	f, done, err := s.spool(body)
	if err != nil {
		return err
	}
	defer done()
	asJSON := accepts(r, "application/x-ndjson")
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := csv.NewWriter(bw)
	enc := json.NewEncoder(bw)
	began := false
	ready := func(n int) error {
		began = true
		w.Header().Set(CustomersHeader, strconv.Itoa(n))
		if asJSON {
			w.Header().Set("Content-Type", "application/x-ndjson")
			return nil
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		return cw.Write(store.AssignCSVHeader)
	}
	emitted := 0
	emit := func(row store.AssignRow) error {
		emitted++
		if asJSON {
			return enc.Encode(row)
		}
		return cw.Write(row.CSV())
	}
	err = s.st.AssignFile(r.Context(), id, f, r.URL.Query().Get("channel"), ready, emit)
	if err != nil && (!began || emitted == 0) {
		// Refused before a row was answered (a bad file; an archived
		// campaign): nothing has left the buffers, so an error response.
		w.Header().Del(CustomersHeader)
		return err
	}
	if err != nil && asJSON {
		_ = enc.Encode(errorBody(err))
	}
	cw.Flush()
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	return err
}

// The Client's side of these routes, over the admin socket.

// Import calls POST /v1/campaigns/{id}/import with the CSV.
func (c *Client) Import(ctx context.Context, campaignID string, r io.Reader, opts store.ImportOptions) (store.ImportResult, error) {
	resp, err := c.do(ctx, "POST", "/v1/campaigns/"+esc(campaignID)+"/import?skip_invalid="+strconv.FormatBool(opts.SkipInvalid), r, "text/csv", "")
	if err != nil {
		return store.ImportResult{}, err
	}
	defer resp.Body.Close()
	var out store.ImportResult
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

// AssignFile posts the CSV file f to POST /v1/campaigns/{id}/assign (the
// server checks it in full before it gives any code), calls ready with the
// number of customers the server found, and emits each row with its code
// as the server streams them back.
func (c *Client) AssignFile(ctx context.Context, campaignID string, f io.ReadSeeker, channel string, ready func(rows int) error, emit func(store.AssignRow) error) error {
	path := "/v1/campaigns/" + esc(campaignID) + "/assign?channel=" + url.QueryEscape(channel)
	resp, err := c.do(ctx, "POST", path, io.NopCloser(f), "text/csv", "application/x-ndjson")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	n, err := strconv.Atoi(resp.Header.Get(CustomersHeader))
	if err != nil {
		return &store.Error{Code: store.EInternal, Message: "the server's answer lacks the " + CustomersHeader + " header; is it an older promo?"}
	}
	if ready != nil {
		if err := ready(n); err != nil {
			return err
		}
	}
	dec := json.NewDecoder(resp.Body)
	for i := 0; ; i++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err == io.EOF {
			if i < n {
				return &store.Error{Code: store.EUnavailable, Message: fmt.Sprintf("the server answered %d of %d customers; run again: assigned customers keep their codes", i, n)}
			}
			return nil
		} else if err != nil {
			return &store.Error{Code: store.EUnavailable, Message: "the server's answer was cut short; run again: assigned customers keep their codes", Err: err}
		}
		if bytes.HasPrefix(raw, []byte(`{"error":`)) {
			return decodeError(bytes.NewReader(raw), 500)
		}
		var row store.AssignRow
		if err := json.Unmarshal(raw, &row); err != nil {
			return err
		}
		if err := emit(row); err != nil {
			return err
		}
	}
}
