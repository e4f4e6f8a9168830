package redisstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/domain"
)

// TestUserLists looks at the users' lists of holds in the holds hash
// (field u:<U> of rsv:{E}:holds, see docs/redis-layout.md), which the hold
// limit counts: a list keeps only live holds when it is written, a seat
// leaves it when it is reserved or another user takes its expired hold,
// and a list with no seat is deleted. So the hash never has more lists than
// seats, however many users come and go.
func TestUserLists(t *testing.T) {
	t.Parallel()
	addr := redistest.SharedStandalone(t)
	s, c := newStore(t, addr), redistest.Client(t, addr)
	ctx := context.Background()
	e := newEvent(t, s, 20)
	holds := "rsv:{" + string(e.ID) + "}:holds"
	list := func(user string) []string {
		t.Helper()
		v, err := c.Do(ctx, c.B().Hget().Key(holds).Field("u:"+user).Build()).ToString()
		if err != nil {
			return nil // no list
		}
		return strings.Fields(v)
	}
	long := domain.HoldPolicy{TTL: time.Hour, MaxSeats: 3}
	short := domain.HoldPolicy{TTL: 50 * time.Millisecond, MaxSeats: 3}

	// Seat 1 stays held; short holds come and go on the others.
	if _, err := s.Hold(ctx, e.Seat(1), "alice", long); err != nil {
		t.Fatal(err)
	}
	for n := 2; n <= 12; n++ {
		h, err := s.Hold(ctx, e.Seat(n), "alice", short)
		if err != nil {
			t.Fatalf("hold seat %d: %v", n, err)
		}
		if got := list("alice"); len(got) != 2*2 { // seat 1 and seat n, two words each
			t.Fatalf("after the hold of seat %d alice's list is %q, want seats 1 and %d", n, got, n)
		}
		time.Sleep(time.Until(h.HoldExpiresAt.Add(time.Millisecond))) // let this hold expire
	}

	// Bob's expired hold on seat 13 is taken by carol: it leaves bob's
	// list, which goes. Carol reserves it: her list goes too.
	expired, err := s.Hold(ctx, e.Seat(13), "bob", short)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(expired.HoldExpiresAt.Add(time.Millisecond)))
	if got := list("bob"); len(got) != 2 {
		t.Fatalf("bob's list before the takeover is %q, want seat 13", got)
	}
	if _, err := s.Hold(ctx, e.Seat(13), "carol", long); err != nil {
		t.Fatal(err)
	}
	if got := list("bob"); got != nil {
		t.Fatalf("bob's list after carol took seat 13 is %q, want none", got)
	}
	if _, err := s.Reserve(ctx, e.Seat(13), "carol"); err != nil {
		t.Fatal(err)
	}
	if got := list("carol"); got != nil {
		t.Fatalf("carol's list after her reservation is %q, want none", got)
	}

	// Alice's seats 2..12 are expired but still name her; users taking them
	// one by one leave her list to seat 1 alone, and no more lists than
	// seats.
	for n := 2; n <= 12; n++ {
		if _, err := s.Hold(ctx, e.Seat(n), domain.UserID("u"+string(rune('a'+n))), long); err != nil {
			t.Fatal(err)
		}
	}
	if got := list("alice"); len(got) != 2 || got[0] != "1" {
		t.Fatalf("alice's list is %q, want seat 1 alone", got)
	}
	fields, err := c.Do(ctx, c.B().Hlen().Key(holds).Build()).AsInt64()
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(2 * 12); fields != want { // seats 1..12 held, each by one user with one list
		t.Fatalf("holds hash has %d fields, want %d", fields, want)
	}
}
