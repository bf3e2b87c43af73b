//go:build !linux

package httpapi

import (
	"errors"
	"net"
)

// peerUID is not available here: the CLI then relies on the socket file's
// owner alone.
func peerUID(net.Conn) (uint32, error) { return 0, errors.New("no peer credentials on this system") }

// peerCredentials reports whether peerUID works here.
const peerCredentials = false
