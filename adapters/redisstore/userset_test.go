package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/domain"
)

// TestUserSet looks at a user's set of holds (rsv:{E}:user:<U>, see
// docs/redis-layout.md), which the hold limit counts: it lives as long as
// the user's latest hold, whatever TTL later holds have, and it never grows
// past the limit, however many holds expire in it.
func TestUserSet(t *testing.T) {
	t.Parallel()
	addr := redistest.SharedStandalone(t)
	s, c := newStore(t, addr), redistest.Client(t, addr)
	ctx := context.Background()
	e := newEvent(t, s, 20)
	key := "rsv:{" + string(e.ID) + "}:user:alice"
	expiry := func(key string) int64 {
		t.Helper()
		ms, err := c.Do(ctx, c.B().Pexpiretime().Key(key).Build()).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		return ms
	}
	long := domain.HoldPolicy{TTL: time.Hour, MaxSeats: 3}
	short := domain.HoldPolicy{TTL: 50 * time.Millisecond, MaxSeats: 3}

	first, err := s.Hold(ctx, e.Seat(1), "alice", long)
	if err != nil {
		t.Fatal(err)
	}
	if got := expiry(key); got != first.HoldExpiresAt.UnixMilli() {
		t.Fatalf("set expires at %d, want the hold's expiry %d", got, first.HoldExpiresAt.UnixMilli())
	}
	if _, err := s.Hold(ctx, e.Seat(2), "alice", short); err != nil {
		t.Fatal(err)
	}
	if got := expiry(key); got != first.HoldExpiresAt.UnixMilli() {
		t.Fatalf("a shorter hold moved the set's expiry to %d, want %d", got, first.HoldExpiresAt.UnixMilli())
	}

	// Seat 1 stays held; short holds come and go on the others.
	for n := 3; n <= 12; n++ {
		h, err := s.Hold(ctx, e.Seat(n), "alice", short)
		if err != nil {
			t.Fatalf("hold seat %d: %v", n, err)
		}
		size, err := c.Do(ctx, c.B().Zcard().Key(key).Build()).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		if size > int64(short.MaxSeats) {
			t.Fatalf("after %d holds the set has %d members, more than the limit %d", n, size, short.MaxSeats)
		}
		time.Sleep(time.Until(h.HoldExpiresAt.Add(time.Millisecond))) // let this hold expire
	}
	if got := expiry(key); got != first.HoldExpiresAt.UnixMilli() {
		t.Fatalf("set expires at %d, want the long hold's %d", got, first.HoldExpiresAt.UnixMilli())
	}

	// Bob's set outlives his expired hold on seat 13, as it had his hold on
	// seat 14, now reserved. At the limit, dropping the expired hold empties
	// the set: the hold that follows starts a new one, which must expire too.
	expired, err := s.Hold(ctx, e.Seat(13), "bob", short)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Hold(ctx, e.Seat(14), "bob", long); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reserve(ctx, e.Seat(14), "bob"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(expired.HoldExpiresAt.Add(time.Millisecond)))
	h, err := s.Hold(ctx, e.Seat(15), "bob", domain.HoldPolicy{TTL: time.Minute, MaxSeats: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := expiry("rsv:{" + string(e.ID) + "}:user:bob"); got != h.HoldExpiresAt.UnixMilli() {
		t.Fatalf("bob's new set expires at %d, want %d", got, h.HoldExpiresAt.UnixMilli())
	}
}
