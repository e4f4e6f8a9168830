package domain_test

import (
	"testing"

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
		if _, err := domain.NewEvent(eventID, "Spring concert", domain.MaxTotalSeats); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSeatRules: a hold, its refresh and its reservation, each
// checking expiry first.
func BenchmarkSeatRules(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		s, err := available().Hold("alice", t0, policy, 0)
		if err == nil {
			s, err = s.Refresh("alice", t0, policy)
		}
		if err == nil {
			s, err = s.Reserve("alice", t0)
		}
		if err != nil || s.Status != domain.Reserved {
			b.Fatal(s, err)
		}
	}
}
