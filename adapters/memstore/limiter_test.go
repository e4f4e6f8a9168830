package memstore_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"

	"github.com/seatres/reservation/adapters/memstore"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/application/storetest"
	"github.com/seatres/reservation/domain"
)

// TestLimiterContract runs the contract on one limiter for every test, as
// one process of the service has: its "two instances" are one.
func TestLimiterContract(t *testing.T) {
	t.Parallel()
	l := memstore.NewLimiter(time.Now)
	storetest.RunLimiter(t, func(*testing.T) application.Limiter { return l })
}

// TestLimiterModule: the module provides a limiter beside the store.
func TestLimiterModule(t *testing.T) {
	t.Parallel()
	var l application.Limiter
	fxtest.New(t, memstore.Module, fx.Supply(zap.NewNop()), fx.Populate(&l)).RequireStart().RequireStop()
	one := domain.Rate{Count: 1, Period: time.Minute, Burst: 1}
	checks := []application.LimitCheck{{Key: "buyer:x", Rate: one}, {Key: "buyer:x", Rate: one}}
	if ds, err := l.Allow(context.Background(), checks); err != nil || !ds[0].Allowed || ds[1].Allowed {
		t.Fatalf("Allow = %+v, %v; want the first allowed, the second refused", ds, err)
	}
}
