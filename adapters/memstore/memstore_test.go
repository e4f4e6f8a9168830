package memstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/seatres/reservation/adapters/memstore"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/application/storetest"
	"github.com/seatres/reservation/domain"
)

func TestContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(*testing.T) application.Store { return memstore.New(time.Now) })
}

func TestTrim(t *testing.T) {
	t.Parallel()
	storetest.RunTrim(t, func(_ *testing.T, maxLen int) application.Store {
		return memstore.New(time.Now, memstore.WithStreamMaxLen(maxLen))
	})
}

var (
	t0     = time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	capped = domain.HoldPolicy{TTL: time.Minute, MaxSeats: 4, MaxLifetime: 5 * time.Minute}
	capEnd = t0.Add(capped.MaxLifetime)
)

func newStore(t *testing.T) (*memstore.Store, *storetest.Clock, domain.Event) {
	t.Helper()
	c := storetest.NewClock(t0)
	s := memstore.New(c.Now)
	e, err := domain.NewEvent("0f8fad5b-d9cb-469f-a165-70867728950e", "Fake clock", 20, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateEvent(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	return s, c, e
}

func ids(e domain.Event, numbers ...int) []domain.SeatID {
	out := make([]domain.SeatID, len(numbers))
	for i, n := range numbers {
		out[i] = e.Seat(n)
	}
	return out
}

// wantExp fails unless a change succeeded with seats that all expire at
// exp.
func wantExp(t *testing.T, what string, seats []domain.Seat, err error, exp time.Time) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if len(seats) == 0 {
		t.Fatalf("%s: no seats", what)
	}
	for _, s := range seats {
		if s.Status != domain.OnHold || !s.HoldExpiresAt.Equal(exp) {
			t.Fatalf("%s: seat %+v, want on hold until %v", what, s, exp)
		}
	}
}

func wantCoolDown(t *testing.T, what string, err error, retry time.Duration) {
	t.Helper()
	var cd *domain.CoolDownError
	if !errors.As(err, &cd) || cd.RetryAfter != retry {
		t.Fatalf("%s: %v, want a cool-down of %v", what, err, retry)
	}
}

// TestCapAndCoolDown walks a cart to its cap and through its cool-down on
// a fake clock, to the nanosecond of each boundary.
func TestCapAndCoolDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, c, e := newStore(t)
	const alice = domain.UserID("alice")
	none := application.Idem{}
	at := func(d time.Duration) time.Time { c.Set(t0.Add(d)); return t0.Add(d) }

	seats, err := s.Hold(ctx, e.ID, ids(e, 1, 2), alice, capped, none)
	wantExp(t, "Hold", seats, err, t0.Add(time.Minute))
	// Refreshes and holds in the cart extend it, a TTL from now.
	for _, d := range []time.Duration{50 * time.Second, 100 * time.Second, 150 * time.Second, 200 * time.Second} {
		now := at(d)
		seats, err = s.Refresh(ctx, e.ID, nil, alice, capped, none)
		wantExp(t, "Refresh", seats, err, now.Add(time.Minute))
	}
	seats, err = s.Hold(ctx, e.ID, ids(e, 3), alice, capped, none)
	wantExp(t, "Hold in the cart", seats, err, t0.Add(260*time.Second))
	// A TTL and a nanosecond before the cap: not clamped yet.
	now := at(4*time.Minute - time.Nanosecond)
	seats, err = s.Refresh(ctx, e.ID, nil, alice, capped, none)
	wantExp(t, "Refresh just before the cap", seats, err, now.Add(time.Minute))
	// A TTL before the cap: clamped at it (and exactly a TTL from now).
	at(4 * time.Minute)
	seats, err = s.Refresh(ctx, e.ID, ids(e, 1), alice, capped, none)
	wantExp(t, "Refresh a TTL before the cap", seats, err, capEnd)
	// The other seats of the cart can still reach the cap; then nothing is
	// left to extend.
	at(4*time.Minute + time.Second)
	seats, err = s.Refresh(ctx, e.ID, nil, alice, capped, none)
	wantExp(t, "Refresh of the cart to the cap", seats, err, capEnd)
	for _, d := range []time.Duration{4*time.Minute + 2*time.Second, 5*time.Minute - time.Nanosecond} {
		at(d)
		if seats, err := s.Refresh(ctx, e.ID, nil, alice, capped, none); !errors.Is(err, domain.ErrHoldLifetime) {
			t.Fatalf("Refresh at the cap at %v: %+v, %v; want ErrHoldLifetime", d, seats, err)
		}
	}
	// The cart's last moment: a seat added is clamped too.
	seats, err = s.Hold(ctx, e.ID, ids(e, 4), "bob", capped, none)
	wantExp(t, "Hold by bob", seats, err, capEnd.Add(time.Minute-time.Nanosecond))
	seats, err = s.Hold(ctx, e.ID, ids(e, 5), alice, capped, none)
	wantExp(t, "Hold at the cap's last moment", seats, err, capEnd)

	// At the cap the holds end, and the cool-down starts.
	c.Set(capEnd)
	for n := 1; n <= 3; n++ {
		if seat, err := s.Seat(ctx, e.Seat(n)); err != nil || seat.Status != domain.Available {
			t.Fatalf("Seat %d at the cap: %+v, %v", n, seat, err)
		}
	}
	_, err = s.Hold(ctx, e.ID, ids(e, 6), alice, capped, none)
	wantCoolDown(t, "Hold at the cap", err, time.Minute)
	_, err = s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 1}, alice, capped, none)
	wantCoolDown(t, "HoldBest at the cap", err, time.Minute)
	if _, err := s.Refresh(ctx, e.ID, nil, alice, capped, none); !errors.Is(err, domain.ErrNotOnHold) {
		t.Fatalf("Refresh at the cap: %v, want ErrNotOnHold", err)
	}
	// Others take the seats meanwhile.
	seats, err = s.Hold(ctx, e.ID, ids(e, 1), "carol", capped, none)
	wantExp(t, "Hold by carol during the cool-down", seats, err, capEnd.Add(time.Minute))
	c.Set(capEnd.Add(time.Minute - time.Nanosecond))
	_, err = s.Hold(ctx, e.ID, ids(e, 6), alice, capped, none)
	wantCoolDown(t, "Hold at the cool-down's last moment", err, time.Nanosecond)
	if seat, _ := s.Seat(ctx, e.Seat(6)); seat.Status != domain.Available {
		t.Fatalf("a hold refused in the cool-down left seat %+v", seat)
	}

	// A TTL after the cap: a new cart, with a cap of its own.
	newStart := capEnd.Add(time.Minute)
	c.Set(newStart)
	seats, err = s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 2, Adjacent: true}, alice, capped, none)
	wantExp(t, "HoldBest after the cool-down", seats, err, newStart.Add(time.Minute))
	c.Set(newStart.Add(30 * time.Second))
	seats, err = s.Refresh(ctx, e.ID, nil, alice, capped, none)
	wantExp(t, "Refresh of the new cart", seats, err, newStart.Add(90*time.Second))
}

// TestNoCoolDownBeforeTheCap: a cart that ends before its cap by expiry
// leaves its buyer free to hold again at once; one released before its cap
// goes on, still under its cap.
func TestNoCoolDownBeforeTheCap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, c, e := newStore(t)
	none := application.Idem{}

	// bob's cart ends a nanosecond before its cap: no cool-down.
	seats, err := s.Hold(ctx, e.ID, ids(e, 1), "bob", capped, none)
	wantExp(t, "Hold", seats, err, t0.Add(time.Minute))
	for _, d := range []time.Duration{50 * time.Second, 100 * time.Second, 150 * time.Second, 200 * time.Second} {
		c.Set(t0.Add(d))
		seats, err := s.Refresh(ctx, e.ID, nil, "bob", capped, none)
		wantExp(t, "Refresh", seats, err, t0.Add(d+time.Minute))
	}
	c.Set(capEnd.Add(-time.Minute - time.Nanosecond))
	seats, err = s.Refresh(ctx, e.ID, nil, "bob", capped, none)
	wantExp(t, "Refresh", seats, err, capEnd.Add(-time.Nanosecond))
	c.Set(capEnd.Add(-time.Nanosecond))
	seats, err = s.Hold(ctx, e.ID, ids(e, 2), "bob", capped, none)
	wantExp(t, "Hold after a cart that ended before its cap", seats, err, capEnd.Add(time.Minute-time.Nanosecond))

	// carol's cart reaches its cap; she releases it before the cap and
	// holds again: the same cart, clamped at its cap.
	c.Set(t0)
	seats, err = s.Hold(ctx, e.ID, ids(e, 5), "carol", capped, none)
	wantExp(t, "Hold", seats, err, t0.Add(time.Minute))
	for _, d := range []time.Duration{50 * time.Second, 100 * time.Second, 150 * time.Second, 200 * time.Second, 240 * time.Second} {
		c.Set(t0.Add(d))
		if _, err := s.Refresh(ctx, e.ID, nil, "carol", capped, none); err != nil {
			t.Fatal(err)
		}
	}
	if seat, _ := s.Seat(ctx, e.Seat(5)); !seat.HoldExpiresAt.Equal(capEnd) {
		t.Fatalf("carol's cart did not reach its cap: %+v", seat)
	}
	c.Set(capEnd.Add(-time.Second))
	if seats, err := s.Release(ctx, e.ID, nil, "carol", none); err != nil || len(seats) != 1 {
		t.Fatalf("Release = %+v, %v", seats, err)
	}
	seats, err = s.Hold(ctx, e.ID, ids(e, 5, 6), "carol", capped, none)
	wantExp(t, "Hold after a release before the cap", seats, err, capEnd)
}

// TestIdempotencyTTL: an answer is kept for its TTL, and then forgotten:
// the key may serve another request.
func TestIdempotencyTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, c, e := newStore(t)
	p := domain.HoldPolicy{TTL: time.Hour, MaxSeats: 3}
	k := application.Idem{Key: "k", Fingerprint: "first", TTL: time.Minute}
	first, err := s.Hold(ctx, e.ID, ids(e, 1), "alice", p, k)
	wantExp(t, "Hold", first, err, t0.Add(time.Hour))
	c.Set(t0.Add(time.Minute - time.Nanosecond))
	again, err := s.Hold(ctx, e.ID, ids(e, 1), "alice", p, k)
	wantExp(t, "Hold replayed at the TTL's last moment", again, err, t0.Add(time.Hour))
	other := k
	other.Fingerprint = "second"
	if _, err := s.Hold(ctx, e.ID, ids(e, 2), "alice", p, other); !errors.Is(err, domain.ErrIdempotencyKeyReused) {
		t.Fatalf("another request under the key: %v", err)
	}
	c.Set(t0.Add(time.Minute))
	seats, err := s.Hold(ctx, e.ID, ids(e, 2), "alice", p, other)
	wantExp(t, "another request under the key after its TTL", seats, err, t0.Add(time.Minute+time.Hour))
	// The key now answers the second request.
	seats, err = s.Hold(ctx, e.ID, ids(e, 2), "alice", p, other)
	wantExp(t, "second request replayed", seats, err, t0.Add(time.Minute+time.Hour))
	if _, err := s.Hold(ctx, e.ID, ids(e, 1), "alice", p, k); !errors.Is(err, domain.ErrIdempotencyKeyReused) {
		t.Fatalf("the first request under the key, now the second's: %v", err)
	}
}

// TestMaxSeats: creates within the cap of seats succeed, one past it is
// ErrStoreFull and stores nothing, a retry of a stored event is no create,
// and deletes make room.
func TestMaxSeats(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := memstore.New(time.Now, memstore.WithMaxSeats(100))
	event := func(seats int) domain.Event {
		e, err := domain.NewEvent(domain.EventID(uuid.NewString()), "Capped", seats, 0)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	big, small, over := event(60), event(40), event(10)
	for _, e := range []domain.Event{big, small, small} {
		if err := s.CreateEvent(ctx, e); err != nil {
			t.Fatalf("CreateEvent of %d seats within the cap: %v", e.TotalSeats, err)
		}
	}
	if err := s.CreateEvent(ctx, over); !errors.Is(err, application.ErrStoreFull) {
		t.Fatalf("CreateEvent past the cap: %v, want %v", err, application.ErrStoreFull)
	}
	if _, err := s.Event(ctx, over.ID); !errors.Is(err, domain.ErrEventNotFound) {
		t.Fatalf("Event refused for the cap: %v, want %v", err, domain.ErrEventNotFound)
	}
	if err := s.DeleteEvent(ctx, small.ID); err != nil {
		t.Fatal(err)
	}
	for _, e := range []domain.Event{over, event(30)} {
		if err := s.CreateEvent(ctx, e); err != nil {
			t.Fatalf("CreateEvent of %d seats after a delete: %v", e.TotalSeats, err)
		}
	}
	if err := s.CreateEvent(ctx, event(10)); !errors.Is(err, application.ErrStoreFull) {
		t.Fatalf("CreateEvent past the cap again: %v, want %v", err, application.ErrStoreFull)
	}
}
