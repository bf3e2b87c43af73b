//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Helpers of the end-to-end tests: calling the API of a running server
// over HTTP(S), and the tills' calls (redeem, validate) the tests repeat.

func newHTTPClient() *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 128,
		IdleConnTimeout:     30 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: httpTimeout}
}

// response is one HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body)) }

// errorCode returns the code of an error body, failing the test when the
// body is not {"error": {"code", "message"}}.
func (r response) errorCode(t *testing.T) string {
	t.Helper()
	var eb errorJSON
	require.NoError(t, json.Unmarshal(r.body, &eb), "error body of %s", r)
	require.NotEmpty(t, eb.Error.Code, "error body without a code: %s", r)
	require.NotEmpty(t, eb.Error.Message, "error body without a message: %s", r)
	return eb.Error.Code
}

// decode decodes the answer's JSON into v.
func (r response) decode(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.body, v), "answer %s", r)
}

// send makes one request. body is sent as is when it is []byte or string,
// else as JSON; contentType defaults to application/json. headers are
// name, value pairs. It returns the transport's error rather than failing,
// so goroutines can use it.
func (s *server) send(ctx context.Context, method, path, key string, body any, headers ...string) (response, error) {
	var rd io.Reader
	contentType := "application/json"
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return response{}, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, rd)
	if err != nil {
		return response{}, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return send(s.hc, req)
}

// send makes req with hc and reads the whole answer.
func send(hc *http.Client, req *http.Request) (response, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}, nil
}

// do makes one request and fails the test on a transport error.
func (s *server) do(t *testing.T, method, path, key string, body any, headers ...string) response {
	t.Helper()
	r, err := s.send(context.Background(), method, path, key, body, headers...)
	require.NoError(t, err, "%s %s", method, path)
	return r
}

// redeem posts a redemption and returns the answer.
func (s *server) redeem(t *testing.T, key string, req redeemReq) response {
	t.Helper()
	return s.do(t, "POST", "/v1/redeem", key, req)
}

// mustRedeem redeems and requires 201; it returns the redemption.
func (s *server) mustRedeem(t *testing.T, key string, req redeemReq) redemptionJSON {
	t.Helper()
	r := s.redeem(t, key, req)
	require.Equal(t, http.StatusCreated, r.status, "redeem %+v: %s", req, r)
	var red redemptionJSON
	r.decode(t, &red)
	require.NotEmpty(t, red.ID)
	return red
}

// refused redeems and requires the given status and error code.
func (s *server) refused(t *testing.T, key string, req redeemReq, status int, code string) {
	t.Helper()
	r := s.redeem(t, key, req)
	require.Equal(t, status, r.status, "redeem %+v: %s", req, r)
	require.Equal(t, code, r.errorCode(t), "redeem %+v: %s", req, r)
}

// validate posts a validation and returns the answer, which is always 200.
func (s *server) validate(t *testing.T, key string, req redeemReq) validationJSON {
	t.Helper()
	r := s.do(t, "POST", "/v1/validate", key, req)
	require.Equal(t, http.StatusOK, r.status, "validate %+v: %s", req, r)
	var v validationJSON
	r.decode(t, &v)
	return v
}

type redeemReq struct {
	Code        string `json:"code"`
	CustomerID  string `json:"customer_id,omitempty"`
	OrderID     string `json:"order_id,omitempty"`
	OrderAmount int64  `json:"order_amount,omitempty"`
	Currency    string `json:"currency,omitempty"`
	Terminal    string `json:"terminal,omitempty"`
}
