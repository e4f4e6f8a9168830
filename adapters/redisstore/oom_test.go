package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/seatres/reservation/adapters/redisstore"
	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// TestOutOfMemory: a Redis past its maxmemory (noeviction) refuses every
// write, and the store answers each change that would write
// ErrStoreFull, not ErrUnavailable; the reads, a change refused by the
// rules and a delete (which frees memory) still work, and writes work
// again once there is room. The server is the test's own: a fresh one,
// which has not seen the list's fallback script before.
func TestOutOfMemory(t *testing.T) {
	t.Parallel()
	addr := redistest.Standalone(t)
	s, reader, c := newStore(t, addr), newStore(t, addr), redistest.Client(t, addr)
	ctx := context.Background()
	e, gone := newEvent(t, s, 10), newEvent(t, s, 10)
	wantHold(t, s, e, 1, "alice")
	if _, err := s.Reserve(ctx, e.ID, ids(e, 2), "alice", noIdem); !errors.Is(err, domain.ErrNoLiveHold) {
		t.Fatalf("Reserve of a seat not held: %v", err)
	}
	wantHold(t, s, e, 2, "alice")
	if _, err := s.Reserve(ctx, e.ID, ids(e, 2), "alice", idem("reserve 2")); err != nil {
		t.Fatal(err)
	}

	// Any maxmemory below what is used: Redis keeps its keys (noeviction)
	// and refuses what would use more.
	setMemory(t, c, "1")
	writes := map[string]error{
		"CreateEvent":      s.CreateEvent(ctx, eventOf(t, 10)),
		"CreateOwnedEvent": s.CreateOwnedEvent(ctx, eventOf(t, 10), application.Quota{Owner: "box-office", Max: 5}),
	}
	for name, change := range map[string]func() ([]domain.Seat, error){
		"Hold":          func() ([]domain.Seat, error) { return s.Hold(ctx, e.ID, ids(e, 3), "bob", longHold, noIdem) },
		"Hold with key": func() ([]domain.Seat, error) { return s.Hold(ctx, e.ID, ids(e, 3, 4), "bob", longHold, idem("hold")) },
		"HoldBest":      func() ([]domain.Seat, error) { return s.HoldBest(ctx, e.ID, two, "bob", longHold, noIdem) },
		"Refresh":       func() ([]domain.Seat, error) { return s.Refresh(ctx, e.ID, nil, "alice", longHold, noIdem) },
		"Reserve":       func() ([]domain.Seat, error) { return s.Reserve(ctx, e.ID, ids(e, 1), "alice", noIdem) },
		"Release":       func() ([]domain.Seat, error) { return s.Release(ctx, e.ID, nil, "alice", noIdem) },
		// A refusal stored under a key is a write too.
		"refused Hold with key": func() ([]domain.Seat, error) { return s.Hold(ctx, e.ID, ids(e, 1), "bob", longHold, idem("held")) },
	} {
		_, writes[name] = change()
	}
	for name, err := range writes {
		if !errors.Is(err, application.ErrStoreFull) || errors.Is(err, application.ErrUnavailable) {
			t.Errorf("%s out of memory: %v, want an error wrapping %v alone", name, err, application.ErrStoreFull)
		}
	}

	// Nothing changed, and everything reads as before, from an instance
	// that has no event in memory too.
	for _, r := range []struct {
		name string
		s    application.Store
	}{{"writer", s}, {"reader", reader}} {
		if got, free, _, err := r.s.AvailableSeats(ctx, e.ID); err != nil || got != e || fmt.Sprint(free) != "[3 4 5 6 7 8 9 10]" {
			t.Errorf("AvailableSeats from the %s out of memory = %+v, %v, %v", r.name, got, free, err)
		}
	}
	if got, err := reader.Event(ctx, e.ID); err != nil || got != e {
		t.Errorf("Event out of memory = %+v, %v; want %+v", got, err, e)
	}
	wantSummary(t, reader, e, domain.Summary{Total: 10, Available: 8, OnHold: 1, Reserved: 1})
	if seat, err := reader.Seat(ctx, e.Seat(1)); err != nil || seat.Status != domain.OnHold || seat.Holder != "alice" {
		t.Errorf("Seat 1 out of memory = %+v, %v; want held by alice", seat, err)
	}
	if err := reader.Ping(ctx); err != nil {
		t.Errorf("Ping out of memory: %v", err)
	}
	// The rate limits of those reads still count them.
	r := domain.Rate{Count: 1, Period: time.Hour, Burst: 1}
	l := redisstore.NewLimiter(reader)
	for _, want := range []bool{true, false} {
		if d, err := l.Allow(ctx, []application.LimitCheck{{Key: "ip:oom", Rate: r}}); err != nil || d[0].Allowed != want {
			t.Errorf("Allow out of memory = %+v, %v; want allowed %t", d, err, want)
		}
	}
	// A change that the rules refuse writes nothing, and is answered.
	if _, err := s.Hold(ctx, e.ID, ids(e, 1), "bob", longHold, noIdem); !errors.Is(err, domain.ErrSeatHeld) {
		t.Errorf("Hold of a held seat out of memory: %v, want %v", err, domain.ErrSeatHeld)
	}
	// A delete frees memory, so Redis lets it run.
	if err := s.DeleteEvent(ctx, gone.ID); err != nil {
		t.Errorf("DeleteEvent out of memory: %v", err)
	}

	setMemory(t, c, "0")
	wantHold(t, s, e, 3, "bob")
	if err := s.CreateEvent(ctx, eventOf(t, 10)); err != nil {
		t.Errorf("CreateEvent with room again: %v", err)
	}
}

// setMemory sets Redis's maxmemory (0: none), with the policy that
// evicts nothing.
func setMemory(t *testing.T, c rueidis.Client, maxmemory string) {
	t.Helper()
	cmd := c.B().ConfigSet().ParameterValue().ParameterValue("maxmemory-policy", "noeviction").ParameterValue("maxmemory", maxmemory).Build()
	if err := c.Do(context.Background(), cmd).Error(); err != nil {
		t.Fatal(err)
	}
}

func wantHold(t *testing.T, s application.Store, e domain.Event, n int, user domain.UserID) {
	t.Helper()
	if _, err := s.Hold(context.Background(), e.ID, ids(e, n), user, longHold, noIdem); err != nil {
		t.Fatalf("Hold of seat %d by %s: %v", n, user, err)
	}
}
