package harness

import "os"

// Soaking reports whether the long variants run: `make soak` sets SOAK=1.
func Soaking() bool { return os.Getenv("SOAK") == "1" }

// Size is short in `make test`, soak under `make soak`.
func Size(short, soak int) int {
	if Soaking() {
		return soak
	}
	return short
}
