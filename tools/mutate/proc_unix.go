//go:build unix

package main

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the test binary in its own process group and makes a
// cancel kill the whole group.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
