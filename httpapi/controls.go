package httpapi

import (
	"context"
	"net/http"

	"github.com/gorilla/mux"

	"promo/store"
)

// The campaign controls' routes: releasing a hold, voiding a batch,
// erasing a customer; the handlers and the Client's calls side by side.
// (Holds are placed by POST /v1/validate with "hold", budgets set with the
// campaign: redeem.go and campaigns.go.)

// holdScope is whose holds a caller may release: a pos key its own, an
// issuer or admin (and the admin socket) anyone's.
func holdScope(r *http.Request) string {
	c := callerOf(r)
	if store.RoleAllows(c.Role, store.RoleIssuer) {
		return ""
	}
	return c.Name
}

func (s *Server) releaseHold(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.json(r, &struct{}{}, true); err != nil {
		return err
	}
	h, err := s.st.ReleaseHold(r.Context(), mux.Vars(r)["id"], holdScope(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

func (s *Server) voidBatch(w http.ResponseWriter, r *http.Request) error {
	var req store.VoidBatchRequest
	if _, err := s.json(r, &req, true); err != nil {
		return err
	}
	res, err := s.st.VoidBatch(r.Context(), mux.Vars(r)["id"], req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) eraseCustomer(w http.ResponseWriter, r *http.Request) error {
	res, err := s.st.EraseCustomer(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// The Client's side of these routes, over the admin socket.

// ReleaseHold calls POST /v1/holds/{id}/release. The socket is admin, so
// scope is not sent: any hold may be released.
func (c *Client) ReleaseHold(ctx context.Context, id, scope string) (store.Hold, error) {
	var out store.Hold
	return out, c.call(ctx, "POST", "/v1/holds/"+esc(id)+"/release", nil, &out, nil)
}

// VoidBatch calls POST /v1/campaigns/{id}/void.
func (c *Client) VoidBatch(ctx context.Context, campaignID string, req store.VoidBatchRequest) (store.VoidBatchResult, error) {
	var out store.VoidBatchResult
	return out, c.call(ctx, "POST", "/v1/campaigns/"+esc(campaignID)+"/void", req, &out, nil)
}

// EraseCustomer calls DELETE /v1/customers/{id}.
func (c *Client) EraseCustomer(ctx context.Context, id string) (store.ErasureResult, error) {
	var out store.ErasureResult
	return out, c.call(ctx, "DELETE", "/v1/customers/"+esc(id), nil, &out, nil)
}
