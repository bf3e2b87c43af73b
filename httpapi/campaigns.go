package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"

	"github.com/gorilla/mux"

	"promo/store"
)

// Campaigns: create, list, show, change, generate codes and assign them
// (one customer as JSON; a CSV of customers is in upload.go), the
// handlers and the Client's calls side by side.

func (s *Server) createCampaign(w http.ResponseWriter, r *http.Request) error {
	var spec store.CampaignSpec
	if _, err := s.json(r, &spec, false); err != nil {
		return err
	}
	c, err := s.st.CreateCampaign(r.Context(), spec)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (s *Server) listCampaigns(w http.ResponseWriter, r *http.Request) error {
	list, err := s.st.Campaigns()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, CampaignList{Campaigns: list})
	return nil
}

func (s *Server) getCampaign(w http.ResponseWriter, r *http.Request) error {
	c, err := s.st.Campaign(mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) updateCampaign(w http.ResponseWriter, r *http.Request) error {
	var patch store.CampaignPatch
	if _, err := s.json(r, &patch, false); err != nil {
		return err
	}
	c, err := s.st.UpdateCampaign(r.Context(), mux.Vars(r)["id"], patch)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

// generate makes codes. With Accept: application/x-ndjson it streams
// {"done","total"} lines as chunks commit, then the result (or an error
// body) as the last line.
func (s *Server) generate(w http.ResponseWriter, r *http.Request) error {
	var req store.GenerateRequest
	body, err := s.json(r, &req, false)
	if err != nil {
		return err
	}
	if req.Idempotency, err = idempotency(r, body); err != nil {
		return err
	}
	id := mux.Vars(r)["id"]
	if !accepts(r, "application/x-ndjson") {
		res, err := s.st.Generate(r.Context(), id, req)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, res)
		return nil
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	flush := func() {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	req.Progress = func(done, total int) {
		_ = enc.Encode(generateProgress{Done: done, Total: total})
		flush()
	}
	res, err := s.st.Generate(r.Context(), id, req)
	if err != nil {
		return enc.Encode(errorBody(err))
	}
	return enc.Encode(res)
}

// assign gives one customer a code (JSON), or many (text/csv in, a
// mail-merge CSV out: customer_id,email,name,code).
func (s *Server) assign(w http.ResponseWriter, r *http.Request) error {
	if isCSV(r) {
		return s.assignFile(w, r)
	}
	var req store.AssignRequest
	body, err := s.json(r, &req, false)
	if err != nil {
		return err
	}
	if req.Idempotency, err = idempotency(r, body); err != nil {
		return err
	}
	code, err := s.st.Assign(r.Context(), mux.Vars(r)["id"], req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, code)
	return nil
}

// The Client's side of these routes, over the admin socket.

// CreateCampaign calls POST /v1/campaigns.
func (c *Client) CreateCampaign(ctx context.Context, spec store.CampaignSpec) (*store.Campaign, error) {
	var out store.Campaign
	return &out, c.call(ctx, "POST", "/v1/campaigns", spec, &out, nil)
}

// Campaign calls GET /v1/campaigns/{id}.
func (c *Client) Campaign(id string) (*store.Campaign, error) {
	ctx, cancel := bg()
	defer cancel()
	var out store.Campaign
	return &out, c.call(ctx, "GET", "/v1/campaigns/"+esc(id), nil, &out, nil)
}

// Campaigns calls GET /v1/campaigns.
func (c *Client) Campaigns() ([]*store.Campaign, error) {
	ctx, cancel := bg()
	defer cancel()
	var out CampaignList
	return out.Campaigns, c.call(ctx, "GET", "/v1/campaigns", nil, &out, nil)
}

// UpdateCampaign calls PATCH /v1/campaigns/{id}.
func (c *Client) UpdateCampaign(ctx context.Context, id string, patch store.CampaignPatch) (*store.Campaign, error) {
	var out store.Campaign
	return &out, c.call(ctx, "PATCH", "/v1/campaigns/"+esc(id), patch, &out, nil)
}

// Generate calls POST /v1/campaigns/{id}/generate, streaming progress to
// req.Progress.
func (c *Client) Generate(ctx context.Context, campaignID string, req store.GenerateRequest) (store.GenerateResult, error) {
	b, _ := json.Marshal(map[string]int{"count": req.Count})
	resp, err := c.do(ctx, "POST", "/v1/campaigns/"+esc(campaignID)+"/generate", bytes.NewReader(b), "application/json", "application/x-ndjson")
	if err != nil {
		return store.GenerateResult{}, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if bytes.HasPrefix(sc.Bytes(), []byte(`{"error":`)) {
			return store.GenerateResult{}, decodeError(bytes.NewReader(sc.Bytes()), 500)
		}
		var line struct {
			generateProgress
			store.GenerateResult
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return store.GenerateResult{}, err
		}
		switch {
		case line.Batch != "":
			return line.GenerateResult, nil
		case req.Progress != nil:
			req.Progress(line.Done, line.Total)
		}
	}
	return store.GenerateResult{}, &store.Error{Code: store.EUnavailable, Message: "the server stopped answering during generation; see `promo stats` for what was stored"}
}

// Assign calls POST /v1/campaigns/{id}/assign.
func (c *Client) Assign(ctx context.Context, campaignID string, req store.AssignRequest) (store.Code, error) {
	var out store.Code
	return out, c.call(ctx, "POST", "/v1/campaigns/"+esc(campaignID)+"/assign", req, &out, req.Idempotency)
}
