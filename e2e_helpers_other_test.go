//go:build unix && !linux

package main

// Helpers of the end-to-end tests: elsewhere, children outlive a killed
// test process (their tests stop them on cleanup).

import "os/exec"

// dieWithParent does nothing here: only Linux can tie a child's life to
// its parent's.
func dieWithParent(*exec.Cmd) {}
