//go:build !linux

package wal

import "os"

func fdatasync(f *os.File) error { return f.Sync() }

// rawFdatasync is nil: only Linux has the raw call, so RawSync is
// ignored elsewhere.
var rawFdatasync func(*os.File) error
