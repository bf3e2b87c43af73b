//go:build !linux

package wal

import "os"

func fdatasync(f *os.File) error { return f.Sync() }

// rawFdatasync is fdatasync: only Linux has the raw call.
func rawFdatasync(f *os.File) error { return f.Sync() }
