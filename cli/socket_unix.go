//go:build unix

package cli

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"

	"promo/httpapi"
	"promo/store"
)

// The CLI hands every command, admin ones included, to whatever listens on
// FILE.sock, and prints what it answers. In a directory others may write
// to, another user's process could listen there to capture the commands
// (a new admin key, imported codes) and answer them falsely. So the socket
// is used only when it belongs to the user who owns the database file, or
// to root; otherwise the command stops with exit 3 and never falls back to
// opening the file itself. Where the system tells (Linux), the process
// that listens must be of such a user too, which no renaming of files can
// fake.

// socketOwners returns the user ids whose socket the CLI trusts for the
// database at db: its owner (the current user when there is no file) and
// root.
func socketOwners(db string) (owner uint32) {
	if st, err := os.Stat(db); err == nil {
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			return sys.Uid
		}
	}
	return uint32(os.Geteuid())
}

// trustSocket returns nil when the socket file sock may carry commands for
// the database at db, and otherwise the error (exit 3) saying whose it is
// and what to do. Whatever sits at sock must belong to the database's
// owner or root, and so must what a symbolic link there leads to. A file
// of theirs that is no socket is harmless (nothing can answer on it).
func trustSocket(sock, db string) error {
	st, err := os.Lstat(sock)
	if err != nil {
		return nil // gone: nothing to trust or refuse
	}
	owner := socketOwners(db)
	if uid := fileOwner(st); uid != owner && uid != 0 {
		return untrusted(sock, db, "belongs to "+userName(uid)+",", owner)
	}
	if st.Mode()&os.ModeSymlink != 0 {
		if target, err := os.Stat(sock); err == nil {
			if uid := fileOwner(target); uid != owner && uid != 0 {
				return untrusted(sock, db, "leads to a socket of "+userName(uid)+",", owner)
			}
		}
	}
	return nil
}

func fileOwner(st os.FileInfo) uint32 {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return sys.Uid
	}
	return 0
}

// checkListener returns the check of the process listening on the socket
// (by its user id) for the database at db.
func checkListener(sock, db string) func(uid uint32) error {
	owner := socketOwners(db)
	return func(uid uint32) error {
		if uid == owner || uid == 0 {
			return nil
		}
		return untrusted(sock, db, "is answered by a process of "+userName(uid)+",", owner)
	}
}

func untrusted(sock, db, whose string, owner uint32) error {
	trusted := "not to root, who owns " + db
	if owner != 0 {
		trusted = fmt.Sprintf("not to %s, who owns %s, nor to root", userName(owner), db)
	}
	return &store.Error{Code: store.EUnavailable, Err: httpapi.ErrUntrustedSocket, Message: fmt.Sprintf(
		"%s %s %s: another user's process may be listening there to read your commands and answer them falsely, so nothing was sent. "+
			"If your own promo serve is not running, remove the socket (rm %s) and run the command again; otherwise run the command as %s",
		sock, whose, trusted, sock, userName(owner))}
}

// userName names a user id: "uid 65534 (nobody)", or "uid 1234" when the
// system has no name for it.
func userName(uid uint32) string {
	s := "uid " + strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil && u.Username != "" {
		s += " (" + u.Username + ")"
	}
	return s
}
