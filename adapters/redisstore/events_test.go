package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/seatres/reservation/adapters/redisstore"
	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// TestEventCache: an instance answers an event it created or read from
// memory, even with Redis gone, and still asks Redis for the others.
func TestEventCache(t *testing.T) {
	t.Parallel()
	addr := redistest.Standalone(t)
	cfg := redisstore.Config{Addrs: []string{addr}, Timeout: 200 * time.Millisecond}
	creator, reader := newStoreWith(t, cfg), newStoreWith(t, cfg)
	c := redistest.Client(t, addr)
	ctx := context.Background()
	created, read := newEvent(t, creator, 10), newEvent(t, creator, 20)
	if got, err := reader.Event(ctx, read.ID); err != nil || got != read {
		t.Fatalf("Event from another instance = %+v, %v; want %+v", got, err, read)
	}
	_ = c.Do(ctx, c.B().Shutdown().Nosave().Build()).Error()
	for _, tt := range []struct {
		name  string
		store application.Store
		want  domain.Event
	}{{"created", creator, created}, {"read", reader, read}} {
		if got, err := tt.store.Event(ctx, tt.want.ID); err != nil || got != tt.want {
			t.Errorf("%s event with Redis down = %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
	if _, err := reader.Event(ctx, created.ID); !errors.Is(err, application.ErrUnavailable) {
		t.Errorf("event the reader never saw, with Redis down: %v, want %v", err, application.ErrUnavailable)
	}
}
