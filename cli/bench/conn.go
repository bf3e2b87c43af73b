package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
)

// rawConn is a minimal HTTP/1.1 keep-alive client for one connection and
// one request in flight: the load generator's side of the benchmark. It
// writes each request in one syscall and parses only the status and
// Content-Length of the answer, so that on a machine it shares with the
// server it takes as little CPU as pgbench or redis-benchmark do for the
// peers. It is not a general HTTP client: it assumes the server answers
// with Content-Length (promo's JSON answers do).
type rawConn struct {
	addr, host string
	local      *net.TCPAddr
	conn       net.Conn
	r          *bufio.Reader
	req        []byte
	body       []byte
}

func dialRaw(base string) (*rawConn, error) { return dialRawFrom(base, "") }

// dialRawFrom connects from the local address from ("" for any), so a
// benchmark can play clients at different addresses over loopback.
func dialRawFrom(base, from string) (*rawConn, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	c := &rawConn{addr: u.Host, host: u.Host}
	if from != "" {
		c.local = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	return c, c.redial()
}

func (c *rawConn) redial() error {
	if c.conn != nil {
		c.conn.Close()
	}
	d := net.Dialer{}
	if c.local != nil {
		d.LocalAddr = c.local
	}
	conn, err := d.Dial("tcp", c.addr)
	if err != nil {
		return err
	}
	c.conn, c.r = conn, bufio.NewReaderSize(conn, 16<<10)
	return nil
}

func (c *rawConn) Close() error { return c.conn.Close() }

// post sends a JSON POST and returns the status and the body (valid until
// the next call).
func (c *rawConn) post(path, key string, body []byte) (int, []byte, error) {
	return c.postIdem(path, key, "", body)
}

// postIdem is post with an Idempotency-Key header unless idem is "".
func (c *rawConn) postIdem(path, key, idem string, body []byte) (int, []byte, error) {
	c.req = append(c.req[:0], "POST "...)
	c.req = append(c.req, path...)
	c.req = append(c.req, " HTTP/1.1\r\nHost: "...)
	c.req = append(c.req, c.host...)
	c.req = append(c.req, "\r\nAuthorization: Bearer "...)
	c.req = append(c.req, key...)
	if idem != "" {
		c.req = append(c.req, "\r\nIdempotency-Key: "...)
		c.req = append(c.req, idem...)
	}
	c.req = append(c.req, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	c.req = strconv.AppendInt(c.req, int64(len(body)), 10)
	c.req = append(c.req, "\r\n\r\n"...)
	c.req = append(c.req, body...)
	if _, err := c.conn.Write(c.req); err != nil {
		return 0, nil, err
	}
	return c.readResponse()
}

var errBadResponse = errors.New("malformed HTTP response")

func (c *rawConn) readResponse() (int, []byte, error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, nil, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, nil, fmt.Errorf("%w: %q", errBadResponse, line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %q", errBadResponse, line)
	}
	length := -1
	for {
		h, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, nil, err
		}
		if len(h) <= 2 {
			break
		}
		if len(h) > 16 && (h[0] == 'C' || h[0] == 'c') && bytes.EqualFold(h[:15], []byte("Content-Length:")) {
			if length, err = strconv.Atoi(string(bytes.TrimSpace(h[15:]))); err != nil {
				return 0, nil, fmt.Errorf("%w: %q", errBadResponse, h)
			}
		}
	}
	if length < 0 {
		return 0, nil, fmt.Errorf("%w: no Content-Length", errBadResponse)
	}
	if cap(c.body) < length {
		c.body = make([]byte, length)
	}
	c.body = c.body[:length]
	if _, err := io.ReadFull(c.r, c.body); err != nil {
		return 0, nil, err
	}
	return status, c.body, nil
}
