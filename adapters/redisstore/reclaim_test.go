package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/seatres/reservation/adapters/redisstore"
	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// newShortHoldEvent returns a store on the shared standalone Redis, a
// client to read its layout, an event of 100 seats in it and a policy
// whose holds expire soon, 40 of them per buyer.
func newShortHoldEvent(t *testing.T) (*redisstore.Store, rueidis.Client, domain.Event, domain.HoldPolicy) {
	addr := redistest.SharedStandalone(t)
	s := newStore(t, addr)
	return s, redistest.Client(t, addr), newEvent(t, s, 100), domain.HoldPolicy{TTL: 20 * time.Millisecond, MaxSeats: 40}
}

// TestReclaim: expired holds stay in the holds hash and the expiry queue
// (rsv:{E}:holds, rsv:{E}:expq, see docs/redis-layout.md) only until the
// next change of their event, which gives their seats back: after it,
// neither has an entry of them, their seats' bytes are 'A' again and their
// carts (fields c:<user> of the holds hash) are gone.
func TestReclaim(t *testing.T) {
	t.Parallel()
	s, c, e, short := newShortHoldEvent(t)
	ctx := context.Background()

	// One cart of 40 holds, all expiring at once: nothing reclaims them
	// until a change comes.
	cart := seatRange(e, 1, 40)
	held, err := s.Hold(ctx, e.ID, cart, "alice", short, noIdem)
	if err != nil {
		t.Fatal(err)
	}
	waitRedisPast(t, c, e, held[0].HoldExpiresAt)
	if got := queued(t, c, e); got != 40 {
		t.Fatalf("before any change the queue has %d holds, want the 40 expired", got)
	}
	// Then 40 holds by 40 users, one after the other: some may be
	// reclaimed by the next ones already.
	var last time.Time
	for n := 41; n <= 80; n++ {
		seat, err := s.Hold(ctx, e.ID, ids(e, n), domain.UserID("user-"+strings.Repeat("x", n)), short, noIdem)
		if err != nil {
			t.Fatal(err)
		}
		last = seat[0].HoldExpiresAt
	}
	waitRedisPast(t, c, e, last)

	// One more change, of another seat.
	if _, err := s.Hold(ctx, e.ID, ids(e, 100), "zed", longHold, noIdem); err != nil {
		t.Fatal(err)
	}
	holds, err := c.Do(ctx, c.B().Hgetall().Key(layoutKey(e.ID, "holds")).Build()).AsStrMap()
	if err != nil || len(holds) != 4 || holds["100"] != "zed" || holds["c:zed"] == "" || holds["min"] == "" || holds["low"] != "1" {
		t.Fatalf("holds hash after the change: %v, %v; want seat 100 by zed, zed's cart, min and low alone", holds, err)
	}
	queue, err := c.Do(ctx, c.B().Zrange().Key(layoutKey(e.ID, "expq")).Min("0").Max("-1").Build()).AsStrSlice()
	if err != nil || len(queue) != 1 || queue[0] != "100" {
		t.Fatalf("expiry queue after the change: %v, %v; want seat 100 alone", queue, err)
	}
	seats, err := c.Do(ctx, c.B().Get().Key(layoutKey(e.ID, "seats")).Build()).ToString()
	if want := strings.Repeat("A", 99) + "H"; err != nil || seats != want {
		t.Fatalf("seats after the change: %q, %v; want %q", seats, err, want)
	}
	wantAvailable(t, s, e, 99)
}

// TestBestAvailableLow: the holds hash's low, below which no seat is
// available, is where a best-available search starts reading the seats
// string (docs/redis-layout.md). A best-available hold raises it past the
// seats it took; a release and the reclaim of an expiry lower it to the
// seats they give back. (storetest's "best available after seats were
// freed" shows the answers; this shows that the search reads less.)
func TestBestAvailableLow(t *testing.T) {
	t.Parallel()
	s, c, e, _ := newShortHoldEvent(t)
	// Bob's holds must outlive the next two calls, and then expire: the
	// 20 ms of newShortHoldEvent's policy did not, once, under CI's load.
	short := domain.HoldPolicy{TTL: 2 * time.Second, MaxSeats: 40}
	ctx := context.Background()
	low := func(want string) {
		t.Helper()
		got, err := c.Do(ctx, c.B().Hget().Key(layoutKey(e.ID, "holds")).Field("low").Build()).ToString()
		if err != nil || got != want {
			t.Fatalf("low = %q, %v; want %q", got, err, want)
		}
	}
	best := func(count int, u domain.UserID, p domain.HoldPolicy) []domain.Seat {
		t.Helper()
		held, err := s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: count}, u, p, noIdem)
		if err != nil || len(held) != count {
			t.Fatalf("HoldBest(%d) = %v, %v", count, held, err)
		}
		return held
	}
	best(4, "alice", longHold)
	low("5")
	expiring := best(3, "bob", short)
	low("8")
	if _, err := s.Release(ctx, e.ID, ids(e, 2), "alice", noIdem); err != nil {
		t.Fatal(err)
	}
	low("2")
	best(1, "carol", longHold)
	low("8") // past 2, the seat taken, and past 3..7, held
	waitRedisPast(t, c, e, expiring[0].HoldExpiresAt)
	if _, err := s.Hold(ctx, e.ID, ids(e, 50), "dave", longHold, noIdem); err != nil {
		t.Fatal(err)
	}
	low("5") // the reclaim gave back 5..7
	best(1, "erin", longHold)
	low("6")
	// Every seat taken: low stays at the last one, a string of one byte.
	best(94, "frank", domain.HoldPolicy{TTL: time.Minute, MaxSeats: 94})
	low("100")
	if _, err := s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 1}, "grace", longHold, noIdem); !errors.Is(err, domain.ErrNotEnoughSeats) {
		t.Fatalf("HoldBest of a full event: %v, want %v", err, domain.ErrNotEnoughSeats)
	}
}

// seatRange returns the ids of seats from..to of e.
func seatRange(e domain.Event, from, to int) []domain.SeatID {
	out := make([]domain.SeatID, 0, to-from+1)
	for n := from; n <= to; n++ {
		out = append(out, e.Seat(n))
	}
	return out
}

// queued counts the expiry queue's entries.
func queued(t *testing.T, c rueidis.Client, e domain.Event) int64 {
	t.Helper()
	n, err := c.Do(context.Background(), c.B().Zcard().Key(layoutKey(e.ID, "expq")).Build()).AsInt64()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitRedisPast polls the clock of e's Redis node until it is past t: a
// hold expiring at t has then expired for the scripts.
func waitRedisPast(tb testing.TB, c rueidis.Client, e domain.Event, t time.Time) {
	tb.Helper()
	deadline := time.Now().Add(time.Until(t) + 10*time.Second)
	for {
		clock, err := c.Do(context.Background(), c.B().Time().Build().SetSlot(layoutKey(e.ID, "seats"))).AsIntSlice()
		if err != nil || len(clock) != 2 {
			tb.Fatalf("TIME: %v, %v", clock, err)
		}
		if time.UnixMilli(clock[0]*1000 + clock[1]/1000).After(t) {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("Redis's clock did not pass %v", t)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// wantAvailable checks how many seats of e the store lists as available.
func wantAvailable(t *testing.T, s application.Store, e domain.Event, want int) {
	t.Helper()
	_, free, _, err := s.AvailableSeats(context.Background(), e.ID)
	if err != nil || len(free) != want {
		t.Fatalf("AvailableSeats: %d seats, %v; want %d", len(free), err, want)
	}
}
