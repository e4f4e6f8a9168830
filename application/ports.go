package application

import (
	"context"
	"errors"
	"time"

	"github.com/seatres/reservation/domain"
)

//go:generate go tool mockgen -source=ports.go -destination=mocks/store.go -package=mocks

// Store keeps events and seats and applies the seat rules of package domain
// atomically: each change method is one indivisible step, whatever the
// number of callers or service instances, and reads time from one clock
// shared by all instances. It returns the domain's errors for refusals and
// an error wrapping ErrUnavailable when it cannot answer.
//
// A change on several seats is all or nothing: a refusal changes nothing.
// The seat ids given to a change are distinct seats of the event e (the
// caller checks); a number past the event's seats is ErrSeatNotFound.
// Changes that take an Idem answer a repeated key as the first time (see
// Idem).
type Store interface {
	// Ping reports whether the store can serve requests now.
	Ping(ctx context.Context) error
	// CreateEvent stores a new event with all its seats available. The same
	// event again (a retry) succeeds and changes nothing; another event with
	// its id is ErrEventExists.
	CreateEvent(ctx context.Context, e domain.Event) error
	// CreateOwnedEvent is CreateEvent of an event that q.Owner (an API
	// key's name) owns; CreateEvent is it with the zero Quota, no owner.
	// The owner is kept with the event. While q.Owner has q.Max live
	// events (created and not deleted), another is ErrQuotaExceeded; q.Max
	// 0 is no cap, but the event is still counted, so that a cap set later
	// counts it. The same event again by the same owner is a retry and
	// succeeds, at the quota too; by another owner it is ErrEventExists.
	// Where the owner's count and the event cannot change in one step (a
	// Redis Cluster), a failure between the two may leave a place of the
	// owner taken by no event, never an event uncounted: a quota is
	// under-used, never exceeded.
	CreateOwnedEvent(ctx context.Context, e domain.Event, q Quota) error
	// DeleteEvent removes the event and all that is kept of it: its seats,
	// carts and Idempotency-Key answers. Afterwards it is not found, its
	// id may be created again (and answers no key of the event before),
	// and its owner has its place back. A delete of an event that is not
	// there is ErrEventNotFound, whether it never was or a delete removed
	// it: a client retrying a delete whose answer it lost reads that as
	// done, and a mistyped id is not taken for a success.
	DeleteEvent(ctx context.Context, id domain.EventID) error
	Event(ctx context.Context, id domain.EventID) (domain.Event, error)
	// AvailableSeats returns the event, the numbers of its seats that are
	// available now, in ascending order, and the Version of that list.
	AvailableSeats(ctx context.Context, id domain.EventID) (domain.Event, []int, domain.Version, error)
	// ListVersion returns the Version that AvailableSeats would answer
	// now, when the store can tell it without reading the seats; ok is
	// false when a hold may have expired without its record yet (the
	// caller reads the list then).
	ListVersion(ctx context.Context, id domain.EventID) (v domain.Version, ok bool, err error)
	// Summary counts the event's seats now.
	Summary(ctx context.Context, id domain.EventID) (domain.Summary, error)
	// Seat returns the seat as it is now (an expired hold shows as available).
	Seat(ctx context.Context, id domain.SeatID) (domain.Seat, error)

	// Hold applies domain.Hold to the seats ids for user, and answers the
	// seats in the order asked.
	Hold(ctx context.Context, e domain.EventID, ids []domain.SeatID, user domain.UserID, p domain.HoldPolicy, idem Idem) ([]domain.Seat, error)
	// HoldBest applies domain.HoldBest for user.
	HoldBest(ctx context.Context, e domain.EventID, b domain.BestAvailable, user domain.UserID, p domain.HoldPolicy, idem Idem) ([]domain.Seat, error)
	// Refresh applies domain.Refresh to the seats ids, or with no ids to
	// every live hold of user in the event (in ascending order).
	Refresh(ctx context.Context, e domain.EventID, ids []domain.SeatID, user domain.UserID, p domain.HoldPolicy, idem Idem) ([]domain.Seat, error)
	// Reserve applies domain.Reserve to the seats ids.
	Reserve(ctx context.Context, e domain.EventID, ids []domain.SeatID, user domain.UserID, idem Idem) ([]domain.Seat, error)
	// Release applies domain.Release to the seats ids, or with no ids to
	// every live hold of user in the event (in ascending order).
	Release(ctx context.Context, e domain.EventID, ids []domain.SeatID, user domain.UserID, idem Idem) ([]domain.Seat, error)

	// The record of changes. Every change above that changes seats
	// appends one domain.Record in the same atomic step, and so does the
	// end of holds at their expiry (see Expire); at most a retention
	// (RESERVATION_STREAM_MAX_LEN records) is kept, the oldest go first.

	// Snapshot returns the event, the numbers of its seats available as
	// recorded at position (ascending), and that position: the state the
	// records up to it make. A hold expired without its record yet is
	// still on hold there; its record comes after.
	Snapshot(ctx context.Context, id domain.EventID) (domain.Event, []int, domain.Position, error)
	// Changes returns at most limit records of the event after position
	// after, oldest first. A *TrimmedError when some record after it is
	// no longer kept, when after is of an earlier event of the id,
	// deleted since (domain.Position.Predates: Last is then the event's
	// birth), or when after is no position the event gave: neither the
	// zero position, its birth, a record kept nor the last one trimmed
	// (Last is then its last position). Such is a position made up, or a
	// record the store lost (a Redis restarted from an AOF behind its
	// last writes, a replica promoted before it had them), whose place
	// later records take: reading on from it would skip them. The reader
	// starts again from a Snapshot. An event with no record is at its
	// birth (domain.Born), never at the zero position.
	Changes(ctx context.Context, id domain.EventID, after domain.Position, limit int) ([]domain.Record, error)
	// Wait blocks until some of the events have records after their
	// positions, or for block at most, and returns those events (none
	// when block passed). One call serves many events (one per Cluster
	// slot in Redis), so that an instance follows each event once,
	// whatever the number of its subscribers.
	Wait(ctx context.Context, after map[domain.EventID]domain.Position, block time.Duration) ([]domain.EventID, error)
	// Expire ends the holds of the event that expired by now, recording
	// them (OpExpire), and answers when the next hold or cool-down of the
	// event may end (the zero Time: none is pending). Every change does
	// this first; a ticker calls it so that expiries are recorded even
	// while no change comes. The rules never depend on it: an expired
	// hold is available whether or not it was recorded.
	Expire(ctx context.Context, id domain.EventID) (next time.Time, err error)
}

// ErrTrimmed is Changes of a position whose next records are no longer
// kept: reading on from it would skip changes.
var ErrTrimmed = errors.New("the changes after this position are no longer kept; start again from a snapshot")

// TrimmedError is the ErrTrimmed of Changes: it names the last record no
// longer kept, or the position right before the oldest kept (Redis, which
// cannot tell the other), so that a page asked from the start
// (ChangesQuery.After "") goes on from there. It is the stores' contract (storetest's RunTrim), not the
// service's, so it lives with the port.
type TrimmedError struct {
	Last domain.Position
}

func (e *TrimmedError) Error() string { return ErrTrimmed.Error() }

// Is makes a TrimmedError an ErrTrimmed.
func (e *TrimmedError) Is(target error) bool { return target == ErrTrimmed }

// Idem makes a change safe to repeat after a lost answer. With a Key, the
// store keeps the change's first answer (its seats or its refusal, never an
// ErrUnavailable) with the event's data for at least TTL, in the same
// atomic step as the change; the same Key with the same Fingerprint gets
// that answer again and changes nothing, the same Key with another
// Fingerprint is domain.ErrIdempotencyKeyReused. The zero Idem keeps
// nothing.
type Idem struct {
	// Key is what the client sent, hashed (fixed length, any bytes safe in
	// a store's key).
	Key string
	// Fingerprint names the request the key was first used for.
	Fingerprint string
	TTL         time.Duration
}

// Quota is who owns a new event and how many live events they may have.
type Quota struct {
	// Owner is the API key's name; "" is no owner, never capped.
	Owner string
	// Max is the most live events of Owner; 0 is no cap.
	Max int
}

// ErrStoreFull is wrapped by the store errors of a change refused for lack
// of room (a Redis out of memory, the memory store's seat cap). Nothing
// changed, unlike an ErrUnavailable whose outcome is unknown; reads still
// work. It is no refusal of the rules: deleting events makes room.
var ErrStoreFull = errors.New("store full")

// ErrUnavailable is wrapped by every store error that is not a refusal of the
// rules: the store could not be reached or did not answer in time, and the
// outcome of a change may be unknown. Callers may retry, since transitions
// are idempotent for the same user.
var ErrUnavailable = errors.New("store unavailable")
