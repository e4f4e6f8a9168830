package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/seatres/reservation/adapters/memstore"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/application/storetest"
	"github.com/seatres/reservation/domain"
)

var (
	none    = application.Idem{}
	minute  = domain.HoldPolicy{TTL: time.Minute, MaxSeats: 4}
	t0Ms    = uint64(t0.UnixMilli())
	zeroPos = domain.Position{}
)

func changes(t *testing.T, s *memstore.Store, e domain.Event, after domain.Position) []domain.Record {
	t.Helper()
	got, err := s.Changes(context.Background(), e.ID, after, 1000)
	if err != nil {
		t.Fatalf("Changes after %v: %v", after, err)
	}
	return got
}

// Positions come after the event's birth (the millisecond after its
// create), take the clock's millisecond once it is past, and a sequence
// while it stands still or goes back: they only grow.
func TestPositionsOnlyGrow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, c, e := newStore(t)
	hold := func(n int) {
		t.Helper()
		if _, err := s.Hold(ctx, e.ID, ids(e, n), "alice", minute, none); err != nil {
			t.Fatal(err)
		}
	}
	hold(1)
	hold(2)                     // the same instant
	c.Advance(time.Microsecond) // the same millisecond
	hold(3)
	c.Set(t0.Add(-time.Hour)) // back
	hold(4)
	// Seat 4's hold, made an hour back, has ended: its record, then the
	// release's, in one millisecond.
	c.Set(t0.Add(time.Second))
	if _, err := s.Release(ctx, e.ID, nil, "alice", none); err != nil {
		t.Fatal(err)
	}
	records := changes(t, s, e, zeroPos)
	got := storetest.Positions(records)
	want := []domain.Position{{Ms: t0Ms + 1, Seq: 1}, {Ms: t0Ms + 1, Seq: 2}, {Ms: t0Ms + 1, Seq: 3}, {Ms: t0Ms + 1, Seq: 4}, {Ms: t0Ms + 1000}, {Ms: t0Ms + 1000, Seq: 1}}
	if !slices.Equal(got, want) || records[4].Op != domain.OpExpire || records[5].Op != domain.OpRelease {
		t.Fatalf("records %+v, want at %v", records, want)
	}
}

// The first record of a clock at the epoch is still after the zero
// position.
func TestFirstPositionAtEpoch(t *testing.T) {
	t.Parallel()
	s := memstore.New(func() time.Time { return time.Unix(0, 0) })
	e, err := domain.NewEvent("0f8fad5b-d9cb-469f-a165-70867728950e", "Epoch", 10, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateEvent(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Hold(context.Background(), e.ID, ids(e, 1), "alice", minute, none); err != nil {
		t.Fatal(err)
	}
	if got := storetest.Positions(changes(t, s, e, zeroPos)); len(got) != 1 || got[0] != (domain.Position{Ms: 1, Seq: 1}) {
		t.Fatalf("positions %v, want [1-1], after the birth 1-0", got)
	}
}

// The memory keeps exactly maxLen records.
func TestStreamMaxLenExactly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := memstore.New(storetest.NewClock(t0).Now, memstore.WithStreamMaxLen(3))
	e, err := domain.NewEvent("0f8fad5b-d9cb-469f-a165-70867728950e", "Three kept", 10, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateEvent(ctx, e); err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 5; n++ {
		if _, err := s.Hold(ctx, e.ID, ids(e, n), domain.UserID(fmt.Sprint("user-", n)), minute, none); err != nil {
			t.Fatal(err)
		}
	}
	// Records 1 ... 5 of the birth's millisecond made, 3 ... 5 kept.
	at := func(seq uint64) domain.Position { return domain.Position{Ms: t0Ms + 1, Seq: seq} }
	for _, after := range []domain.Position{zeroPos, at(1)} {
		if _, err := s.Changes(ctx, e.ID, after, 10); !errors.Is(err, application.ErrTrimmed) {
			t.Fatalf("Changes after %v: %v, want ErrTrimmed", after, err)
		}
	}
	if got := storetest.Positions(changes(t, s, e, at(2))); len(got) != 3 || got[0] != at(3) || got[2] != at(5) {
		t.Fatalf("kept %v, want %v to %v", got, at(3), at(5))
	}
	if got := changes(t, s, e, at(5)); len(got) != 0 {
		t.Fatalf("after the last: %+v", got)
	}
	if got, err := s.Changes(ctx, e.ID, at(2), 2); err != nil || len(got) != 2 || got[1].Position != at(4) {
		t.Fatalf("a page of 2: %+v, %v", got, err)
	}
}

// Expiries on a fake clock, to the nanosecond: a hold ends at its expiry,
// an extended or released one does not end at the old one.
func TestExpireOnTheClock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, c, e := newStore(t)
	expire := func(want time.Time) {
		t.Helper()
		if next, err := s.Expire(ctx, e.ID); err != nil || !next.Equal(want) {
			t.Fatalf("Expire at %v = %v, %v; want %v", c.Now(), next, err, want)
		}
	}
	listOK := func(want bool) {
		t.Helper()
		if _, ok, err := s.ListVersion(ctx, e.ID); err != nil || ok != want {
			t.Fatalf("ListVersion at %v: ok %v, %v; want %v", c.Now(), ok, err, want)
		}
	}
	expire(time.Time{})
	if _, err := s.Hold(ctx, e.ID, ids(e, 2, 1), "alice", minute, none); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Hold(ctx, e.ID, ids(e, 3), "bob", minute, none); err != nil {
		t.Fatal(err)
	}
	c.Set(t0.Add(30 * time.Second))
	if _, err := s.Refresh(ctx, e.ID, nil, "bob", minute, none); err != nil {
		t.Fatal(err)
	}
	c.Set(t0.Add(time.Minute - time.Nanosecond))
	listOK(true)
	expire(t0.Add(time.Minute))
	c.Set(t0.Add(time.Minute))
	listOK(false)
	// Ended unrecorded: available in the list, counted in its version; on
	// hold in the snapshot, whose records do not have the end yet.
	_, free, v, err := s.AvailableSeats(ctx, e.ID)
	_, shown, at, err2 := s.Snapshot(ctx, e.ID)
	if err != nil || err2 != nil || !slices.Equal(free, allBut(e, 3)) || v.Expired != 2 ||
		!slices.Equal(shown, allBut(e, 1, 2, 3)) || v.Position != at {
		t.Fatalf("list %v %v (%v), snapshot %v at %v (%v)", free, v, err, shown, at, err2)
	}
	before := len(changes(t, s, e, zeroPos))
	expire(t0.Add(90 * time.Second)) // bob's, extended
	listOK(true)
	got := changes(t, s, e, zeroPos)[before:]
	if len(got) != 1 || got[0].Op != domain.OpExpire || !got[0].At.Equal(c.Now()) || len(got[0].Seats) != 2 ||
		got[0].Seats[0] != domain.NewSeat(e.Seat(1)) || got[0].Seats[1] != domain.NewSeat(e.Seat(2)) {
		t.Fatalf("records of the expiry: %+v", got)
	}
	if _, err := s.Release(ctx, e.ID, nil, "bob", none); err != nil {
		t.Fatal(err)
	}
	expire(time.Time{}) // released: nothing left to end
	c.Set(t0.Add(2 * time.Minute))
	before = len(changes(t, s, e, zeroPos))
	expire(time.Time{})
	if after := len(changes(t, s, e, zeroPos)); after != before {
		t.Fatalf("Expire with nothing to end made %d records", after-before)
	}
}

// Wait ends with its context.
func TestWaitEndsWithItsContext(t *testing.T) {
	t.Parallel()
	s, _, e := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := s.Wait(ctx, map[domain.EventID]domain.Position{e.ID: zeroPos}, time.Hour)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait still blocked 10 s after its context ended")
	}
}

// allBut is the numbers of e's seats but those of except.
func allBut(e domain.Event, except ...int) []int {
	var out []int
	for n := 1; n <= e.TotalSeats; n++ {
		if !slices.Contains(except, n) {
			out = append(out, n)
		}
	}
	return out
}
