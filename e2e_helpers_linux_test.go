package main

// Helpers of the end-to-end tests: on Linux, a child process dies with
// the test process.

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill cmd when the test process goes away.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
