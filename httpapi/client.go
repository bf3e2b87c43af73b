package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"promo/store"
)

// Client talks to a running `promo serve` over its admin unix socket. It
// has the store's method set (the CLI's Backend), so the CLI prints the same
// output and exits with the same codes whether it opened the database
// itself or goes through the server. Refusals come back as *store.Error.
type Client struct {
	socket string
	hc     *http.Client
}

// ErrUntrustedSocket is the cause of a refusal to use a socket whose
// listener is not to be trusted: nothing was sent, and the caller must not
// work around it.
var ErrUntrustedSocket = errors.New("untrusted socket")

// Dial returns a client for the server listening on socketPath, after
// checking within about a second that it answers. It returns an
// unavailable error when nothing answers.
func Dial(socketPath string) (*Client, error) { return DialChecked(socketPath, nil) }

// DialChecked is Dial that, where the system tells (Linux), checks the
// user id of the process listening on the socket before each connection
// carries a byte: checkPeer's error (for a process that is not to be
// trusted; it should wrap ErrUntrustedSocket) is returned, and nothing is
// sent.
func DialChecked(socketPath string, checkPeer func(uid uint32) error) (*Client, error) {
	if _, err := os.Stat(socketPath); err != nil {
		return nil, &store.Error{Code: store.EUnavailable, Message: fmt.Sprintf("no promo serve socket at %s", socketPath), Err: err}
	}
	c := &Client{socket: socketPath, hc: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			conn, err := d.DialContext(ctx, "unix", socketPath)
			if err != nil || checkPeer == nil || !peerCredentials {
				return conn, err
			}
			uid, err := peerUID(conn)
			if err == nil {
				err = checkPeer(uid)
			} else {
				err = &store.Error{Code: store.EUnavailable, Message: fmt.Sprintf("cannot tell who listens on %s (%v), so nothing was sent", socketPath, err),
					Err: fmt.Errorf("%w: %w", ErrUntrustedSocket, err)}
			}
			if err != nil {
				conn.Close()
				return nil, err
			}
			return conn, nil
		},
		MaxIdleConnsPerHost: 4,
	}}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	resp, err := c.do(ctx, "GET", "/healthz", nil, "", "")
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	return c, nil
}

// Close releases the client's connections.
func (c *Client) Close() error {
	c.hc.CloseIdleConnections()
	return nil
}

// do sends a request and returns the response when its status is 2xx, or
// the error the server answered, as a *store.Error.
func (c *Client) do(ctx context.Context, method, path string, body io.Reader, contentType, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://promo"+path, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		return nil, decodeError(resp.Body, resp.StatusCode)
	}
	return resp, nil
}

// transportError describes a request that got no answer: the refusal of
// the peer check as it is, else the server not answering.
func (c *Client) transportError(ctx context.Context, err error) error {
	var se *store.Error
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.As(err, &se):
		return se
	}
	return &store.Error{Code: store.EUnavailable, Message: fmt.Sprintf("promo serve on %s does not answer: %v", c.socket, err), Err: err}
}

// decodeError reads an error body into a *store.Error.
func decodeError(r io.Reader, status int) error {
	var body struct {
		Error struct {
			Code         string          `json:"code"`
			Message      string          `json:"message"`
			Field        string          `json:"field"`
			Details      json.RawMessage `json:"details"`
			DetailsTotal int             `json:"details_total"`
		} `json:"error"`
	}
	b, _ := io.ReadAll(io.LimitReader(r, 16<<20))
	if err := json.Unmarshal(b, &body); err != nil || body.Error.Code == "" {
		return &store.Error{Code: store.EInternal, Message: fmt.Sprintf("the server answered %d without an error body", status)}
	}
	e := &store.Error{Code: body.Error.Code, Message: body.Error.Message, Field: body.Error.Field}
	var problems []store.ImportProblem
	if len(body.Error.Details) > 0 && json.Unmarshal(body.Error.Details, &problems) == nil {
		e.Details = problems
	}
	if body.Error.DetailsTotal > 0 {
		return &store.UploadError{Refusal: e, Total: body.Error.DetailsTotal}
	}
	return e
}

// call sends JSON (in may be nil) and decodes the JSON answer into out.
func (c *Client) call(ctx context.Context, method, path string, in, out any, idem *store.Idempotency) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://promo"+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if idem != nil {
		req.Header.Set("Idempotency-Key", idem.Key)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return c.transportError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return decodeError(resp.Body, resp.StatusCode)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return &store.Error{Code: store.EUnavailable, Message: "the server's answer was cut short: " + err.Error(), Err: err}
	}
	return nil
}

func bg() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 5*time.Minute)
}

func esc(s string) string { return url.PathEscape(s) }

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
	var out struct {
		Campaigns []*store.Campaign `json:"campaigns"`
	}
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
		var line struct {
			Done, Total int
			store.GenerateResult
			Error *ErrorDetail `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return store.GenerateResult{}, err
		}
		switch {
		case line.Error != nil:
			return store.GenerateResult{}, &store.Error{Code: line.Error.Code, Message: line.Error.Message, Field: line.Error.Field}
		case line.Batch != "":
			return line.GenerateResult, nil
		case req.Progress != nil:
			req.Progress(line.Done, line.Total)
		}
	}
	return store.GenerateResult{}, &store.Error{Code: store.EUnavailable, Message: "the server stopped answering during generation; see `promo stats` for what was stored"}
}

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

// eachLine streams NDJSON from path into fn, one decoded value per line.
func eachLine[T any](c *Client, path string, fn func(T) error) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := c.do(ctx, "GET", path, nil, "", "application/x-ndjson")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err == io.EOF {
			return nil
		} else if err != nil {
			return &store.Error{Code: store.EUnavailable, Message: "the server's answer was cut short: " + err.Error(), Err: err}
		}
		if bytes.HasPrefix(raw, []byte(`{"error":`)) {
			return decodeError(bytes.NewReader(raw), 500)
		}
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
	}
}

// EachCode streams GET /v1/campaigns/{id}/codes as NDJSON.
func (c *Client) EachCode(campaignID, state string, fn func(store.Code) error) error {
	return eachLine(c, "/v1/campaigns/"+esc(campaignID)+"/codes?state="+url.QueryEscape(state), fn)
}

// EachRedemption streams GET /v1/campaigns/{id}/redemptions as NDJSON.
func (c *Client) EachRedemption(campaignID string, fn func(store.Redemption) error) error {
	return eachLine(c, "/v1/campaigns/"+esc(campaignID)+"/redemptions", fn)
}

// Assign calls POST /v1/campaigns/{id}/assign.
func (c *Client) Assign(ctx context.Context, campaignID string, req store.AssignRequest) (store.Code, error) {
	var out store.Code
	return out, c.call(ctx, "POST", "/v1/campaigns/"+esc(campaignID)+"/assign", req, &out, req.Idempotency)
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
	return out, c.call(ctx, "POST", "/v1/codes/"+esc(code)+"/void", map[string]string{"reason": reason}, &out, nil)
}

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

type eventsPage struct {
	Events []store.Event `json:"events"`
	Last   uint64        `json:"last"`
}

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
	err := c.call(ctx, "POST", "/v1/keys", map[string]string{"name": name, "role": role}, &out, nil)
	return out.Key, out.Secret, err
}

// Keys calls GET /v1/keys.
func (c *Client) Keys() ([]store.Key, error) {
	ctx, cancel := bg()
	defer cancel()
	var out struct {
		Keys []store.Key `json:"keys"`
	}
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
