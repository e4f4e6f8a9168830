package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// sameAnswer fails unless a replayed answer is the first one: the same
// seats (holders and expiries too), or the same refusal naming the same
// seats.
func sameAnswer(t *testing.T, what string, first, again answer) {
	t.Helper()
	if len(first.seats) != len(again.seats) {
		t.Fatalf("%s: replay answered %+v, first %+v", what, again.seats, first.seats)
	}
	for i, f := range first.seats {
		a := again.seats[i]
		if f.ID != a.ID || f.Status != a.Status || f.Holder != a.Holder || !f.HoldExpiresAt.Equal(a.HoldExpiresAt) {
			t.Fatalf("%s: replay answered %+v, first %+v", what, again.seats, first.seats)
		}
	}
	if (first.err == nil) != (again.err == nil) {
		t.Fatalf("%s: replay answered error %v, first %v", what, again.err, first.err)
	}
	if first.err == nil {
		return
	}
	var r *domain.Refusal
	if !errors.As(first.err, &r) || !errors.Is(again.err, r) {
		t.Fatalf("%s: replay answered error %v, first %v", what, again.err, first.err)
	}
	var fs, as *domain.SeatsError
	if errors.As(first.err, &fs) != errors.As(again.err, &as) || fs != nil && !slices.Equal(fs.Seats, as.Seats) {
		t.Fatalf("%s: replay answered error %v, first %v", what, again.err, first.err)
	}
}

// testIdemReplay: a change under an Idempotency-Key answers a repeat of
// the key (with the same fingerprint) as the first time, and changes
// nothing more.
func testIdemReplay(t *testing.T, s application.Store) {
	ctx := context.Background()
	e := newEventRows(t, s, 10, 5)
	p := cartHold

	// Best available twice with the same key holds once.
	k := idem("best 2 by alice")
	first := ans(s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 2}, "alice", p, k))
	wantHeld(t, "HoldBest", first, e, "alice", 1, 2)
	before := snap(t, s, e)
	again := ans(s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 2}, "alice", p, k))
	sameAnswer(t, "HoldBest replayed", first, again)
	unchanged(t, "a replayed HoldBest", s, e, before)
	// Another key is another request.
	wantHeld(t, "HoldBest under another key", ans(s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 2}, "alice", p, idem("best 2 by alice"))), e, "alice", 3, 4)

	// A hold replayed does not extend the hold.
	k = idem("hold 6 7 by bob")
	first = ans(s.Hold(ctx, e.ID, ids(e, 6, 7), "bob", p, k))
	wantHeld(t, "Hold", first, e, "bob", 6, 7)
	before = snap(t, s, e)
	sameAnswer(t, "Hold replayed", first, ans(s.Hold(ctx, e.ID, ids(e, 6, 7), "bob", p, k)))
	unchanged(t, "a replayed Hold", s, e, before)

	// So does a refresh.
	k = idem("refresh by bob")
	first = ans(s.Refresh(ctx, e.ID, nil, "bob", p, k))
	wantHeld(t, "Refresh", first, e, "bob", 6, 7)
	before = snap(t, s, e)
	sameAnswer(t, "Refresh replayed", first, ans(s.Refresh(ctx, e.ID, nil, "bob", p, k)))
	unchanged(t, "a replayed Refresh", s, e, before)

	// A refusal is replayed too, even once the request would succeed.
	k = idem("hold 1 by carol")
	first = ans(s.Hold(ctx, e.ID, ids(e, 1), "carol", p, k))
	wantRefusal(t, "Hold of a held seat", first, domain.ErrSeatHeld, e, 1)
	wantSeats(t, "Release", ans(s.Release(ctx, e.ID, ids(e, 1), "alice", noIdem)), e, domain.Available, "", 1)
	before = snap(t, s, e)
	sameAnswer(t, "refused Hold replayed", first, ans(s.Hold(ctx, e.ID, ids(e, 1), "carol", p, k)))
	unchanged(t, "a replayed refusal", s, e, before)
	wantHeld(t, "Hold without the key", ans(s.Hold(ctx, e.ID, ids(e, 1), "carol", p, noIdem)), e, "carol", 1)

	// A reserve replayed answers the reservation again.
	k = idem("reserve 6 by bob")
	first = ans(s.Reserve(ctx, e.ID, ids(e, 6), "bob", k))
	wantSeats(t, "Reserve", first, e, domain.Reserved, "bob", 6)
	before = snap(t, s, e)
	sameAnswer(t, "Reserve replayed", first, ans(s.Reserve(ctx, e.ID, ids(e, 6), "bob", k)))
	unchanged(t, "a replayed Reserve", s, e, before)

	// A release replayed answers the seats it released, and releases
	// nothing more: not the seat another buyer has held since.
	k = idem("release by alice")
	first = ans(s.Release(ctx, e.ID, nil, "alice", k))
	wantSeats(t, "Release", first, e, domain.Available, "", 2, 3, 4)
	wantHeld(t, "Hold", ans(s.Hold(ctx, e.ID, ids(e, 3), "dave", p, noIdem)), e, "dave", 3)
	wantHeld(t, "Hold", ans(s.Hold(ctx, e.ID, ids(e, 2), "alice", p, noIdem)), e, "alice", 2)
	before = snap(t, s, e)
	sameAnswer(t, "Release replayed", first, ans(s.Release(ctx, e.ID, nil, "alice", k)))
	unchanged(t, "a replayed Release", s, e, before)

	// A refusal naming a seat past the event is replayed too.
	k = idem("hold 11 by erin")
	first = ans(s.Hold(ctx, e.ID, ids(e, 11), "erin", p, k))
	wantRefusal(t, "Hold past the event", first, domain.ErrSeatNotFound, e, 11)
	sameAnswer(t, "Hold past the event replayed", first, ans(s.Hold(ctx, e.ID, ids(e, 11), "erin", p, k)))
}

// testIdemReused: a key already answered for one request refuses any
// other (another fingerprint), whatever the change, and changes nothing.
func testIdemReused(t *testing.T, s application.Store) {
	ctx := context.Background()
	e := newEvent(t, s, 10)
	p := cartHold
	k := idem("best 2 by alice")
	first := ans(s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 2}, "alice", p, k))
	wantHeld(t, "HoldBest", first, e, "alice", 1, 2)
	other := k
	other.Fingerprint = "best 3 by alice"
	before := snap(t, s, e)
	for what, change := range map[string]func() ([]domain.Seat, error){
		"HoldBest": func() ([]domain.Seat, error) {
			return s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 3}, "alice", p, other)
		},
		"Hold":    func() ([]domain.Seat, error) { return s.Hold(ctx, e.ID, ids(e, 5), "alice", p, other) },
		"Refresh": func() ([]domain.Seat, error) { return s.Refresh(ctx, e.ID, nil, "alice", p, other) },
		"Reserve": func() ([]domain.Seat, error) { return s.Reserve(ctx, e.ID, ids(e, 1, 2), "alice", other) },
		"Release": func() ([]domain.Seat, error) { return s.Release(ctx, e.ID, nil, "alice", other) },
	} {
		wantRefusal(t, what+" under a key used for another request", ans(change()), domain.ErrIdempotencyKeyReused, e)
	}
	unchanged(t, "changes under a reused key", s, e, before)
	// The first request under the key still gets its answer.
	sameAnswer(t, "HoldBest replayed after refusals", first, ans(s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 2}, "alice", p, k)))

	// A refusal keeps its key too.
	k = idem("hold 1 by bob")
	wantRefusal(t, "Hold of a held seat", ans(s.Hold(ctx, e.ID, ids(e, 1), "bob", p, k)), domain.ErrSeatHeld, e, 1)
	other = k
	other.Fingerprint = "hold 3 by bob"
	wantRefusal(t, "Hold under the key of a refusal", ans(s.Hold(ctx, e.ID, ids(e, 3), "bob", p, other)), domain.ErrIdempotencyKeyReused, e)
	wantSeat(t, "Seat", must(t, "Seat")(s.Seat(ctx, e.Seat(3))), e.Seat(3), domain.Available, "")
}
