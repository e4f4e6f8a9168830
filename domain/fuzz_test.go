package domain_test

import (
	"errors"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/seatres/reservation/domain"
)

// Any text either names a seat in its one canonical form or names none.
func FuzzParseSeatID(f *testing.F) {
	for _, s := range []string{eventID + ".1", eventID + ".10000", eventID + ".01", "{x}.1", "", "*", eventID + ".1\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := domain.ParseSeatID(s)
		if err != nil {
			if !errors.Is(err, domain.ErrSeatNotFound) && !errors.Is(err, domain.ErrInvalidSeatID) {
				t.Fatalf("ParseSeatID(%q): unexpected error %v", s, err)
			}
			return
		}
		if id.String() != s || id.Number < 1 || id.Number > domain.MaxTotalSeats {
			t.Fatalf("ParseSeatID(%q) = %+v, which prints as %q", s, id, id)
		}
	})
}

func FuzzNewUserID(f *testing.F) {
	for _, s := range []string{"alice", "", " ", "a\nb", "{tag}", "\xff", "ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := domain.NewUserID(s); err == nil && (!utf8.ValidString(s) || utf8.RuneCountInString(s) > domain.MaxUserLength) {
			t.Fatalf("NewUserID accepted %q", s)
		}
	})
}

// FuzzSeatRules drives one seat through any sequence of holds, refreshes,
// reserves and clock ticks by three users, and checks the guarantees that
// must hold whatever the sequence: a live hold is never taken by another
// user, a reservation is final, and only the holder of a live hold reserves.
func FuzzSeatRules(f *testing.F) {
	f.Add([]byte{0x00, 0x21, 0x42, 0x13, 0x04, 0x25})
	f.Add([]byte{0x00, 0x03, 0x03, 0x03, 0x11, 0x02, 0x10})
	f.Fuzz(func(t *testing.T, ops []byte) {
		users := []domain.UserID{"alice", "bob", "carol"}
		now := t0
		seat := domain.NewSeat(seatID)
		for _, op := range ops {
			user := users[int(op>>4)%len(users)]
			before := seat.At(now)
			var (
				next domain.Seat
				err  error
			)
			switch op & 0x3 {
			case 0:
				next, err = seat.Hold(user, now, policy, int(op>>6))
			case 1:
				next, err = seat.Refresh(user, now, policy)
			case 2:
				next, err = seat.Reserve(user, now)
			case 3:
				now = now.Add(time.Duration(op>>2) * time.Second)
				continue
			}
			if err != nil {
				continue
			}
			switch {
			case before.Status == domain.Reserved && next != before:
				t.Fatalf("reservation %+v changed to %+v", before, next)
			case before.Status == domain.OnHold && next.Holder != before.Holder:
				t.Fatalf("live hold %+v taken by %s", before, next.Holder)
			case next.Status == domain.Reserved && before.Status == domain.Available:
				t.Fatalf("%s reserved %+v without a hold", user, before)
			case next.Holder != user:
				t.Fatalf("%s's request gave the seat to %s", user, next.Holder)
			}
			seat = next
		}
	})
}
