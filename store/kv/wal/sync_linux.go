package wal

import (
	"os"
	"syscall"
)

// fdatasync flushes f's data, and only the metadata needed to read it back:
// on a preallocated segment that is the data alone.
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }

// rawFdatasync is fdatasync as a raw system call (see rawSyncLimit).
var rawFdatasync = func(f *os.File) error {
	if _, _, e := syscall.RawSyscall(syscall.SYS_FDATASYNC, f.Fd(), 0, 0); e != 0 {
		return e
	}
	return nil
}
