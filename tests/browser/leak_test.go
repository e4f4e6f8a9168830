package browser

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/seatres/reservation/adapters/redisstore/redistest"
)

// TestMain fails the tests if any of them leaves a goroutine running.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m, redistest.IgnoreRueidis...) }
