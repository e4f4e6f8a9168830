package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// Helpers for changes of carts of seats.

var noIdem = application.Idem{}

// ids names seats of e by number.
func ids(e domain.Event, numbers ...int) []domain.SeatID {
	out := make([]domain.SeatID, len(numbers))
	for i, n := range numbers {
		out[i] = e.Seat(n)
	}
	return out
}

func seatNumbers(seats []domain.Seat) []int {
	out := make([]int, len(seats))
	for i, s := range seats {
		out[i] = s.ID.Number
	}
	return out
}

// wantSeats fails unless a change succeeded with the seats numbers of e,
// in that order, in status for holder; held seats must share one expiry,
// which it returns.
func wantSeats(t *testing.T, what string, a answer, e domain.Event, status domain.Status, holder domain.UserID, numbers ...int) time.Time {
	t.Helper()
	got, err := a.seats, a.err
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !slices.Equal(seatNumbers(got), numbers) {
		t.Fatalf("%s: answered seats %v, want %v", what, seatNumbers(got), numbers)
	}
	var exp time.Time
	for i, seat := range got {
		wantSeat(t, what, seat, e.Seat(numbers[i]), status, holder)
		if i > 0 && !seat.HoldExpiresAt.Equal(exp) {
			t.Fatalf("%s: seats expire at %v and %v, want one expiry", what, exp, seat.HoldExpiresAt)
		}
		exp = seat.HoldExpiresAt
	}
	return exp
}

// wantHeld is wantSeats of seats on hold for holder.
func wantHeld(t *testing.T, what string, a answer, e domain.Event, holder domain.UserID, numbers ...int) time.Time {
	t.Helper()
	return wantSeats(t, what, a, e, domain.OnHold, holder, numbers...)
}

// wantRefusal fails unless err is the refusal want as a SeatsError naming
// the seats numbers of e in that order, or with no numbers a bare refusal.
func wantRefusal(t *testing.T, what string, a answer, want *domain.Refusal, e domain.Event, numbers ...int) {
	t.Helper()
	got, err := a.seats, a.err
	if got != nil {
		t.Fatalf("%s: a refusal answered seats %+v", what, got)
	}
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
	var se *domain.SeatsError
	isSeats := errors.As(err, &se)
	if numbers == nil {
		if isSeats {
			t.Fatalf("%s: error %v names seats, want a bare %v", what, err, want)
		}
		return
	}
	if !isSeats || se.Err != want {
		t.Fatalf("%s: error %v names no seats, want %v naming %v", what, err, want, numbers)
	}
	if !slices.Equal(se.Seats, ids(e, numbers...)) {
		t.Fatalf("%s: error names %v, want %v", what, se.Seats, ids(e, numbers...))
	}
}

// summary reads the event's summary, and fails unless its counts add up.
func summary(t *testing.T, s application.Store, e domain.Event) domain.Summary {
	t.Helper()
	sum, err := s.Summary(context.Background(), e.ID)
	if err != nil {
		t.Fatalf("Summary: %v", err)
	}
	if sum.Total != e.TotalSeats || sum.Available+sum.OnHold+sum.Reserved != sum.Total || sum.Available < 0 || sum.OnHold < 0 || sum.Reserved < 0 {
		t.Fatalf("Summary %+v of an event of %d seats does not add up", sum, e.TotalSeats)
	}
	return sum
}

func wantSummary(t *testing.T, s application.Store, e domain.Event, want domain.Summary) {
	t.Helper()
	if got := summary(t, s, e); got != want {
		t.Fatalf("Summary = %+v, want %+v", got, want)
	}
}

// snapshot is an event as its reads show it.
type snapshot struct {
	seats []domain.Seat
	free  []int
	sum   domain.Summary
}

func snap(t *testing.T, s application.Store, e domain.Event) snapshot {
	t.Helper()
	ctx := context.Background()
	var sn snapshot
	for n := 1; n <= e.TotalSeats; n++ {
		sn.seats = append(sn.seats, must(t, "Seat")(s.Seat(ctx, e.Seat(n))))
	}
	_, free, _, err := s.AvailableSeats(ctx, e.ID)
	if err != nil {
		t.Fatalf("AvailableSeats: %v", err)
	}
	sn.free, sn.sum = free, summary(t, s, e)
	return sn
}

// unchanged fails unless the event reads as in before: every seat with its
// holder and expiry, the list of available seats and the summary.
func unchanged(t *testing.T, what string, s application.Store, e domain.Event, before snapshot) {
	t.Helper()
	after := snap(t, s, e)
	for i := range before.seats {
		b, a := before.seats[i], after.seats[i]
		if b.ID != a.ID || b.Status != a.Status || b.Holder != a.Holder || !b.HoldExpiresAt.Equal(a.HoldExpiresAt) {
			t.Fatalf("%s changed seat %+v into %+v", what, b, a)
		}
	}
	if !slices.Equal(before.free, after.free) || before.sum != after.sum {
		t.Fatalf("%s changed the event: available %v, summary %+v; then %v, %+v", what, before.free, before.sum, after.free, after.sum)
	}
}

// idem returns an Idem under a fresh key (hashed, as the service sends it)
// with the fingerprint fp.
func idem(fp string) application.Idem {
	sum := sha256.Sum256([]byte(uuid.NewString()))
	return application.Idem{Key: hex.EncodeToString(sum[:]), Fingerprint: fp, TTL: time.Minute}
}

func unknownEvent() domain.Event {
	return domain.Event{ID: domain.EventID(uuid.NewString()), Name: "Unknown", TotalSeats: 10, SeatsPerRow: 10}
}

func testSummary(t *testing.T, s application.Store) {
	ctx := context.Background()
	e := newEvent(t, s, 10)
	wantSummary(t, s, e, domain.Summary{Total: 10, Available: 10})
	wantHeld(t, "Hold", ans(s.Hold(ctx, e.ID, ids(e, 1, 2, 3), "alice", cartHold, noIdem)), e, "alice", 1, 2, 3)
	wantHeld(t, "Hold", ans(s.Hold(ctx, e.ID, ids(e, 9), "bob", cartHold, noIdem)), e, "bob", 9)
	wantSummary(t, s, e, domain.Summary{Total: 10, Available: 6, OnHold: 4})
	wantSeats(t, "Reserve", ans(s.Reserve(ctx, e.ID, ids(e, 2, 3), "alice", noIdem)), e, domain.Reserved, "alice", 2, 3)
	wantSummary(t, s, e, domain.Summary{Total: 10, Available: 6, OnHold: 2, Reserved: 2})
	wantSeats(t, "Release", ans(s.Release(ctx, e.ID, nil, "bob", noIdem)), e, domain.Available, "", 9)
	wantSummary(t, s, e, domain.Summary{Total: 10, Available: 7, OnHold: 1, Reserved: 2})

	// Expired holds count as available.
	exp := wantHeld(t, "Hold", ans(s.Hold(ctx, e.ID, ids(e, 5, 6), "carol", shortHold, noIdem)), e, "carol", 5, 6)
	wantSummary(t, s, e, domain.Summary{Total: 10, Available: 5, OnHold: 3, Reserved: 2})
	waitAvailable(t, s, e.Seat(6), exp)
	wantSummary(t, s, e, domain.Summary{Total: 10, Available: 7, OnHold: 1, Reserved: 2})
}

// answer is a store change's answer.
type answer struct {
	seats []domain.Seat
	err   error
}

func ans(seats []domain.Seat, err error) answer { return answer{seats, err} }

func testCartHold(t *testing.T, s application.Store) {
	ctx := context.Background()
	e := newEvent(t, s, 10)
	p := cartHold

	// A cart is held all at once and answered in the order asked, with one
	// expiry; the reads agree.
	exp := wantHeld(t, "Hold of a cart", ans(s.Hold(ctx, e.ID, ids(e, 3, 1, 2), "alice", p, noIdem)), e, "alice", 3, 1, 2)
	for _, n := range []int{1, 2, 3} {
		seat := must(t, "Seat")(s.Seat(ctx, e.Seat(n)))
		wantSeat(t, "Seat of the cart", seat, e.Seat(n), domain.OnHold, "alice")
		if !seat.HoldExpiresAt.Equal(exp) {
			t.Fatalf("Seat %d expires %v, Hold said %v", n, seat.HoldExpiresAt, exp)
		}
	}
	wantAvailable(t, s, e, seq(4, 10)...)
	wantSummary(t, s, e, domain.Summary{Total: 10, Available: 7, OnHold: 3})

	// All or nothing: a refusal changes nothing, and names the seats that
	// caused it in the order asked.
	before := snap(t, s, e)
	got, err := s.Hold(ctx, e.ID, ids(e, 4, 2, 5, 1), "bob", p, noIdem)
	wantRefusal(t, "Hold of seats held by another", ans(got, err), domain.ErrSeatHeld, e, 2, 1)
	unchanged(t, "a refused hold", s, e, before)

	// Reserved seats are refused first.
	wantSeats(t, "Reserve", ans(s.Reserve(ctx, e.ID, ids(e, 3), "alice", noIdem)), e, domain.Reserved, "alice", 3)
	before = snap(t, s, e)
	got, err = s.Hold(ctx, e.ID, ids(e, 5, 1, 3), "bob", p, noIdem)
	wantRefusal(t, "Hold of reserved and held seats", ans(got, err), domain.ErrSeatReserved, e, 3)
	got, err = s.Hold(ctx, e.ID, ids(e, 3), "alice", p, noIdem)
	wantRefusal(t, "Hold of a seat reserved by self", ans(got, err), domain.ErrSeatReserved, e, 3)

	// A seat past the event is not found, and named.
	got, err = s.Hold(ctx, e.ID, ids(e, 5, 11), "bob", p, noIdem)
	wantRefusal(t, "Hold of a seat past the event", ans(got, err), domain.ErrSeatNotFound, e, 11)
	unchanged(t, "a refused hold", s, e, before)

	// The limit counts the buyer's other live holds plus the seats asked,
	// own seats once: alice holds 1 and 2 live (3 is reserved).
	got, err = s.Hold(ctx, e.ID, ids(e, 4, 5, 6), "alice", p, noIdem)
	wantRefusal(t, "Hold over the limit", ans(got, err), domain.ErrHoldLimit, e)
	unchanged(t, "a hold over the limit", s, e, before)
	exp2 := wantHeld(t, "Hold up to the limit with an own seat", ans(s.Hold(ctx, e.ID, ids(e, 4, 1, 5), "alice", p, noIdem)), e, "alice", 4, 1, 5)
	if exp2.Before(exp) {
		t.Fatalf("own seat extended to %v, before its expiry %v", exp2, exp)
	}
	if seat := must(t, "Seat")(s.Seat(ctx, e.Seat(2))); !seat.HoldExpiresAt.Equal(exp) {
		t.Fatalf("seat 2, not asked, expires %v, want still %v", seat.HoldExpiresAt, exp)
	}
	// A retry of the same cart succeeds.
	wantHeld(t, "Hold retried", ans(s.Hold(ctx, e.ID, ids(e, 4, 1, 5), "alice", p, noIdem)), e, "alice", 4, 1, 5)
	wantSummary(t, s, e, domain.Summary{Total: 10, Available: 5, OnHold: 4, Reserved: 1})

	// An unknown event.
	u := unknownEvent()
	got, err = s.Hold(ctx, u.ID, ids(u, 1, 2), "bob", p, noIdem)
	wantRefusal(t, "Hold in an unknown event", ans(got, err), domain.ErrEventNotFound, u)
}

func testBestAvailable(t *testing.T, s application.Store) {
	ctx := context.Background()
	// Rows of five: free 1, 3, 5 | 6, 8, 10. 5 and 6 are consecutive
	// numbers, but in two rows.
	e := newEventRows(t, s, 10, 5)
	wantHeld(t, "Hold", ans(s.Hold(ctx, e.ID, ids(e, 2, 4, 7, 9), "blocker", wideHold, noIdem)), e, "blocker", 2, 4, 7, 9)
	before := snap(t, s, e)

	got, err := s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 2, Adjacent: true}, "alice", cartHold, noIdem)
	wantRefusal(t, "adjacent seats when no row has two", ans(got, err), domain.ErrNotEnoughSeats, e)
	got, err = s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 7}, "alice", wideHold, noIdem)
	wantRefusal(t, "more seats than are available", ans(got, err), domain.ErrNotEnoughSeats, e)
	unchanged(t, "a refused best available", s, e, before)

	// No row has a run of two: the lowest seats.
	wantHeld(t, "best available, fallback", ans(s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 2}, "alice", cartHold, noIdem)), e, "alice", 1, 3)
	wantAvailable(t, s, e, 5, 6, 8, 10)

	// The limit, before not enough seats: alice holds two of three.
	p := domain.HoldPolicy{TTL: cartHold.TTL, MaxSeats: 3}
	before = snap(t, s, e)
	got, err = s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 2}, "alice", p, noIdem)
	wantRefusal(t, "best available over the limit", ans(got, err), domain.ErrHoldLimit, e)
	got, err = s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 5}, "alice", domain.HoldPolicy{TTL: p.TTL, MaxSeats: 6}, noIdem)
	wantRefusal(t, "best available over the limit and the seats", ans(got, err), domain.ErrHoldLimit, e)
	unchanged(t, "a best available over the limit", s, e, before)
	// Up to the limit: own holds are not picked again.
	wantHeld(t, "best available up to the limit", ans(s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 1}, "alice", p, noIdem)), e, "alice", 5)
	wantSummary(t, s, e, domain.Summary{Total: 10, Available: 3, OnHold: 7})

	// Not enough seats left, then every seat.
	got, err = s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 4}, "bob", cartHold, noIdem)
	wantRefusal(t, "best available of more than are left", ans(got, err), domain.ErrNotEnoughSeats, e)
	wantHeld(t, "best available of the seats left", ans(s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 3}, "bob", cartHold, noIdem)), e, "bob", 6, 8, 10)
	got, err = s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 1}, "carol", cartHold, noIdem)
	wantRefusal(t, "best available when sold out", ans(got, err), domain.ErrNotEnoughSeats, e)
	wantSummary(t, s, e, domain.Summary{Total: 10, OnHold: 10})

	u := unknownEvent()
	got, err = s.HoldBest(ctx, u.ID, domain.BestAvailable{Count: 1}, "bob", cartHold, noIdem)
	wantRefusal(t, "best available in an unknown event", ans(got, err), domain.ErrEventNotFound, u)
}

func testBestInRows(t *testing.T, s application.Store) {
	ctx := context.Background()
	// Rows of five: .xx.. | ...x. | ..... | .....
	e := newEventRows(t, s, 20, 5)
	wantHeld(t, "Hold", ans(s.Hold(ctx, e.ID, ids(e, 2, 3, 9), "blocker", wideHold, noIdem)), e, "blocker", 2, 3, 9)

	// The lowest run within one row: 4, 5, 6 would cross rows.
	wantHeld(t, "best 3", ans(s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 3}, "alice", cartHold, noIdem)), e, "alice", 6, 7, 8)
	wantHeld(t, "best 2", ans(s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 2, Adjacent: true}, "bob", cartHold, noIdem)), e, "bob", 4, 5)
	wantHeld(t, "best 1", ans(s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 1}, "carol", cartHold, noIdem)), e, "carol", 1)
	wantHeld(t, "best 4, adjacent", ans(s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 4, Adjacent: true}, "dave", cartHold, noIdem)), e, "dave", 11, 12, 13, 14)
	// 10 | 15 | 16..20: the next run of two is in the last row.
	wantHeld(t, "best 2 again", ans(s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 2}, "erin", cartHold, noIdem)), e, "erin", 16, 17)
	wantAvailable(t, s, e, 10, 15, 18, 19, 20)

	// A last row shorter than the others: 2, 4, 6, 8, 10 | 11, 12.
	short := newEventRows(t, s, 12, 5)
	wantHeld(t, "Hold", ans(s.Hold(ctx, short.ID, ids(short, 1, 3, 5, 7, 9), "blocker", wideHold, noIdem)), short, "blocker", 1, 3, 5, 7, 9)
	before := snap(t, s, short)
	got, err := s.HoldBest(ctx, short.ID, domain.BestAvailable{Count: 3, Adjacent: true}, "alice", cartHold, noIdem)
	wantRefusal(t, "adjacent seats longer than the last row", ans(got, err), domain.ErrNotEnoughSeats, short)
	unchanged(t, "a refused best available", s, short, before)
	wantHeld(t, "best 2 in the last row", ans(s.HoldBest(ctx, short.ID, domain.BestAvailable{Count: 2}, "alice", cartHold, noIdem)), short, "alice", 11, 12)
	wantHeld(t, "best 3, fallback", ans(s.HoldBest(ctx, short.ID, domain.BestAvailable{Count: 3}, "bob", cartHold, noIdem)), short, "bob", 2, 4, 6)
	for n, holder := range map[int]domain.UserID{11: "alice", 12: "alice", 2: "bob", 4: "bob", 6: "bob", 8: ""} {
		status := domain.OnHold
		if holder == "" {
			status = domain.Available
		}
		wantSeat(t, fmt.Sprintf("Seat %d", n), must(t, "Seat")(s.Seat(ctx, short.Seat(n))), short.Seat(n), status, holder)
	}
}

// testBestAfterFreed: best available takes the lowest seats free when it
// runs, those a release or an expiry gave back below the seats it took
// before too. (The Redis store starts its search at a mark below which no
// seat is available: each of them must lower it.)
func testBestAfterFreed(t *testing.T, s application.Store) {
	ctx := context.Background()
	e := newEvent(t, s, 12)
	short := domain.HoldPolicy{TTL: shortHold.TTL, MaxSeats: cartHold.MaxSeats}
	best := func(count int, adjacent bool, u domain.UserID, p domain.HoldPolicy) answer {
		return ans(s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: count, Adjacent: adjacent}, u, p, noIdem))
	}
	wantHeld(t, "best 4", best(4, true, "alice", cartHold), e, "alice", 1, 2, 3, 4)
	exp := wantHeld(t, "best 2, short", best(2, false, "bob", short), e, "bob", 5, 6)
	wantHeld(t, "best 4 after them", best(4, false, "carol", cartHold), e, "carol", 7, 8, 9, 10)
	waitAvailable(t, s, e.Seat(6), exp)
	wantHeld(t, "best 2 after an expiry", best(2, true, "erin", cartHold), e, "erin", 5, 6)
	wantSeats(t, "Release", ans(s.Release(ctx, e.ID, ids(e, 2), "alice", noIdem)), e, domain.Available, "", 2)
	wantHeld(t, "best 1 after a release", best(1, false, "dave", cartHold), e, "dave", 2)
	wantHeld(t, "best 2 of the last", best(2, true, "frank", cartHold), e, "frank", 11, 12)
	got, err := s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 1}, "grace", cartHold, noIdem)
	wantRefusal(t, "best 1 of a full event", ans(got, err), domain.ErrNotEnoughSeats, e)
	wantSeats(t, "Release of a cart", ans(s.Release(ctx, e.ID, nil, "carol", noIdem)), e, domain.Available, "", 7, 8, 9, 10)
	wantHeld(t, "best 3 after the release of a cart", best(3, true, "grace", cartHold), e, "grace", 7, 8, 9)
}

// testBestInABigHall: best available in a hall of thousands of seats, where
// the search runs far from its start (the Redis store starts at a mark
// below which no seat is available): the lowest run in a row when it is
// thousands of seats past the first free one, the lowest seats when no row
// has one, across the whole hall.
func testBestInABigHall(t *testing.T, s application.Store) {
	ctx := context.Background()
	// blockOdd holds every odd seat of e up to last: no row has two free
	// seats side by side there.
	blockOdd := func(e domain.Event, last int) {
		t.Helper()
		for first := 1; first <= last; first += 2 * wideHold.MaxSeats {
			var ns []int
			for n := first; n <= last && len(ns) < wideHold.MaxSeats; n += 2 {
				ns = append(ns, n)
			}
			user := domain.UserID(fmt.Sprintf("blocker-%d", first))
			wantHeld(t, "Hold", ans(s.Hold(ctx, e.ID, ids(e, ns...), user, wideHold, noIdem)), e, user, ns...)
		}
	}
	best := func(e domain.Event, count int, adjacent bool, u domain.UserID) answer {
		return ans(s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: count, Adjacent: adjacent}, u, cartHold, noIdem))
	}

	// Free seats 2, 4, ..., 4000 alone in their rows, then 4001..5000.
	hall := newEventRows(t, s, 5000, 10)
	blockOdd(hall, 4000)
	wantHeld(t, "best 2, far from the front", best(hall, 2, false, "alice"), hall, "alice", 4001, 4002)
	wantHeld(t, "best 1, at the front", best(hall, 1, false, "bob"), hall, "bob", 2)
	wantHeld(t, "best 3, adjacent", best(hall, 3, true, "carol"), hall, "carol", 4003, 4004, 4005)

	// No row has a run of two anywhere: the lowest seats, or none adjacent.
	sparse := newEventRows(t, s, 3000, 10)
	blockOdd(sparse, 3000)
	before := snap(t, s, sparse)
	got, err := s.HoldBest(ctx, sparse.ID, domain.BestAvailable{Count: 2, Adjacent: true}, "alice", cartHold, noIdem)
	wantRefusal(t, "adjacent seats in a hall with no two side by side", ans(got, err), domain.ErrNotEnoughSeats, sparse)
	unchanged(t, "a refused best available", s, sparse, before)
	wantHeld(t, "best 3, fallback", best(sparse, 3, false, "alice"), sparse, "alice", 2, 4, 6)
}

func testCartRefresh(t *testing.T, s application.Store) {
	ctx := context.Background()
	e := newEvent(t, s, 10)
	p := cartHold
	exp := wantHeld(t, "Hold", ans(s.Hold(ctx, e.ID, ids(e, 7, 2, 5), "alice", p, noIdem)), e, "alice", 7, 2, 5)
	wantHeld(t, "Hold", ans(s.Hold(ctx, e.ID, ids(e, 9), "bob", p, noIdem)), e, "bob", 9)

	// Without ids: every live hold of the buyer, in ascending order.
	exp2 := wantHeld(t, "Refresh of the cart", ans(s.Refresh(ctx, e.ID, nil, "alice", p, noIdem)), e, "alice", 2, 5, 7)
	if exp2.Before(exp) {
		t.Fatalf("refreshed to %v, before %v", exp2, exp)
	}
	for _, n := range []int{2, 5, 7} {
		if seat := must(t, "Seat")(s.Seat(ctx, e.Seat(n))); !seat.HoldExpiresAt.Equal(exp2) {
			t.Fatalf("Seat %d expires %v, Refresh said %v", n, seat.HoldExpiresAt, exp2)
		}
	}

	// All or nothing: seats not on hold are refused first, then seats held
	// by others, named in the order asked.
	before := snap(t, s, e)
	got, err := s.Refresh(ctx, e.ID, ids(e, 5, 8), "alice", p, noIdem)
	wantRefusal(t, "Refresh of an available seat", ans(got, err), domain.ErrNotOnHold, e, 8)
	got, err = s.Refresh(ctx, e.ID, ids(e, 9, 5, 8, 1), "alice", p, noIdem)
	wantRefusal(t, "Refresh of seats available and held by another", ans(got, err), domain.ErrNotOnHold, e, 8, 1)
	got, err = s.Refresh(ctx, e.ID, ids(e, 9, 5), "alice", p, noIdem)
	wantRefusal(t, "Refresh of a seat held by another", ans(got, err), domain.ErrNotHolder, e, 9)
	got, err = s.Refresh(ctx, e.ID, ids(e, 5, 11), "alice", p, noIdem)
	wantRefusal(t, "Refresh of a seat past the event", ans(got, err), domain.ErrSeatNotFound, e, 11)
	got, err = s.Refresh(ctx, e.ID, nil, "carol", p, noIdem)
	wantRefusal(t, "Refresh of the cart of a buyer who holds nothing", ans(got, err), domain.ErrNotOnHold, e)
	unchanged(t, "a refused refresh", s, e, before)

	// With ids: those seats only.
	wantHeld(t, "Refresh of one seat", ans(s.Refresh(ctx, e.ID, ids(e, 5), "alice", p, noIdem)), e, "alice", 5)
	// A reserved seat leaves the cart.
	wantSeats(t, "Reserve", ans(s.Reserve(ctx, e.ID, ids(e, 7), "alice", noIdem)), e, domain.Reserved, "alice", 7)
	wantHeld(t, "Refresh of the cart after a reserve", ans(s.Refresh(ctx, e.ID, nil, "alice", p, noIdem)), e, "alice", 2, 5)
	got, err = s.Refresh(ctx, e.ID, ids(e, 7), "alice", p, noIdem)
	wantRefusal(t, "Refresh of a reserved seat", ans(got, err), domain.ErrNotOnHold, e, 7)

	u := unknownEvent()
	got, err = s.Refresh(ctx, u.ID, nil, "alice", p, noIdem)
	wantRefusal(t, "Refresh in an unknown event", ans(got, err), domain.ErrEventNotFound, u)
}

func testCartReserve(t *testing.T, s application.Store) {
	ctx := context.Background()
	e := newEvent(t, s, 10)
	wantHeld(t, "Hold", ans(s.Hold(ctx, e.ID, ids(e, 1, 2, 3), "alice", cartHold, noIdem)), e, "alice", 1, 2, 3)
	wantHeld(t, "Hold", ans(s.Hold(ctx, e.ID, ids(e, 9), "bob", cartHold, noIdem)), e, "bob", 9)

	// All or nothing: seats without a live hold of the buyer are named.
	before := snap(t, s, e)
	got, err := s.Reserve(ctx, e.ID, ids(e, 1, 4, 2, 9), "alice", noIdem)
	wantRefusal(t, "Reserve of seats not held", ans(got, err), domain.ErrNoLiveHold, e, 4, 9)
	got, err = s.Reserve(ctx, e.ID, ids(e, 1), "bob", noIdem)
	wantRefusal(t, "Reserve of a seat held by another", ans(got, err), domain.ErrNoLiveHold, e, 1)
	got, err = s.Reserve(ctx, e.ID, ids(e, 1, 11), "alice", noIdem)
	wantRefusal(t, "Reserve of a seat past the event", ans(got, err), domain.ErrSeatNotFound, e, 11)
	unchanged(t, "a refused reserve", s, e, before)

	// In the order asked; a retry succeeds, and so does a cart of seats
	// reserved and held.
	wantSeats(t, "Reserve", ans(s.Reserve(ctx, e.ID, ids(e, 3, 1), "alice", noIdem)), e, domain.Reserved, "alice", 3, 1)
	wantSeats(t, "Reserve retried", ans(s.Reserve(ctx, e.ID, ids(e, 3, 1), "alice", noIdem)), e, domain.Reserved, "alice", 3, 1)
	wantSeats(t, "Reserve of reserved and held", ans(s.Reserve(ctx, e.ID, ids(e, 1, 2), "alice", noIdem)), e, domain.Reserved, "alice", 1, 2)
	for _, n := range []int{1, 2, 3} {
		wantSeat(t, "Seat after reserve", must(t, "Seat")(s.Seat(ctx, e.Seat(n))), e.Seat(n), domain.Reserved, "alice")
	}
	got, err = s.Reserve(ctx, e.ID, ids(e, 1), "bob", noIdem)
	wantRefusal(t, "Reserve of a seat reserved by another", ans(got, err), domain.ErrNoLiveHold, e, 1)
	wantSummary(t, s, e, domain.Summary{Total: 10, Available: 6, OnHold: 1, Reserved: 3})

	u := unknownEvent()
	got, err = s.Reserve(ctx, u.ID, ids(u, 1), "alice", noIdem)
	wantRefusal(t, "Reserve in an unknown event", ans(got, err), domain.ErrEventNotFound, u)
}

func testRelease(t *testing.T, s application.Store) {
	ctx := context.Background()
	e := newEvent(t, s, 10)
	p := cartHold
	wantHeld(t, "Hold", ans(s.Hold(ctx, e.ID, ids(e, 1, 2, 3, 4), "alice", p, noIdem)), e, "alice", 1, 2, 3, 4)
	bobExp := wantHeld(t, "Hold", ans(s.Hold(ctx, e.ID, ids(e, 5), "bob", p, noIdem)), e, "bob", 5)
	wantSeats(t, "Reserve", ans(s.Reserve(ctx, e.ID, ids(e, 4), "alice", noIdem)), e, domain.Reserved, "alice", 4)

	// With ids: only the buyer's own live holds, in the order given.
	wantSeats(t, "Release", ans(s.Release(ctx, e.ID, ids(e, 5, 3, 9, 4, 2), "alice", noIdem)), e, domain.Available, "", 3, 2)
	wantSeat(t, "Seat of another", must(t, "Seat")(s.Seat(ctx, e.Seat(5))), e.Seat(5), domain.OnHold, "bob")
	if seat := must(t, "Seat")(s.Seat(ctx, e.Seat(5))); !seat.HoldExpiresAt.Equal(bobExp) {
		t.Fatalf("Release by alice changed bob's hold to %v", seat.HoldExpiresAt)
	}
	wantSeat(t, "Seat reserved", must(t, "Seat")(s.Seat(ctx, e.Seat(4))), e.Seat(4), domain.Reserved, "alice")
	wantAvailable(t, s, e, 2, 3, 6, 7, 8, 9, 10)
	// A retry returns nothing and changes nothing.
	before := snap(t, s, e)
	wantSeats(t, "Release retried", ans(s.Release(ctx, e.ID, ids(e, 5, 3, 9, 4, 2), "alice", noIdem)), e, domain.Available, "")
	got, err := s.Release(ctx, e.ID, ids(e, 2, 11), "alice", noIdem)
	wantRefusal(t, "Release of a seat past the event", ans(got, err), domain.ErrSeatNotFound, e, 11)
	unchanged(t, "a release of nothing", s, e, before)

	// Without ids: every live hold of the buyer, in ascending order.
	wantHeld(t, "Hold", ans(s.Hold(ctx, e.ID, ids(e, 8), "alice", p, noIdem)), e, "alice", 8)
	wantSeats(t, "Release of the cart", ans(s.Release(ctx, e.ID, nil, "alice", noIdem)), e, domain.Available, "", 1, 8)
	wantSeats(t, "Release of the cart retried", ans(s.Release(ctx, e.ID, nil, "alice", noIdem)), e, domain.Available, "")
	wantSummary(t, s, e, domain.Summary{Total: 10, Available: 8, OnHold: 1, Reserved: 1})

	// The seats are free for another, and the buyer's limit is free again.
	wantHeld(t, "Hold by another after release", ans(s.Hold(ctx, e.ID, ids(e, 1, 2, 3), "carol", p, noIdem)), e, "carol", 1, 2, 3)
	wantHeld(t, "Hold after release", ans(s.Hold(ctx, e.ID, ids(e, 6, 7, 8, 9), "alice", p, noIdem)), e, "alice", 6, 7, 8, 9)

	u := unknownEvent()
	got, err = s.Release(ctx, u.ID, nil, "alice", noIdem)
	wantRefusal(t, "Release in an unknown event", ans(got, err), domain.ErrEventNotFound, u)
}

// testBigCart: a deployment may let one buyer hold thousands of seats
// (RESERVATION_HOLD_MAX_SEATS), more than one Redis call of a script takes
// at once (Lua's unpack stops at about 8,000 values, and some writes take
// two a seat). Every change of such a cart is whole: hold, refresh,
// release, expiry and reserve, listed or best available.
func testBigCart(t *testing.T, s application.Store) {
	ctx := context.Background()
	const total, n = 10_000, 8_500
	e := newEvent(t, s, total)
	p := domain.HoldPolicy{TTL: time.Minute, MaxSeats: n}
	all := seq(1, n)

	wantHeld(t, "best available of 8,500", ans(s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: n, Adjacent: true}, "alice", p, noIdem)), e, "alice", all...)
	wantSummary(t, s, e, domain.Summary{Total: total, Available: total - n, OnHold: n})
	wantHeld(t, "Refresh of the cart", ans(s.Refresh(ctx, e.ID, nil, "alice", p, noIdem)), e, "alice", all...)
	wantSeats(t, "Release of the cart", ans(s.Release(ctx, e.ID, nil, "alice", noIdem)), e, domain.Available, "", all...)
	wantSummary(t, s, e, domain.Summary{Total: total, Available: total})

	short := domain.HoldPolicy{TTL: shortHold.TTL, MaxSeats: n}
	exp := wantHeld(t, "Hold of 8,500 listed seats", ans(s.Hold(ctx, e.ID, ids(e, all...), "bob", short, noIdem)), e, "bob", all...)
	waitAvailable(t, s, e.Seat(n), exp)
	// The next change reclaims them all.
	wantHeld(t, "Hold after the expiry", ans(s.Hold(ctx, e.ID, ids(e, all...), "carol", p, noIdem)), e, "carol", all...)
	wantSummary(t, s, e, domain.Summary{Total: total, Available: total - n, OnHold: n})
	wantSeats(t, "Reserve of the cart", ans(s.Reserve(ctx, e.ID, ids(e, all...), "carol", noIdem)), e, domain.Reserved, "carol", all...)
	wantSummary(t, s, e, domain.Summary{Total: total, Available: total - n, Reserved: n})
	wantAvailable(t, s, e, seq(n+1, total)...)
}
