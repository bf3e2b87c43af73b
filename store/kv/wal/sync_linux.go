package wal

import (
	"os"
	"syscall"
)

// fdatasync flushes f's data, and only the metadata needed to read it back:
// on a preallocated segment that is the data alone.
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
