package domain

import "errors"

// Refusals of the seat rules. Each names one reason a request cannot be
// granted, so adapters map them to status codes in one table.
var (
	ErrEventNotFound = errors.New("event not found")
	ErrSeatNotFound  = errors.New("seat not found")
	ErrEventExists   = errors.New("event already exists")

	// Hold refusals.
	ErrSeatHeld     = errors.New("seat is on hold for another UUID")
	ErrSeatReserved = errors.New("seat is already reserved")
	ErrHoldLimit    = errors.New("UUID already holds the maximum number of seats in this event")

	// Refresh refusals.
	ErrNotHolder = errors.New("seat is on hold for another UUID")
	ErrNotOnHold = errors.New("seat is not on hold (available, expired or reserved)")

	// Reserve refusal: only a live hold of the same UUID turns into a reservation.
	ErrNoLiveHold = errors.New("UUID holds no live hold on this seat")

	// Invalid input.
	ErrInvalidName       = errors.New("name must be 1 to 200 printable characters")
	ErrInvalidTotalSeats = errors.New("totalSeats must be an integer from 10 to 10000")
	ErrInvalidUser       = errors.New("UUID must be 1 to 128 printable characters")
	ErrInvalidSeatID     = errors.New("seat id is required")
	ErrInvalidHoldPolicy = errors.New("hold TTL must be at least 1ms and max seats at least 1")
)
