//go:build !linux

package main

import "syscall"

// sysProcAttr has nothing to add where the kernel cannot tie a server's
// life to loadbench's; loadbench stops its servers itself.
func sysProcAttr() *syscall.SysProcAttr { return nil }
