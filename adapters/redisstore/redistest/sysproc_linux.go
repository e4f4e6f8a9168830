package redistest

import "syscall"

// sysProcAttr has the kernel kill the server if the test binary dies
// without cleaning up (a panic or a test timeout), so no server outlives it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
