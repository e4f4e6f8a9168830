package domain_test

import (
	"testing"
	"time"

	"github.com/seatres/reservation/domain"
)

// The rules run on every request, before and after the store: they must
// cost next to nothing and allocate nothing.

func BenchmarkParseSeatID(b *testing.B) {
	s := seatID.String()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := domain.ParseSeatID(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSeatIDAppendText(b *testing.B) {
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = seatID.AppendText(buf[:0])
	}
}

func BenchmarkNewUserID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := domain.NewUserID("3f2b9c1e-0000-4000-8000-000000000000"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewEvent(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := domain.NewEvent(eventID, "Spring concert", domain.MaxTotalSeats, 100); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSeatRules: a hold of one seat, its refresh and its
// reservation, each checking expiry first.
func BenchmarkSeatRules(b *testing.B) {
	p := domain.HoldPolicy{TTL: policy.TTL, MaxSeats: policy.MaxSeats, MaxLifetime: 10 * policy.TTL}
	seats := []domain.Seat{available()}
	b.ReportAllocs()
	for b.Loop() {
		held, cart, err := domain.Hold(seats, "alice", domain.Cart{}, 0, t0, p)
		if err == nil {
			held, _, err = domain.Refresh(held, "alice", cart, t0.Add(time.Second), p)
		}
		if err == nil {
			held, err = domain.Reserve(held, "alice", t0.Add(time.Second))
		}
		if err != nil || held[0].Status != domain.Reserved {
			b.Fatal(held, err)
		}
	}
}

// BenchmarkBest: best available in the largest event, nearly sold out in
// rows of 20, so that the search runs through every row before it falls
// back to the lowest seats.
func BenchmarkBest(b *testing.B) {
	e := event(b, domain.MaxTotalSeats, 20)
	seats := make([]domain.Seat, e.TotalSeats)
	for i := range seats {
		seats[i] = domain.NewSeat(e.Seat(i + 1))
		if i%3 != 0 {
			seats[i] = domain.Seat{ID: e.Seat(i + 1), Status: domain.Reserved, Holder: "bob"}
		}
	}
	free := func(n int) bool { return seats[n-1].Status == domain.Available }
	b.ReportAllocs()
	for b.Loop() {
		if got, err := e.Best(free, domain.BestAvailable{Count: 4}); err != nil || len(got) != 4 {
			b.Fatal(got, err)
		}
	}
}
