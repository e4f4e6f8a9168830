// Package browsertest finds the browser of the tests that render the
// service's pages in headless Chromium (the API docs, the seat map).
package browsertest

import (
	"os"
	"os/exec"
	"testing"
)

// Chromium is the browser's path. Without one, the test is skipped, or
// fails under CI=true, where `make test` installs it.
func Chromium(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Chromium is required under CI=true (make ensure-chromium): %v", err)
		}
		t.Skipf("no Chromium for this test (make ensure-chromium): %v", err)
	}
	return bin
}
