package domain

import (
	"fmt"
	"strings"
	"time"
)

// Refusal is one reason the rules refuse a request. Its code is the name
// every adapter knows it by: the API's error code, the Redis scripts' Lua
// name, the metrics' result label. Refusals are compared by identity
// (errors.Is), never by text.
type Refusal struct {
	code string
	msg  string
}

func (r *Refusal) Error() string { return r.msg }

// Code is the refusal's name in the API, e.g. "SEAT_HELD".
func (r *Refusal) Code() string { return r.code }

func refusal(code, msg string) *Refusal {
	r := &Refusal{code: code, msg: msg}
	refusals = append(refusals, r)
	return r
}

// refusals lists every refusal in the order declared below.
var refusals []*Refusal

// Refusals returns every refusal of the rules, in a fixed order. Adapters
// build their tables from it (or test theirs against it), so that a new
// refusal cannot be forgotten by one of them.
func Refusals() []*Refusal { return append([]*Refusal(nil), refusals...) }

// Refusals of the seat rules. Two refusals may share a code when the API
// answers them alike but with another status (HOLD_LIFETIME_REACHED).
var (
	ErrEventNotFound = refusal("EVENT_NOT_FOUND", "event not found")
	ErrSeatNotFound  = refusal("SEAT_NOT_FOUND", "seat not found")
	ErrEventExists   = refusal("EVENT_EXISTS", "event already exists")

	// Hold refusals.
	ErrSeatHeld     = refusal("SEAT_HELD", "seat is on hold for another UUID")
	ErrSeatReserved = refusal("SEAT_RESERVED", "seat is already reserved")
	ErrHoldLimit    = refusal("HOLD_LIMIT_REACHED", "UUID already holds the maximum number of seats in this event")
	// ErrCoolDown refuses any hold of a buyer whose last cart in the event
	// reached the hold-lifetime cap, for one TTL after it (see Cart).
	ErrCoolDown       = refusal("HOLD_LIFETIME_REACHED", "UUID kept its holds in this event for the longest a cart may live; it may hold again after a hold TTL")
	ErrNotEnoughSeats = refusal("NOT_ENOUGH_SEATS", "not enough available seats for the request")

	// Refresh refusals.
	ErrNotHolder = refusal("NOT_HOLDER", "seat is on hold for another UUID")
	ErrNotOnHold = refusal("NOT_ON_HOLD", "seat is not on hold (available, expired or reserved)")
	// ErrHoldLifetime refuses a refresh when every hold it would extend
	// already lasts until its cart's cap.
	ErrHoldLifetime = refusal("HOLD_LIFETIME_REACHED", "hold already lasts until the end of its cart's lifetime and cannot be extended")

	// Reserve refusal: only a live hold of the same UUID turns into a reservation.
	ErrNoLiveHold = refusal("NO_LIVE_HOLD", "UUID holds no live hold on this seat")

	// ErrIdempotencyKeyReused: an Idempotency-Key already answered another request.
	ErrIdempotencyKeyReused = refusal("IDEMPOTENCY_KEY_REUSED", "Idempotency-Key was already used with another request")

	// ErrQuotaExceeded: the API key has as many live events as it may; a
	// delete of one of them frees a place.
	ErrQuotaExceeded = refusal("QUOTA_EXCEEDED", "the API key has as many live events as it may have; delete one to create another")

	// Invalid input.
	ErrInvalidName        = refusal("INVALID_NAME", "name must be 1 to 200 printable characters")
	ErrInvalidTotalSeats  = refusal("INVALID_TOTAL_SEATS", "totalSeats must be an integer from 10 to 10000")
	ErrInvalidSeatsPerRow = refusal("INVALID_SEATS_PER_ROW", "seatsPerRow must be an integer from 1 to totalSeats")
	ErrInvalidUser        = refusal("INVALID_UUID", "UUID must be 1 to 128 printable characters")
	ErrInvalidSeatID      = refusal("INVALID_SEAT_ID", "a seat id is required, as <eventId>.<seat number> (the id the API gives)")
	ErrInvalidSeatIDs     = refusal("INVALID_SEAT_IDS", "ids must be 1 to the hold limit of distinct seat ids")
	ErrInvalidCount       = refusal("INVALID_SEAT_COUNT", "bestAvailable.count must be an integer from 1 to the hold limit")
	ErrInvalidIdemKey     = refusal("INVALID_IDEMPOTENCY_KEY", "Idempotency-Key must be 1 to 255 printable ASCII characters")
	// ErrInvalidPosition: a position that is not <ms>-<seq> (ParsePosition).
	ErrInvalidPosition = refusal("INVALID_POSITION", "a position is <milliseconds>-<sequence>, two decimal integers without leading zeros, as a change's id gives it")
)

// SeatsError is a refusal of a request on several seats that names the
// seats that caused it, in the order they were asked.
type SeatsError struct {
	Err   *Refusal
	Seats []SeatID
}

func (e *SeatsError) Error() string {
	ids := make([]string, len(e.Seats))
	for i, id := range e.Seats {
		ids[i] = id.String()
	}
	return fmt.Sprintf("%s: %s", e.Err.msg, strings.Join(ids, ", "))
}

func (e *SeatsError) Unwrap() error { return e.Err }

// CoolDownError is ErrCoolDown with the time left until the buyer may hold
// again.
type CoolDownError struct {
	RetryAfter time.Duration
}

func (e *CoolDownError) Error() string {
	return fmt.Sprintf("%s (in %v)", ErrCoolDown.msg, e.RetryAfter)
}

func (e *CoolDownError) Unwrap() error { return ErrCoolDown }
