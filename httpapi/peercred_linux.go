package httpapi

import (
	"errors"
	"net"
	"syscall"
)

// peerUID returns the user id of the process at the other end of a unix
// socket connection (SO_PEERCRED: the process that listens, as the kernel
// recorded it, whoever owns the socket file now).
func peerUID(c net.Conn) (uint32, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return 0, errors.New("not a unix socket connection")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if credErr != nil {
		return 0, credErr
	}
	return cred.Uid, nil
}

// peerCredentials reports whether peerUID works here.
const peerCredentials = true
