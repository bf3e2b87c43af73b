// Storage failures as the store's errors: what went wrong and what to do,
// in a sentence a person can act on.

package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"promo/store/kv"
	"promo/store/kv/wal"
)

// isErrno reports whether err is errno, also when a library flattened it
// into its message (bbolt's "file resize error: %s").
func isErrno(err error, errno syscall.Errno) bool {
	return errors.Is(err, errno) || strings.Contains(err.Error(), errno.Error())
}

// classify turns a storage error into an *Error: disk full and read-only
// files become EUnavailable with a sentence saying so; the rest internal.
func classify(err error, what string) error {
	var e *Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e):
		return err
	case isErrno(err, syscall.ENOSPC), isErrno(err, syscall.EDQUOT):
		return &Error{Code: EUnavailable, Message: "the disk is full: nothing was written; free space and retry", Err: err}
	case isErrno(err, syscall.EFBIG):
		return &Error{Code: EUnavailable, Message: "the database file reached its size limit: nothing was written", Err: err}
	case isErrno(err, syscall.EROFS), isErrno(err, syscall.EACCES), isErrno(err, syscall.EPERM), errors.Is(err, kv.ErrReadOnly):
		return &Error{Code: EUnavailable, Message: "the database file is read-only: nothing was written", Err: err}
	case errors.Is(err, kv.ErrClosed):
		return &Error{Code: EUnavailable, Message: "the database is closed", Err: err}
	case errors.Is(err, wal.ErrSync):
		return &Error{Code: EUnavailable, Message: "the write-ahead log could not be synced to disk: nothing more is written; restart promo", Err: err}
	case errors.Is(err, kv.ErrTooLarge):
		return &Error{Code: ETooLarge, Message: "this is too much for one transaction of the cluster (etcd's --max-txn-ops and --max-request-bytes): nothing was written; send less at once (e.g. split the file), or raise --max-txn-ops on every member and give promo the same --etcd-max-txn-ops", Err: err}
	case errors.Is(err, kv.ErrUncertain):
		return &Error{Code: EUnavailable, Message: "the cluster did not confirm the write in time: it may or may not have taken effect; retry with the same Idempotency-Key, or look before you retry", Err: err}
	case errors.Is(err, kv.ErrUnavailable):
		return &Error{Code: EUnavailable, Message: "the database cannot take writes now: nothing was written; retry later", Err: err}
	}
	return internal(err, what)
}

// openError says why the database file could not be opened or created,
// and what to do, without repeating the path (the cause names it too).
func openError(path string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "open "+path+": ")
	dir := filepath.Dir(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, serr := os.Stat(dir); serr != nil {
			msg = fmt.Sprintf("cannot create the database %s: the directory %s does not exist; create it first (mkdir -p %s), or use a file in an existing directory", path, dir, dir)
		}
	case errors.Is(err, fs.ErrPermission):
		msg = fmt.Sprintf("cannot open the database %s: permission denied; run promo as the user who owns %s, or use a file you may write", path, dir)
	}
	return &Error{Code: EUnavailable, Message: msg, Err: err}
}
