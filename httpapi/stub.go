// Package httpapi serves promo's HTTP API over the store, and is the client
// the CLI uses to talk to a running server over its unix socket.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"

	"promo/store"
)

// Options configure a Server. (Stub: the real implementation replaces this file.)
type Options struct {
	Logger *slog.Logger
	// OnReady is called with the TCP and socket addresses once both listen.
	OnReady func(tcp net.Addr, socket string)
}

// Server is the HTTP API over one store.
type Server struct{ st *store.Store }

// New returns a server for st.
func New(st *store.Store, opts Options) *Server { return &Server{st: st} }

// Handler serves the API to API-key holders.
func (s *Server) Handler() http.Handler { return http.NotFoundHandler() }

// Serve listens on addr (TCP) and socketPath (unix socket, mode 0600, every
// request admin) until ctx ends, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, addr, socketPath string) error {
	return errors.New("not implemented yet")
}

// Client talks to a running promo serve over its unix socket.
type Client struct{}

// Dial connects to the server listening on socketPath, or fails within
// about a second.
func Dial(socketPath string) (*Client, error) { return nil, errors.New("not implemented yet") }
