package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/rueidis"

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

// TestSeatsPerRow: an event's rows come back from Redis as they were
// created, to an instance that did not create it, and best-available
// holds keep within them.
func TestSeatsPerRow(t *testing.T) {
	t.Parallel()
	addr := redistest.SharedStandalone(t)
	creator, reader := newStore(t, addr), newStore(t, addr)
	ctx := context.Background()
	e, err := domain.NewEvent(domain.EventID(uuid.NewString()), "Rows", 12, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := creator.CreateEvent(ctx, e); err != nil {
		t.Fatal(err)
	}
	if got, err := reader.Event(ctx, e.ID); err != nil || got != e {
		t.Fatalf("Event from another instance = %+v, %v; want %+v", got, err, e)
	}
	// Seats 1-5, 6-10, 11-12: with 3 and 4 held, the first run of 3 in one
	// row is 6-8, not 4-6 across the row's end.
	if _, err := reader.Hold(ctx, e.ID, ids(e, 3, 4), "alice", longHold, noIdem); err != nil {
		t.Fatal(err)
	}
	got, err := reader.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 3, Adjacent: true}, "bob", longHold, noIdem)
	if err != nil || numbers(got) != "[6 7 8]" {
		t.Fatalf("HoldBest of 3 = %s, %v; want seats 6 to 8", numbers(got), err)
	}
}

// TestOldEvents: events the old code wrote (no rows, no reserved counter,
// no exp string) read as one row, count their reservations and take holds.
func TestOldEvents(t *testing.T) {
	t.Parallel()
	addr := redistest.SharedStandalone(t)
	s, c := newStore(t, addr), redistest.Client(t, addr)
	ctx := context.Background()
	e := eventOf(t, 10)
	for _, cmd := range []rueidis.Completed{
		c.B().Hset().Key(layoutKey(e.ID, "event")).FieldValue().FieldValue("name", e.Name).FieldValue("total", "10").Build(),
		c.B().Set().Key(layoutKey(e.ID, "seats")).Value("RAAAAAAAAR").Build(),
		c.B().Hset().Key(layoutKey(e.ID, "res:0")).FieldValue().FieldValue("1", "old").FieldValue("10", "old").Build(),
	} {
		if err := c.Do(ctx, cmd).Error(); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.Event(ctx, e.ID); err != nil || got != e {
		t.Fatalf("Event = %+v, %v; want %+v", got, err, e)
	}
	if err := s.CreateEvent(ctx, e); err != nil {
		t.Fatalf("CreateEvent of the same event again: %v", err)
	}
	wantSummary(t, s, e, domain.Summary{Total: 10, Available: 8, Reserved: 2})
	if seat, err := s.Seat(ctx, e.Seat(10)); err != nil || seat.Status != domain.Reserved || seat.Holder != "old" {
		t.Fatalf("Seat 10 = %+v, %v; want reserved by old", seat, err)
	}
	held, err := s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 2, Adjacent: true}, "alice", longHold, noIdem)
	if err != nil || numbers(held) != "[2 3]" {
		t.Fatalf("HoldBest of 2 = %s, %v; want seats 2 and 3", numbers(held), err)
	}
	wantSummary(t, s, e, domain.Summary{Total: 10, Available: 6, OnHold: 2, Reserved: 2})
	if _, err := s.Reserve(ctx, e.ID, ids(e, 2), "alice", noIdem); err != nil {
		t.Fatal(err)
	}
	wantSummary(t, s, e, domain.Summary{Total: 10, Available: 6, OnHold: 1, Reserved: 3})
	wantAvailable(t, s, e, 6)
}

func wantSummary(t *testing.T, s application.Store, e domain.Event, want domain.Summary) {
	t.Helper()
	if got, err := s.Summary(context.Background(), e.ID); err != nil || got != want {
		t.Fatalf("Summary = %+v, %v; want %+v", got, err, want)
	}
}

// numbers prints the numbers of seats, in order.
func numbers(seats []domain.Seat) string {
	ns := make([]int, len(seats))
	for i, s := range seats {
		ns[i] = s.ID.Number
	}
	return fmt.Sprint(ns)
}
