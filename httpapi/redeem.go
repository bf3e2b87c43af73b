package httpapi

import (
	"context"
	"net/http"

	"github.com/gorilla/mux"

	"promo/store"
)

// The tills' routes and what undoes them: validate, redeem, roll back, and
// a campaign's redemptions streamed; the handlers and the Client's calls
// side by side.

// validate always answers 200 with {"valid": ...}, except for a malformed
// request (400) or a caller slowed for failing too often (429).
func (s *Server) validate(w http.ResponseWriter, r *http.Request) error {
	var req store.RedeemRequest
	if _, err := s.json(r, &req, false); err != nil {
		return err
	}
	if err := s.limits.check(r); err != nil {
		return err
	}
	req.Scope = callerOf(r).Name // whose hold, if one is asked for
	v, err := s.st.Validate(req)
	if err != nil {
		return err
	}
	if !v.Valid {
		s.limits.recordCode(r, v.Reason)
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) redeem(w http.ResponseWriter, r *http.Request) error {
	var req store.RedeemRequest
	body, err := s.json(r, &req, false)
	if err != nil {
		return err
	}
	if req.Idempotency, err = idempotency(r, body); err != nil {
		return err
	}
	if err := s.limits.check(r); err != nil {
		return err
	}
	red, err := s.st.Redeem(r.Context(), req)
	s.limits.record(r, err)
	if err != nil {
		return err
	}
	s.metrics.redemptions.Inc()
	writeJSON(w, http.StatusCreated, red)
	return nil
}

func (s *Server) rollback(w http.ResponseWriter, r *http.Request) error {
	var req store.RollbackRequest
	body, err := s.json(r, &req, true)
	if err != nil {
		return err
	}
	if req.Idempotency, err = idempotency(r, body); err != nil {
		return err
	}
	red, err := s.st.Rollback(r.Context(), mux.Vars(r)["id"], req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, red)
	return nil
}

func (s *Server) listRedemptions(w http.ResponseWriter, r *http.Request) error {
	id := mux.Vars(r)["id"]
	check := func() error { _, err := s.st.Campaign(id); return err }
	if accepts(r, "text/csv") {
		return streamCSV(w, id+"-redemptions.csv", store.RedemptionCSVHeader, func(emit func([]string) error) error {
			return s.st.EachRedemption(id, func(rd store.Redemption) error { return emit(rd.CSV()) })
		}, check)
	}
	return streamNDJSON(w, func(emit func(any) error) error {
		return s.st.EachRedemption(id, func(rd store.Redemption) error { return emit(rd) })
	}, check)
}

// The Client's side of these routes, over the admin socket.

// Validate calls POST /v1/validate.
func (c *Client) Validate(req store.RedeemRequest) (store.Validation, error) {
	ctx, cancel := bg()
	defer cancel()
	var out store.Validation
	return out, c.call(ctx, "POST", "/v1/validate", req, &out, nil)
}

// Redeem calls POST /v1/redeem.
func (c *Client) Redeem(ctx context.Context, req store.RedeemRequest) (store.Redemption, error) {
	var out store.Redemption
	return out, c.call(ctx, "POST", "/v1/redeem", req, &out, req.Idempotency)
}

// Rollback calls POST /v1/redemptions/{id}/rollback.
func (c *Client) Rollback(ctx context.Context, redemptionID string, req store.RollbackRequest) (store.Redemption, error) {
	var out store.Redemption
	return out, c.call(ctx, "POST", "/v1/redemptions/"+esc(redemptionID)+"/rollback", req, &out, req.Idempotency)
}

// EachRedemption streams GET /v1/campaigns/{id}/redemptions as NDJSON.
func (c *Client) EachRedemption(campaignID string, fn func(store.Redemption) error) error {
	return eachLine(c, "/v1/campaigns/"+esc(campaignID)+"/redemptions", fn)
}
