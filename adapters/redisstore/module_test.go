package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"

	"github.com/seatres/reservation/adapters/redisstore"
	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/application"
)

// TestModule checks that the module provides a connected store and closes
// it when the application stops.
func TestModule(t *testing.T) {
	t.Parallel()
	cfg := redisstore.Config{Addrs: []string{redistest.SharedStandalone(t)}, Timeout: time.Second}
	var store application.Store
	app := fxtest.New(t,
		redisstore.Module,
		fx.Supply(cfg, zap.NewNop()),
		fx.Populate(&store),
	)
	app.RequireStart()
	e := newEvent(t, store, 10)
	app.RequireStop()
	if _, err := store.Seat(context.Background(), e.Seat(1)); !errors.Is(err, application.ErrUnavailable) {
		t.Fatalf("Seat after stop: %v, want %v", err, application.ErrUnavailable)
	}
}

// TestModuleUnreachable checks that the application does not start without
// its Redis.
func TestModuleUnreachable(t *testing.T) {
	t.Parallel()
	cfg := redisstore.Config{Addrs: []string{closedAddr(t)}, Timeout: time.Second}
	err := fx.New(redisstore.Module, fx.Supply(cfg, zap.NewNop()), fx.Invoke(func(application.Store) {}), fx.NopLogger).Err()
	if !errors.Is(err, application.ErrUnavailable) {
		t.Fatalf("fx.New: %v, want an error wrapping %v", err, application.ErrUnavailable)
	}
}
