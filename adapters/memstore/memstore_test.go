package memstore_test

import (
	"testing"
	"time"

	"github.com/seatres/reservation/adapters/memstore"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/application/storetest"
)

func TestContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(*testing.T) application.Store { return memstore.New(time.Now) })
}
