package domain

import "time"

// Status is the state of a seat as clients see it.
type Status uint8

const (
	Available Status = iota
	OnHold
	Reserved
)

var statusNames = [...]string{Available: "Available", OnHold: "On hold", Reserved: "Reserved"}

func (s Status) String() string { return statusNames[s] }

// Seat is one seat and who has it. Holder is the user of a hold or a
// reservation, empty when the seat is available; HoldExpiresAt is set only
// while the seat is on hold.
//
// A Seat as stored may carry a hold that has since expired: At gives the
// seat as it is at a given moment, and every rule below applies At first, so
// expiry needs no background job.
type Seat struct {
	ID            SeatID
	Status        Status
	Holder        UserID
	HoldExpiresAt time.Time
}

// NewSeat is a fresh, available seat.
func NewSeat(id SeatID) Seat { return Seat{ID: id} }

// At returns the seat as it is at now: a hold is live while now is before its
// expiry, and an expired hold leaves the seat available.
func (s Seat) At(now time.Time) Seat {
	if s.Status == OnHold && !now.Before(s.HoldExpiresAt) {
		return NewSeat(s.ID)
	}
	return s
}

// HeldBy reports whether user has a live hold on the seat at now.
func (s Seat) HeldBy(user UserID, now time.Time) bool {
	s = s.At(now)
	return s.Status == OnHold && s.Holder == user
}

// Reserve turns user's live hold into a reservation for good. Reserving a
// seat the user already reserved succeeds unchanged, so retries are safe.
func (s Seat) Reserve(user UserID, now time.Time) (Seat, error) {
	s = s.At(now)
	if s.Status == Reserved && s.Holder == user {
		return s, nil
	}
	if s.Status != OnHold || s.Holder != user {
		return s, ErrNoLiveHold
	}
	return Seat{ID: s.ID, Status: Reserved, Holder: user}, nil
}
