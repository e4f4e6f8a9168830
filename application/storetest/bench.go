package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// Benchmark measures the store calls of the service's hot paths, one call
// at a time, on stores made by newStore. Holds, reserves and refreshes run
// on events of the fewest and of the most seats: their cost must not grow
// with the event.
func Benchmark(b *testing.B, newStore func(b *testing.B) application.Store) {
	ctx := context.Background()
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
			if _, free, err := s.AvailableSeats(ctx, e.ID); err != nil || len(free) != e.TotalSeats {
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
			if _, free, err := s.AvailableSeats(ctx, e.ID); err != nil || len(free) != e.TotalSeats/2 {
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
