package bench

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRawConn_KeepAliveRequests(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "Bearer k", r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "%s %s", r.Method, r.URL.Path)
	}))
	defer srv.Close()
	c, err := dialRaw(srv.URL)
	require.NoError(t, err)
	defer c.Close()
	for i := 0; i < 3; i++ { // one connection, one request after another
		status, body, err := c.post("/v1/redeem", "k", []byte(`{}`))
		require.NoError(t, err)
		require.Equal(t, 201, status)
		require.Equal(t, "POST /v1/redeem", string(body))
	}
}

func TestRawConn_RefusesWhatItCannotRead(t *testing.T) {
	for _, answer := range []string{"garbage\r\n\r\n", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		go func() {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			conn.Read(buf)
			conn.Write([]byte(answer))
			conn.Close()
		}()
		c, err := dialRaw("http://" + l.Addr().String())
		require.NoError(t, err)
		_, _, err = c.post("/", "k", nil)
		require.ErrorIs(t, err, errBadResponse, answer)
		c.Close()
		l.Close()
	}
}
