package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/gorilla/mux"

	"promo/httpapi/qr"
	"promo/store"
)

// Codes: a campaign's codes page by page or streamed, one code, its QR
// image, and voiding it; the handlers and the Client's calls side by side.

// listCodes pages through a campaign's codes; with Accept: text/csv it
// streams all of them (in the state asked for) as CSV, and with
// application/x-ndjson as one JSON code a line, never holding them all.
func (s *Server) listCodes(w http.ResponseWriter, r *http.Request) error {
	id, q := mux.Vars(r)["id"], r.URL.Query()
	switch {
	case accepts(r, "text/csv"):
		return streamCSV(w, id+"-codes.csv", store.CodeCSVHeader, func(emit func([]string) error) error {
			return s.st.EachCode(id, q.Get("state"), func(c store.Code) error { return emit(c.CSV()) })
		}, s.checkCampaign(id, q.Get("state")))
	case accepts(r, "application/x-ndjson"):
		return streamNDJSON(w, func(emit func(any) error) error {
			return s.st.EachCode(id, q.Get("state"), func(c store.Code) error { return emit(c) })
		}, s.checkCampaign(id, q.Get("state")))
	}
	limit, err := intParam(r, "limit", 100)
	if err != nil {
		return err
	}
	if limit == 0 {
		return &store.Error{Code: store.EInvalid, Field: "limit", Message: "limit: want 1 to 10000"}
	}
	page, err := s.st.Codes(id, store.CodeQuery{State: q.Get("state"), Limit: limit, Cursor: q.Get("cursor")})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// checkCampaign returns a check run before a stream starts, so a bad
// campaign or state is an ordinary error response, not a broken stream.
func (s *Server) checkCampaign(id, state string) func() error {
	return func() error {
		_, err := s.st.Codes(id, store.CodeQuery{State: state, Limit: 1})
		return err
	}
}

func (s *Server) getCode(w http.ResponseWriter, r *http.Request) error {
	c, err := s.lookupCode(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

// lookupCode finds the route's {code} as a till would: a caller that keeps
// failing is slowed.
func (s *Server) lookupCode(r *http.Request) (store.Code, error) {
	if err := s.limits.check(r); err != nil {
		return store.Code{}, err
	}
	c, err := s.st.GetCode(mux.Vars(r)["code"])
	s.limits.record(r, err)
	return c, err
}

func (s *Server) void(w http.ResponseWriter, r *http.Request) error {
	var req voidRequest
	if _, err := s.json(r, &req, true); err != nil {
		return err
	}
	c, err := s.st.Void(r.Context(), mux.Vars(r)["code"], req.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

// codeQR serves GET /v1/codes/{code}/qr.png: the code, looked up as a till
// would, as a QR image of its display form (?size= pixels, 64 to 2048,
// default 256). Unknown codes are not_found and cost the caller a token
// of its failed-lookup bucket, as GET /v1/codes/{code} does.
func (s *Server) codeQR(w http.ResponseWriter, r *http.Request) error {
	size, err := intParam(r, "size", 256)
	if err != nil {
		return err
	}
	if size < 64 || size > 2048 {
		return &store.Error{Code: store.EInvalid, Field: "size", Message: fmt.Sprintf("size: want 64 to 2048 pixels, got %d", size)}
	}
	c, err := s.lookupCode(r)
	if err != nil {
		return err
	}
	img, err := qr.PNG(c.Code, size)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "image/png")
	h.Set("Cache-Control", "private, max-age=86400")
	h.Set("Content-Length", fmt.Sprint(len(img)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(img)
	return err
}

// The Client's side of these routes, over the admin socket.

// EachCode streams GET /v1/campaigns/{id}/codes as NDJSON.
func (c *Client) EachCode(campaignID, state string, fn func(store.Code) error) error {
	return eachLine(c, "/v1/campaigns/"+esc(campaignID)+"/codes?state="+url.QueryEscape(state), fn)
}

// GetCode calls GET /v1/codes/{code}.
func (c *Client) GetCode(code string) (store.Code, error) {
	ctx, cancel := bg()
	defer cancel()
	var out store.Code
	return out, c.call(ctx, "GET", "/v1/codes/"+esc(code), nil, &out, nil)
}

// Void calls POST /v1/codes/{code}/void.
func (c *Client) Void(ctx context.Context, code, reason string) (store.Code, error) {
	var out store.Code
	return out, c.call(ctx, "POST", "/v1/codes/"+esc(code)+"/void", voidRequest{Reason: reason}, &out, nil)
}
