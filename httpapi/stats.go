package httpapi

import (
	"net/http"

	"github.com/gorilla/mux"

	"promo/store"
)

// Read-only views: a campaign's stats, the overview of all campaigns, and
// one customer's codes and redemptions; the handlers and the Client's
// calls side by side.

func (s *Server) campaignStats(w http.ResponseWriter, r *http.Request) error {
	st, err := s.st.CampaignStats(mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request) error {
	ov, err := s.st.Stats()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ov)
	return nil
}

func (s *Server) customer(w http.ResponseWriter, r *http.Request) error {
	cv, err := s.st.Customer(mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, cv)
	return nil
}

// The Client's side of these routes, over the admin socket.

// CampaignStats calls GET /v1/campaigns/{id}/stats.
func (c *Client) CampaignStats(id string) (store.CampaignStats, error) {
	ctx, cancel := bg()
	defer cancel()
	var out store.CampaignStats
	return out, c.call(ctx, "GET", "/v1/campaigns/"+esc(id)+"/stats", nil, &out, nil)
}

// Stats calls GET /v1/stats.
func (c *Client) Stats() (store.Overview, error) {
	ctx, cancel := bg()
	defer cancel()
	var out store.Overview
	return out, c.call(ctx, "GET", "/v1/stats", nil, &out, nil)
}

// Customer calls GET /v1/customers/{id}.
func (c *Client) Customer(id string) (store.CustomerView, error) {
	ctx, cancel := bg()
	defer cancel()
	var out store.CustomerView
	return out, c.call(ctx, "GET", "/v1/customers/"+esc(id), nil, &out, nil)
}
