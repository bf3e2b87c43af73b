package httpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"promo/store"
)

// Administration: the event log (with its long-poll), API keys, backup,
// check, profiles and the health check; the handlers and the Client's
// calls side by side.

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
	writeJSON(w, http.StatusOK, eventsPage{Events: list, Last: last})
	return nil
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) error {
	var req keyRequest
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
	writeJSON(w, http.StatusOK, KeyList{Keys: keys})
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

// The Client's side of these routes, over the admin socket.

// Events calls GET /v1/events.
func (c *Client) Events(after uint64, limit int) ([]store.Event, error) {
	ctx, cancel := bg()
	defer cancel()
	var out eventsPage
	return out.Events, c.call(ctx, "GET", fmt.Sprintf("/v1/events?after=%d&limit=%d", after, limit), nil, &out, nil)
}

// WaitEvents long-polls GET /v1/events?wait= until an event after after
// exists or ctx ends.
func (c *Client) WaitEvents(ctx context.Context, after uint64) error {
	for {
		var out eventsPage
		if err := c.call(ctx, "GET", fmt.Sprintf("/v1/events?after=%d&limit=1&wait=30s", after), nil, &out, nil); err != nil {
			return err
		}
		if out.Last > after {
			return nil
		}
	}
}

// CreateKey calls POST /v1/keys.
func (c *Client) CreateKey(ctx context.Context, name, role string) (store.Key, string, error) {
	var out KeyCreated
	err := c.call(ctx, "POST", "/v1/keys", keyRequest{Name: name, Role: role}, &out, nil)
	return out.Key, out.Secret, err
}

// Keys calls GET /v1/keys.
func (c *Client) Keys() ([]store.Key, error) {
	ctx, cancel := bg()
	defer cancel()
	var out KeyList
	return out.Keys, c.call(ctx, "GET", "/v1/keys", nil, &out, nil)
}

// RevokeKey calls DELETE /v1/keys/{name}.
func (c *Client) RevokeKey(ctx context.Context, name string) error {
	return c.call(ctx, "DELETE", "/v1/keys/"+esc(name), nil, nil, nil)
}

// Backup streams GET /v1/backup into w.
func (c *Client) Backup(w io.Writer) (int64, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := c.do(ctx, "GET", "/v1/backup", nil, "", "")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, &store.Error{Code: store.EUnavailable, Message: "the backup stream was cut short: " + err.Error(), Err: err}
	}
	return n, nil
}

// Check calls GET /v1/check.
func (c *Client) Check(ctx context.Context) ([]string, error) {
	var out CheckResult
	return out.Findings, c.call(ctx, "GET", "/v1/check", nil, &out, nil)
}
