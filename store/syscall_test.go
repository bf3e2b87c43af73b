package store

import "syscall"

var (
	errNoSpace    error = syscall.ENOSPC
	errFileTooBig error = syscall.EFBIG
	errReadOnlyFS error = syscall.EROFS
)
