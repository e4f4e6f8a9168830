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

// HoldPolicy is how long a hold lasts and how many live holds one user may
// have in one event.
type HoldPolicy struct {
	TTL      time.Duration
	MaxSeats int
}

// NewHoldPolicy validates a policy.
func NewHoldPolicy(ttl time.Duration, maxSeats int) (HoldPolicy, error) {
	if ttl < time.Millisecond || maxSeats < 1 {
		return HoldPolicy{}, ErrInvalidHoldPolicy
	}
	return HoldPolicy{TTL: ttl, MaxSeats: maxSeats}, nil
}

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

// Hold puts the seat on hold for user until now+TTL. userHolds is the number
// of live holds user has in the seat's event at now. Holding a seat the user
// already holds extends the hold and is not counted again, so retries are
// safe.
func (s Seat) Hold(user UserID, now time.Time, p HoldPolicy, userHolds int) (Seat, error) {
	s = s.At(now)
	switch s.Status {
	case Reserved:
		return s, ErrSeatReserved
	case OnHold:
		if s.Holder != user {
			return s, ErrSeatHeld
		}
	case Available:
		if userHolds >= p.MaxSeats {
			return s, ErrHoldLimit
		}
	}
	return s.held(user, now, p), nil
}

// Refresh extends user's live hold to now+TTL.
func (s Seat) Refresh(user UserID, now time.Time, p HoldPolicy) (Seat, error) {
	s = s.At(now)
	if s.Status != OnHold {
		return s, ErrNotOnHold
	}
	if s.Holder != user {
		return s, ErrNotHolder
	}
	return s.held(user, now, p), nil
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

func (s Seat) held(user UserID, now time.Time, p HoldPolicy) Seat {
	return Seat{ID: s.ID, Status: OnHold, Holder: user, HoldExpiresAt: now.Add(p.TTL)}
}
