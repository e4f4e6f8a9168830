package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// Benchmark measures the store calls of the service's hot paths, one call
// at a time, on stores made by newStore. Holds, reserves and refreshes of
// one seat run on events of the fewest and of the most seats: their cost
// must not grow with the event. The calls of carts run on events of
// 10,000 seats as a sale leaves them (see benchCarts).
func Benchmark(b *testing.B, newStore func(b *testing.B) application.Store) {
	ctx := context.Background()
	benchCarts(b, newStore)
	b.Run("CreateEvent/10000", func(b *testing.B) {
		s := newStore(b)
		b.ReportAllocs()
		for b.Loop() {
			if err := s.CreateEvent(ctx, eventOf(b, domain.MaxTotalSeats)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AvailableSeats/10000", func(b *testing.B) {
		s := newStore(b)
		e := createEvent(b, s, domain.MaxTotalSeats)
		b.ReportAllocs()
		for b.Loop() {
			if _, free, _, err := s.AvailableSeats(ctx, e.ID); err != nil || len(free) != e.TotalSeats {
				b.Fatal(len(free), err)
			}
		}
	})
	// During a sale: half the seats held, each by a user of their own.
	b.Run("AvailableSeats/10000/half-held", func(b *testing.B) {
		s := newStore(b)
		e := createEvent(b, s, domain.MaxTotalSeats)
		for n := 1; n <= e.TotalSeats; n += 2 {
			if _, err := Hold(ctx, s, e.Seat(n), domain.UserID(uuid.NewString()), longHold); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, free, _, err := s.AvailableSeats(ctx, e.ID); err != nil || len(free) != e.TotalSeats/2 {
				b.Fatal(len(free), err)
			}
		}
	})
	b.Run("Seat", func(b *testing.B) {
		s := newStore(b)
		id := createEvent(b, s, domain.MaxTotalSeats).Seat(42)
		if _, err := Hold(ctx, s, id, "alice", longHold); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if seat, err := s.Seat(ctx, id); err != nil || seat.Status != domain.OnHold {
				b.Fatal(seat, err)
			}
		}
	})
	for _, size := range []int{domain.MinTotalSeats, domain.MaxTotalSeats} {
		// Each hold takes a free seat for a new user: the path that counts
		// the user's holds.
		b.Run(fmt.Sprintf("Hold/%d", size), func(b *testing.B) {
			s := newStore(b)
			seats, users := freeSeats(b, s, size, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, err := Hold(ctx, s, seats[i], users[i], longHold); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("Reserve/%d", size), func(b *testing.B) {
			s := newStore(b)
			seats, users := heldSeats(b, s, size, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, err := Reserve(ctx, s, seats[i], users[i]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("Refresh/%d", size), func(b *testing.B) {
			s := newStore(b)
			id := createEvent(b, s, size).Seat(size)
			if _, err := Hold(ctx, s, id, "alice", longHold); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Refresh(ctx, s, id, "alice", longHold); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Policies of the cart benchmarks: the service's defaults (a cart of 6
// seats, whose holds live at most 15 minutes); a limit high enough to hold
// an event's front half in 20 calls; holds that expire at once.
var (
	benchPolicy     = domain.HoldPolicy{TTL: time.Minute, MaxSeats: 6, MaxLifetime: 15 * time.Minute}
	benchPrepPolicy = domain.HoldPolicy{TTL: time.Minute, MaxSeats: 250}
	benchGonePolicy = domain.HoldPolicy{TTL: time.Millisecond, MaxSeats: 6}
)

// Shapes of the cart benchmarks, as in the load benchmark (cmd/loadbench).
const (
	benchCart       = 6    // seats of a cart hold
	benchBest       = 4    // seats of a best-available hold
	benchFrontHeld  = 5000 // seats held before best-available holds
	benchBestPerEvt = 1000 // best-available holds per event
	benchRow        = 50   // seats per row
)

// benchCarts measures the calls of carts:
//
//   - HoldCart/6: a cart of 6 listed seats, free, for a new user;
//   - HoldBest/4/5000-held: the best 4 adjacent seats for a new user, in an
//     event (rows of 50) whose seats 1..5,000 were held first; each event
//     then takes 1,000 such holds, so that 5,000 to 9,000 of its seats are
//     on hold meanwhile;
//   - Summary and AvailableSeats of an event whose odd seats are under
//     expired holds and even ones under live holds, each hold by a user of
//     128 characters of their own, in carts of 6 (churn);
//   - Release/6: a user's release of their cart of 6 held seats, the seats
//     not named.
func benchCarts(b *testing.B, newStore func(b *testing.B) application.Store) {
	ctx := context.Background()
	b.Run(fmt.Sprintf("HoldCart/%d", benchCart), func(b *testing.B) {
		s := newStore(b)
		carts := benchFreeCarts(b, s, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for _, c := range carts {
			if held, err := s.Hold(ctx, c.event, c.seats, c.user, benchPolicy, application.Idem{}); err != nil || len(held) != benchCart {
				b.Fatal(len(held), err)
			}
		}
	})
	b.Run(fmt.Sprintf("HoldBest/%d/%d-held", benchBest, benchFrontHeld), func(b *testing.B) {
		s := newStore(b)
		events := make([]domain.Event, (b.N+benchBestPerEvt-1)/benchBestPerEvt)
		for i := range events {
			events[i] = benchFrontHeldEvent(b, s)
		}
		users := benchUsers(b.N, "best")
		best := domain.BestAvailable{Count: benchBest, Adjacent: true}
		b.ReportAllocs()
		b.ResetTimer()
		for i, u := range users {
			if held, err := s.HoldBest(ctx, events[i/benchBestPerEvt].ID, best, u, benchPolicy, application.Idem{}); err != nil || len(held) != benchBest {
				b.Fatal(len(held), err)
			}
		}
	})
	b.Run("Summary/10000/churn", func(b *testing.B) {
		s := newStore(b)
		e := benchChurnEvent(b, s)
		want := domain.Summary{Total: e.TotalSeats, Available: e.TotalSeats / 2, OnHold: e.TotalSeats / 2}
		b.ReportAllocs()
		for b.Loop() {
			if sum, err := s.Summary(ctx, e.ID); err != nil || sum != want {
				b.Fatal(sum, err)
			}
		}
	})
	b.Run("AvailableSeats/10000/churn", func(b *testing.B) {
		s := newStore(b)
		e := benchChurnEvent(b, s)
		b.ReportAllocs()
		for b.Loop() {
			if _, free, _, err := s.AvailableSeats(ctx, e.ID); err != nil || len(free) != e.TotalSeats/2 {
				b.Fatal(len(free), err)
			}
		}
	})
	b.Run(fmt.Sprintf("Release/%d", benchCart), func(b *testing.B) {
		s := newStore(b)
		carts := benchFreeCarts(b, s, b.N)
		for _, c := range carts {
			if _, err := s.Hold(ctx, c.event, c.seats, c.user, benchPolicy, application.Idem{}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		for _, c := range carts {
			if released, err := s.Release(ctx, c.event, nil, c.user, application.Idem{}); err != nil || len(released) != benchCart {
				b.Fatal(len(released), err)
			}
		}
	})
}

// benchCartOf is a cart: listed seats of one event for one user.
type benchCartOf struct {
	event domain.EventID
	seats []domain.SeatID
	user  domain.UserID
}

// benchFreeCarts creates events of 10,000 seats for count carts of 6 free
// seats, each for a user of its own.
func benchFreeCarts(b *testing.B, s application.Store, count int) []benchCartOf {
	b.Helper()
	carts := make([]benchCartOf, count)
	perEvent := domain.MaxTotalSeats / benchCart
	users := benchUsers(count, "cart")
	var e domain.Event
	for i := range carts {
		k := i % perEvent
		if k == 0 {
			e = createEvent(b, s, domain.MaxTotalSeats)
		}
		seats := make([]domain.SeatID, benchCart)
		for j := range seats {
			seats[j] = e.Seat(k*benchCart + j + 1)
		}
		carts[i] = benchCartOf{event: e.ID, seats: seats, user: users[i]}
	}
	return carts
}

// benchFrontHeldEvent creates an event of 10,000 seats in rows of 50
// whose seats 1..5,000 are held, 250 for each user.
func benchFrontHeldEvent(b *testing.B, s application.Store) domain.Event {
	b.Helper()
	e, err := domain.NewEvent(domain.EventID(uuid.NewString()), "Benchmark", domain.MaxTotalSeats, benchRow)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.CreateEvent(context.Background(), e); err != nil {
		b.Fatal(err)
	}
	for first := 1; first <= benchFrontHeld; first += benchPrepPolicy.MaxSeats {
		seats := make([]domain.SeatID, min(benchPrepPolicy.MaxSeats, benchFrontHeld-first+1))
		for j := range seats {
			seats[j] = e.Seat(first + j)
		}
		if _, err := s.Hold(context.Background(), e.ID, seats, domain.UserID(uuid.NewString()), benchPrepPolicy, application.Idem{}); err != nil {
			b.Fatal(err)
		}
	}
	return e
}

// benchChurnEvent creates an event of 10,000 seats whose odd seats are
// under expired holds and even ones under live holds, in carts of 6, each
// by a user of 128 characters of their own.
func benchChurnEvent(b *testing.B, s application.Store) domain.Event {
	b.Helper()
	e := createEvent(b, s, domain.MaxTotalSeats)
	holdEvery := func(from int, p domain.HoldPolicy, kind string) {
		for first := from; first <= e.TotalSeats; first += 2 * benchCart {
			var seats []domain.SeatID
			for n := first; n <= e.TotalSeats && len(seats) < benchCart; n += 2 {
				seats = append(seats, e.Seat(n))
			}
			user := benchLongUser(fmt.Sprintf("%s-%s-%05d-", kind, e.ID, first))
			if _, err := s.Hold(context.Background(), e.ID, seats, user, p, application.Idem{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	holdEvery(1, benchGonePolicy, "expired")
	time.Sleep(20 * time.Millisecond) // past every expiry, on any store's clock
	holdEvery(2, benchPolicy, "live")
	return e
}

// benchLongUser pads prefix to a user id of the longest length allowed.
func benchLongUser(prefix string) domain.UserID {
	return domain.UserID(prefix + strings.Repeat("0123456789abcdef", 8)[:domain.MaxUserLength-len(prefix)])
}

// benchUsers returns count fresh user ids.
func benchUsers(count int, kind string) []domain.UserID {
	users := make([]domain.UserID, count)
	for i := range users {
		users[i] = domain.UserID(kind + "-" + uuid.NewString())
	}
	return users
}

// freeSeats creates events of size seats for count seats, and gives each
// seat a user of its own.
func freeSeats(b *testing.B, s application.Store, size, count int) ([]domain.SeatID, []domain.UserID) {
	b.Helper()
	seats := make([]domain.SeatID, count)
	users := make([]domain.UserID, count)
	var e domain.Event
	for i := range count {
		n := i%size + 1
		if n == 1 {
			e = createEvent(b, s, size)
		}
		seats[i], users[i] = e.Seat(n), domain.UserID(uuid.NewString())
	}
	return seats, users
}

// heldSeats is freeSeats with each seat held by its user.
func heldSeats(b *testing.B, s application.Store, size, count int) ([]domain.SeatID, []domain.UserID) {
	b.Helper()
	seats, users := freeSeats(b, s, size, count)
	for i := range seats {
		if _, err := Hold(context.Background(), s, seats[i], users[i], longHold); err != nil {
			b.Fatal(err)
		}
	}
	return seats, users
}

// eventOf returns a new event with a fresh id, not yet stored.
func eventOf(b *testing.B, seats int) domain.Event {
	b.Helper()
	e, err := domain.NewEvent(domain.EventID(uuid.NewString()), "Benchmark", seats, 0)
	if err != nil {
		b.Fatal(err)
	}
	return e
}

func createEvent(b *testing.B, s application.Store, seats int) domain.Event {
	b.Helper()
	e := eventOf(b, seats)
	if err := s.CreateEvent(context.Background(), e); err != nil {
		b.Fatal(err)
	}
	return e
}
