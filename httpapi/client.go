package httpapi

import (
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
