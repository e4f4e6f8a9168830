package application

import (
	"context"
	"errors"

	"github.com/seatres/reservation/domain"
)

//go:generate go tool mockgen -source=ports.go -destination=mocks/store.go -package=mocks

// Store keeps events and seats and applies the seat rules of package domain
// atomically: each transition method is one indivisible step, whatever the
// number of callers or service instances, and reads time from one clock
// shared by all instances. It returns the domain's errors for refusals and
// an error wrapping ErrUnavailable when it cannot answer.
type Store interface {
	// Ping reports whether the store can serve requests now.
	Ping(ctx context.Context) error
	// CreateEvent stores a new event with all its seats available. The same
	// event again (a retry) succeeds and changes nothing; another event with
	// its id is ErrEventExists.
	CreateEvent(ctx context.Context, e domain.Event) error
	Event(ctx context.Context, id domain.EventID) (domain.Event, error)
	// AvailableSeats returns the event and the numbers of its seats that are
	// available now, in ascending order.
	AvailableSeats(ctx context.Context, id domain.EventID) (domain.Event, []int, error)
	// Seat returns the seat as it is now (an expired hold shows as available).
	Seat(ctx context.Context, id domain.SeatID) (domain.Seat, error)
	Hold(ctx context.Context, id domain.SeatID, user domain.UserID, p domain.HoldPolicy) (domain.Seat, error)
	Refresh(ctx context.Context, id domain.SeatID, user domain.UserID, p domain.HoldPolicy) (domain.Seat, error)
	Reserve(ctx context.Context, id domain.SeatID, user domain.UserID) (domain.Seat, error)
}

// ErrUnavailable is wrapped by every store error that is not a refusal of the
// rules: the store could not be reached or did not answer in time, and the
// outcome of a change may be unknown. Callers may retry, since transitions
// are idempotent for the same user.
var ErrUnavailable = errors.New("store unavailable")
