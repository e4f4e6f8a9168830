package main

import "syscall"

// sysProcAttr has the kernel kill a server if loadbench dies without
// stopping it, so none outlives the run.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
