//go:build !linux

package main

import (
	"errors"
	"syscall"
	"time"
)

// sysProcAttr has nothing to add where the kernel cannot tie a server's
// life to loadbench's; loadbench stops its servers itself.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// raiseFileLimit leaves the limit of open files as it is.
func raiseFileLimit() error { return nil }

// peakRSS has no /proc to read it from.
func peakRSS(int) (int64, error) { return 0, errors.New("peak RSS: only on Linux") }

// cpuTime has no /proc to read it from.
func cpuTime(int) (time.Duration, error) { return 0, errors.New("CPU time: only on Linux") }
