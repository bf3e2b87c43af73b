package httpapi

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"promo/store"
)

// apiRoutes is the whole API. Each route names the least role that may
// call it (admin ⊃ issuer ⊃ pos; "" for none).
func (s *Server) apiRoutes() []route {
	A, I, P := store.RoleAdmin, store.RoleIssuer, store.RolePOS
	// gorilla/mux tries routes in order: the tills' two routes come first.
	return append([]route{
		{"POST", "/v1/validate", P, s.validate},
		{"POST", "/v1/redeem", P, s.redeem},
		{"POST", "/v1/campaigns", A, s.createCampaign},
		{"GET", "/v1/campaigns", I, s.listCampaigns},
		{"GET", "/v1/campaigns/{id}", I, s.getCampaign},
		{"PATCH", "/v1/campaigns/{id}", A, s.updateCampaign},
		{"POST", "/v1/campaigns/{id}/generate", A, s.generate},
		{"POST", "/v1/campaigns/{id}/import", A, s.importCodes},
		{"GET", "/v1/campaigns/{id}/codes", I, s.listCodes},
		{"GET", "/v1/campaigns/{id}/redemptions", I, s.listRedemptions},
		{"POST", "/v1/campaigns/{id}/assign", I, s.assign},
		{"GET", "/v1/campaigns/{id}/stats", I, s.campaignStats},
		{"GET", "/v1/codes/{code}", I, s.getCode},
		{"POST", "/v1/codes/{code}/void", A, s.void},
		{"POST", "/v1/redemptions/{id}/rollback", I, s.rollback},
		{"GET", "/v1/stats", I, s.stats},
		{"GET", "/v1/customers/{id}", I, s.customer},
		{"GET", "/v1/events", A, s.events},
		{"POST", "/v1/keys", A, s.createKey},
		{"GET", "/v1/keys", A, s.listKeys},
		{"DELETE", "/v1/keys/{name}", A, s.revokeKey},
		{"GET", "/v1/backup", A, s.backup},
		{"GET", "/v1/check", A, s.check},
		{"GET", "/debug/pprof/{profile}", A, s.pprof},
		{"GET", "/healthz", "", s.healthz},
		{"HEAD", "/healthz", "", s.healthz},
		{"GET", "/metrics", "", s.serveMetrics},
	}, s.webRoutes()...)
}

// idempotency reads the Idempotency-Key header: scoped to the caller, with
// a hash of the method, path and body.
func idempotency(r *http.Request, body []byte) (*store.Idempotency, error) {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		return nil, nil
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\n", r.Method, r.URL.Path)
	h.Write(body)
	idem := &store.Idempotency{Scope: callerOf(r).Name, Key: key}
	copy(idem.Hash[:], h.Sum(nil))
	return idem, idem.Validate()
}

func (s *Server) json(r *http.Request, dst any, emptyOK bool) ([]byte, error) {
	body, err := readBody(r, s.opts.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	return body, decodeJSON(body, dst, emptyOK)
}

func accepts(r *http.Request, mime string) bool {
	return strings.Contains(r.Header.Get("Accept"), mime)
}

func isCSV(r *http.Request) bool {
	return strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "text/csv")
}

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
	writeJSON(w, http.StatusOK, map[string]any{"campaigns": list})
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
		_ = enc.Encode(map[string]int{"done": done, "total": total})
		flush()
	}
	res, err := s.st.Generate(r.Context(), id, req)
	if err != nil {
		return enc.Encode(errorBody(err))
	}
	return enc.Encode(res)
}

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

func (s *Server) campaignStats(w http.ResponseWriter, r *http.Request) error {
	st, err := s.st.CampaignStats(mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
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
	var req struct {
		Reason string `json:"reason"`
	}
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

// events returns events after ?after= (oldest first, at most ?limit=). With
// ?wait=30s it waits up to that long for one to arrive, so followers need
// not poll.
func (s *Server) events(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	after, err := strconv.ParseUint(firstOr(q.Get("after"), "0"), 10, 64)
	if err != nil {
		return &store.Error{Code: store.EInvalid, Field: "after", Message: fmt.Sprintf("after: want an event number, got %q", q.Get("after"))}
	}
	limit, err := intParam(r, "limit", 1000)
	if err != nil {
		return err
	}
	if wait := q.Get("wait"); wait != "" {
		d, err := time.ParseDuration(wait)
		if err != nil || d < 0 || d > 5*time.Minute {
			return &store.Error{Code: store.EInvalid, Field: "wait", Message: fmt.Sprintf("wait: want a duration up to 5m such as \"30s\", got %q", wait)}
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		stop := context.AfterFunc(s.lifetime(), cancel) // a shutting-down server answers at once
		err = s.st.WaitEvents(ctx, after)
		stop()
		cancel()
		if err != nil && ctx.Err() == nil {
			return err
		}
	}
	list, err := s.st.Events(after, limit)
	if err != nil {
		return err
	}
	last, err := s.st.LastEventSeq()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": list, "last": last})
	return nil
}

func firstOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// KeyCreated is the answer to creating a key: the secret appears only here.
type KeyCreated struct {
	Key    store.Key `json:"key"`
	Secret string    `json:"secret"`
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name string `json:"name"`
		Role string `json:"role"`
	}
	if _, err := s.json(r, &req, false); err != nil {
		return err
	}
	k, secret, err := s.st.CreateKey(r.Context(), req.Name, req.Role)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, KeyCreated{Key: k, Secret: secret})
	return nil
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) error {
	keys, err := s.st.Keys()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
	return nil
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) error {
	if err := s.st.RevokeKey(r.Context(), mux.Vars(r)["name"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// backup streams a consistent copy of the database file.
func (s *Server) backup(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "promo-"+time.Now().UTC().Format("20060102-150405")+".db"))
	_, err := s.st.Backup(w)
	return err
}

// CheckResult is the answer of GET /v1/check.
type CheckResult struct {
	OK       bool     `json:"ok"`
	Findings []string `json:"findings"`
}

func (s *Server) check(w http.ResponseWriter, r *http.Request) error {
	findings, err := s.st.Check(r.Context())
	if err != nil {
		return err
	}
	if findings == nil {
		findings = []string{}
	}
	writeJSON(w, http.StatusOK, CheckResult{OK: len(findings) == 0, Findings: findings})
	return nil
}

// pprof serves Go's profiles (admin only): /debug/pprof/profile?seconds=10
// for CPU, /debug/pprof/heap, /debug/pprof/goroutine, …
func (s *Server) pprof(w http.ResponseWriter, r *http.Request) error {
	switch name := mux.Vars(r)["profile"]; name {
	case "profile":
		pprof.Profile(w, r)
	case "trace":
		pprof.Trace(w, r)
	default:
		pprof.Handler(name).ServeHTTP(w, r)
	}
	return nil
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.st.LastEventSeq(); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}
