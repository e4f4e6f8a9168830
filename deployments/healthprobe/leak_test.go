package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the tests if any of them leaves a goroutine running.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
