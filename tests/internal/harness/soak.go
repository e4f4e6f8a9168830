package harness

import "os"

// Size is short in `make test`, soak under `make soak`, which sets SOAK=1.
func Size(short, soak int) int {
	if os.Getenv("SOAK") == "1" {
		return soak
	}
	return short
}
