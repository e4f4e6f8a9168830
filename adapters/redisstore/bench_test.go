package redisstore_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/domain"
)

// The benchmarks run one call at a time against a standalone Redis on this
// machine, so they measure a round trip plus the script.

func BenchmarkCreateEvent(b *testing.B) {
	s := newStore(b, redistest.SharedStandalone(b))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.CreateEvent(ctx, eventOf(b, domain.MaxTotalSeats)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAvailableSeats(b *testing.B) {
	s := newStore(b, redistest.SharedStandalone(b))
	ctx := context.Background()
	e := newEvent(b, s, domain.MaxTotalSeats)
	b.ReportAllocs()
	for b.Loop() {
		if _, free, err := s.AvailableSeats(ctx, e.ID); err != nil || len(free) != e.TotalSeats {
			b.Fatal(len(free), err)
		}
	}
}

// BenchmarkHold has each call hold a free seat for a new user: the path
// that counts the user's holds.
func BenchmarkHold(b *testing.B) {
	s := newStore(b, redistest.SharedStandalone(b))
	ctx := context.Background()
	seats := make([]domain.SeatID, b.N)
	users := make([]domain.UserID, b.N)
	var e domain.Event
	for i := range b.N {
		n := i%domain.MaxTotalSeats + 1
		if n == 1 {
			e = newEvent(b, s, domain.MaxTotalSeats)
		}
		seats[i], users[i] = e.Seat(n), domain.UserID(uuid.NewString())
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Hold(ctx, seats[i], users[i], longHold); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSeat(b *testing.B) {
	s := newStore(b, redistest.SharedStandalone(b))
	ctx := context.Background()
	e := newEvent(b, s, domain.MaxTotalSeats)
	id := e.Seat(42)
	if _, err := s.Hold(ctx, id, "alice", longHold); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if seat, err := s.Seat(ctx, id); err != nil || seat.Status != domain.OnHold {
			b.Fatal(seat, err)
		}
	}
}
