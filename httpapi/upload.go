package httpapi

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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

// CustomersHeader is the response header of a bulk assignment giving the
// number of customers in the file, sent before the first row.
const CustomersHeader = "Promo-Customers"

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
