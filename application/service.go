// Package application holds the use cases of the reservation service and the
// ports they need. Use cases validate input with the domain's constructors and
// hand each change to the Store, which applies the domain's rules
// atomically.
package application

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/seatres/reservation/domain"
)

// Service is the set of use cases.
type Service struct {
	store  Store
	policy domain.HoldPolicy
	// maxEvents caps the live events of an owner; 0 is no cap.
	maxEvents int
	feed      *Feed         // nil: no stream
	expiries  ExpiryTracker // nil: none told of holds
}

// Option configures a Service.
type Option func(*Service)

// WithMaxEventsPerOwner caps the live events of each owner (API key) at n;
// 0, the default, is no cap. Anonymous creates are never capped.
func WithMaxEventsPerOwner(n int) Option {
	return func(s *Service) { s.maxEvents = max(n, 0) }
}

// WithFeed serves the streams of changes (Stream) from f.
func WithFeed(f *Feed) Option { return func(s *Service) { s.feed = f } }

// WithExpiryTracker tells t the expiry of every hold this service makes
// or refreshes (an Expirer, which records the expiries on time).
func WithExpiryTracker(t ExpiryTracker) Option { return func(s *Service) { s.expiries = t } }

// NewService returns the use cases over store with the given hold policy.
func NewService(store Store, policy domain.HoldPolicy, opts ...Option) *Service {
	s := &Service{store: store, policy: policy}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Policy is the hold policy the service applies.
func (s *Service) Policy() domain.HoldPolicy { return s.policy }

// Ready reports whether the service can serve requests: its store answers.
func (s *Service) Ready(ctx context.Context) error {
	if err := s.store.Ping(ctx); err != nil {
		return fmt.Errorf("ping store: %w", err)
	}
	return nil
}

// NewEvent is a request to create an event. SeatsPerRow 0 is one row.
// With an IdempotencyKey, the event's id is derived from the key and the
// Owner, so that a retry finds the event the first try made (the store
// takes the same event again as a retry) and another event under the key
// is domain.ErrIdempotencyKeyReused.
type NewEvent struct {
	Name           string
	TotalSeats     int
	SeatsPerRow    int
	IdempotencyKey string
	// Owner is the name of the API key that creates the event, "" for none:
	// its live events are capped (see WithMaxEventsPerOwner).
	Owner string
}

// eventKeySpace is the UUID namespace of events created under an
// Idempotency-Key.
var eventKeySpace = uuid.MustParse("6b1d4f5e-2c49-4f7e-9d0a-3e8c5b7a1f20")

// CreateEvent creates an event whose seats are all available.
func (s *Service) CreateEvent(ctx context.Context, r NewEvent) (domain.Event, error) {
	id := uuid.NewString()
	if r.IdempotencyKey != "" {
		// The key is the owner's: another API key's same key names another
		// event, so that no tenant can take or block the ids of another's
		// creates.
		key, err := hashKey(r.IdempotencyKey, r.Owner)
		if err != nil {
			return domain.Event{}, err
		}
		id = uuid.NewSHA1(eventKeySpace, []byte(key)).String()
	}
	e, err := domain.NewEvent(domain.EventID(id), r.Name, r.TotalSeats, r.SeatsPerRow)
	if err != nil {
		return domain.Event{}, err
	}
	if r.Owner == "" {
		err = s.store.CreateEvent(ctx, e)
	} else {
		err = s.store.CreateOwnedEvent(ctx, e, Quota{Owner: r.Owner, Max: s.maxEvents})
	}
	if r.IdempotencyKey != "" && errors.Is(err, domain.ErrEventExists) {
		err = domain.ErrIdempotencyKeyReused
	}
	if err != nil {
		return domain.Event{}, fmt.Errorf("create event: %w", err)
	}
	return e, nil
}

// Event returns an event by its id.
func (s *Service) Event(ctx context.Context, id string) (domain.Event, error) {
	eid, err := domain.ParseEventID(id)
	if err != nil {
		return domain.Event{}, err
	}
	e, err := s.store.Event(ctx, eid)
	if err != nil {
		return domain.Event{}, fmt.Errorf("get event %s: %w", id, err)
	}
	return e, nil
}

// DeleteEvent removes an event and everything kept of it, giving its
// owner's place back. An event that is not there, never created or
// already deleted, is domain.ErrEventNotFound (see Store.DeleteEvent).
func (s *Service) DeleteEvent(ctx context.Context, id string) error {
	eid, err := domain.ParseEventID(id)
	if err != nil {
		return err
	}
	if err := s.store.DeleteEvent(ctx, eid); err != nil {
		return fmt.Errorf("delete event %s: %w", id, err)
	}
	return nil
}

// AvailableSeats returns an event, the numbers of its seats available now
// and the Version of that list.
func (s *Service) AvailableSeats(ctx context.Context, eventID string) (domain.Event, []int, domain.Version, error) {
	eid, err := domain.ParseEventID(eventID)
	if err != nil {
		return domain.Event{}, nil, domain.Version{}, err
	}
	e, seats, v, err := s.store.AvailableSeats(ctx, eid)
	if err != nil {
		return domain.Event{}, nil, domain.Version{}, fmt.Errorf("list seats of %s: %w", eventID, err)
	}
	return e, seats, v, nil
}

// ListVersion returns the Version that AvailableSeats would answer now,
// when the store can tell it without reading the seats (see
// Store.ListVersion); ok false: read the list.
func (s *Service) ListVersion(ctx context.Context, eventID string) (domain.Version, bool, error) {
	eid, err := domain.ParseEventID(eventID)
	if err != nil {
		return domain.Version{}, false, err
	}
	v, ok, err := s.store.ListVersion(ctx, eid)
	if err != nil {
		return domain.Version{}, false, fmt.Errorf("list version of %s: %w", eventID, err)
	}
	return v, ok, nil
}

// ErrNoStream is Stream of a service without a Feed.
var ErrNoStream = errors.New("this service has no stream of changes")

// Stream subscribes to the changes of an event: after "" starts with a
// snapshot, a position (domain.ParsePosition) with the changes after it.
// The caller closes the subscription.
func (s *Service) Stream(ctx context.Context, eventID, after string) (*Subscription, error) {
	eid, err := domain.ParseEventID(eventID)
	if err != nil {
		return nil, err
	}
	var from *domain.Position
	if after != "" {
		p, err := domain.ParsePosition(after)
		if err != nil {
			return nil, err
		}
		from = &p
	}
	if s.feed == nil {
		return nil, ErrNoStream
	}
	sub, err := s.feed.Subscribe(ctx, eid, from)
	if err != nil {
		return nil, fmt.Errorf("stream of %s: %w", eventID, err)
	}
	return sub, nil
}

// The pages of the history (Changes).
const (
	// MaxChangesLimit is the most changes of a page.
	MaxChangesLimit = 1000
	// maxSeatScan bounds the records a page of one seat's changes reads:
	// the page answers what it found there, and where it stopped.
	maxSeatScan = 10_000
)

// ErrInvalidLimit is a page size out of 1..MaxChangesLimit.
var ErrInvalidLimit = fmt.Errorf("limit must be an integer from 1 to %d", MaxChangesLimit)

// ChangesQuery asks for a page of an event's history.
type ChangesQuery struct {
	Event string
	// After is the position the page starts after; "" is from the oldest
	// change kept.
	After string
	// Limit is the most changes (seats) of the page, 1..MaxChangesLimit.
	Limit int
	// Seat, when not "", keeps that seat's changes only.
	Seat string
}

// ChangesPage is a page of an event's history: its records, oldest first,
// each whole (with Seat, only that seat of each), and the position to ask
// the next page after.
type ChangesPage struct {
	Records []domain.Record
	Next    domain.Position
}

// Changes answers a page of the history of an event. A page of Limit
// changes never splits a record: one that does not fit goes to the next
// page, unless it is the page's first. A position no longer kept (the
// store keeps the last records only) is ErrTrimmed.
func (s *Service) Changes(ctx context.Context, q ChangesQuery) (ChangesPage, error) {
	eid, err := domain.ParseEventID(q.Event)
	if err != nil {
		return ChangesPage{}, err
	}
	var after domain.Position
	if q.After != "" {
		if after, err = domain.ParsePosition(q.After); err != nil {
			return ChangesPage{}, err
		}
	}
	if q.Limit < 1 || q.Limit > MaxChangesLimit {
		return ChangesPage{}, ErrInvalidLimit
	}
	page, err := s.changesAfter(ctx, eid, after, q)
	var trimmed *TrimmedError
	if q.After == "" && errors.As(err, &trimmed) {
		page, err = s.changesAfter(ctx, eid, trimmed.Last, q)
	}
	if err != nil {
		return ChangesPage{}, fmt.Errorf("changes of %s after %s: %w", q.Event, after, err)
	}
	return page, nil
}

func (s *Service) changesAfter(ctx context.Context, e domain.EventID, after domain.Position, q ChangesQuery) (ChangesPage, error) {
	if q.Seat == "" {
		return s.changes(ctx, e, after, q.Limit)
	}
	return s.seatChanges(ctx, e, after, q)
}

func (s *Service) changes(ctx context.Context, e domain.EventID, after domain.Position, limit int) (ChangesPage, error) {
	// Each record has a seat at least: limit records hold limit changes.
	records, err := s.store.Changes(ctx, e, after, limit)
	if err != nil {
		return ChangesPage{}, err
	}
	page := ChangesPage{Next: after}
	n := 0
	for i, r := range records {
		if i > 0 && n+len(r.Seats) > limit {
			break
		}
		n += len(r.Seats)
		page.Records, page.Next = records[:i+1], r.Position
	}
	return page, nil
}

// seatChanges reads at most maxSeatScan records for the page of one
// seat's changes.
func (s *Service) seatChanges(ctx context.Context, e domain.EventID, after domain.Position, q ChangesQuery) (ChangesPage, error) {
	seat, err := domain.ParseSeatID(q.Seat)
	if errors.Is(err, domain.ErrSeatNotFound) {
		// A path's malformed id names no seat (404); a query's is a
		// mistake in the query.
		err = fmt.Errorf("seat %q: %w", q.Seat, domain.ErrInvalidSeatID)
	}
	if err != nil {
		return ChangesPage{}, err
	}
	if seat.Event != e {
		return ChangesPage{}, &domain.SeatsError{Err: domain.ErrSeatNotFound, Seats: []domain.SeatID{seat}}
	}
	page := ChangesPage{Next: after}
	for scanned := 0; scanned < maxSeatScan; {
		want := min(readRecords, maxSeatScan-scanned)
		records, err := s.store.Changes(ctx, e, page.Next, want)
		if err != nil {
			return ChangesPage{}, err
		}
		for _, r := range records {
			page.Next = r.Position
			for _, st := range r.Seats {
				if st.ID == seat {
					page.Records = append(page.Records, domain.Record{Position: r.Position, Op: r.Op, At: r.At, Seats: []domain.Seat{st}})
				}
			}
			if len(page.Records) >= q.Limit {
				return page, nil
			}
		}
		if len(records) < want {
			break // the last record kept
		}
		scanned += len(records)
	}
	return page, nil
}

// Summary counts an event's seats now.
func (s *Service) Summary(ctx context.Context, eventID string) (domain.Summary, error) {
	eid, err := domain.ParseEventID(eventID)
	if err != nil {
		return domain.Summary{}, err
	}
	sum, err := s.store.Summary(ctx, eid)
	if err != nil {
		return domain.Summary{}, fmt.Errorf("summary of %s: %w", eventID, err)
	}
	return sum, nil
}

// Seat returns a seat as it is now.
func (s *Service) Seat(ctx context.Context, id string) (domain.Seat, error) {
	sid, err := domain.ParseSeatID(id)
	if err != nil {
		return domain.Seat{}, err
	}
	seat, err := s.store.Seat(ctx, sid)
	if err != nil {
		return domain.Seat{}, fmt.Errorf("get seat %s: %w", id, err)
	}
	return seat, nil
}

// Hold puts one seat on hold for a user (the original API's call).
func (s *Service) Hold(ctx context.Context, seatID, user string) (domain.Seat, error) {
	return s.oneSeat("hold", seatID, user, func(e domain.EventID, ids []domain.SeatID, u domain.UserID) ([]domain.Seat, error) {
		return s.tracked(e)(s.store.Hold(ctx, e, ids, u, s.policy, Idem{}))
	})
}

// Refresh extends a user's live hold on one seat.
func (s *Service) Refresh(ctx context.Context, seatID, user string) (domain.Seat, error) {
	return s.oneSeat("refresh", seatID, user, func(e domain.EventID, ids []domain.SeatID, u domain.UserID) ([]domain.Seat, error) {
		return s.tracked(e)(s.store.Refresh(ctx, e, ids, u, s.policy, Idem{}))
	})
}

// Reserve turns a user's live hold on one seat into a reservation.
func (s *Service) Reserve(ctx context.Context, seatID, user string) (domain.Seat, error) {
	return s.oneSeat("reserve", seatID, user, func(e domain.EventID, ids []domain.SeatID, u domain.UserID) ([]domain.Seat, error) {
		return s.store.Reserve(ctx, e, ids, u, Idem{})
	})
}

// oneSeat validates the seat id and user, then applies one change to that
// seat alone. Its refusals are the bare ones of the original API, without
// the seats a cart's refusals name.
func (s *Service) oneSeat(op, seatID, user string, apply func(domain.EventID, []domain.SeatID, domain.UserID) ([]domain.Seat, error)) (domain.Seat, error) {
	sid, err := domain.ParseSeatID(seatID)
	if err != nil {
		return domain.Seat{}, err
	}
	u, err := domain.NewUserID(user)
	if err != nil {
		return domain.Seat{}, err
	}
	seats, err := apply(sid.Event, []domain.SeatID{sid}, u)
	if se := (*domain.SeatsError)(nil); errors.As(err, &se) {
		err = se.Err
	}
	if errors.Is(err, domain.ErrEventNotFound) {
		err = domain.ErrSeatNotFound // the original API has no event in these calls
	}
	if err != nil {
		return domain.Seat{}, fmt.Errorf("%s seat %s: %w", op, seatID, err)
	}
	if len(seats) != 1 {
		return domain.Seat{}, fmt.Errorf("%s seat %s: store answered %d seats: %w", op, seatID, len(seats), ErrUnavailable)
	}
	return seats[0], nil
}

// CartRequest is a change of a buyer's cart in one event. IDs nil means
// none were given (Release and Refresh then act on every live hold of the
// buyer); Best is for HoldSeats only, instead of IDs.
type CartRequest struct {
	Event          string
	User           string
	IDs            []string
	Best           *domain.BestAvailable
	IdempotencyKey string
}

// cart is a validated CartRequest.
type cart struct {
	event domain.EventID
	user  domain.UserID
	ids   []domain.SeatID
	idem  Idem
}

// HoldSeats holds the seats r.IDs, or with r.Best the seats the server
// picks, for r.User, all or nothing.
func (s *Service) HoldSeats(ctx context.Context, r CartRequest) ([]domain.Seat, error) {
	if r.Best != nil {
		if r.IDs != nil {
			return nil, domain.ErrInvalidSeatIDs
		}
		if r.Best.Count < 1 || r.Best.Count > s.policy.MaxSeats {
			return nil, domain.ErrInvalidCount
		}
	}
	c, err := s.cart("hold", r, r.Best == nil)
	if err != nil {
		return nil, err
	}
	var seats []domain.Seat
	if r.Best != nil {
		seats, err = s.store.HoldBest(ctx, c.event, *r.Best, c.user, s.policy, c.idem)
	} else {
		seats, err = s.store.Hold(ctx, c.event, c.ids, c.user, s.policy, c.idem)
	}
	seats, err = s.tracked(c.event)(seats, err)
	return wrapCart("hold", r, seats, err)
}

// RefreshCart extends every live hold of r.User in r.Event.
func (s *Service) RefreshCart(ctx context.Context, r CartRequest) ([]domain.Seat, error) {
	c, err := s.cart("refresh", r, false)
	if err != nil {
		return nil, err
	}
	seats, err := s.tracked(c.event)(s.store.Refresh(ctx, c.event, nil, c.user, s.policy, c.idem))
	return wrapCart("refresh", r, seats, err)
}

// ReserveSeats turns r.User's live holds on r.IDs into reservations, all or
// nothing.
func (s *Service) ReserveSeats(ctx context.Context, r CartRequest) ([]domain.Seat, error) {
	c, err := s.cart("reserve", r, true)
	if err != nil {
		return nil, err
	}
	seats, err := s.store.Reserve(ctx, c.event, c.ids, c.user, c.idem)
	return wrapCart("reserve", r, seats, err)
}

// Release gives back r.User's live holds on r.IDs, or all of them in the
// event when r.IDs is nil.
func (s *Service) Release(ctx context.Context, r CartRequest) ([]domain.Seat, error) {
	c, err := s.cart("release", r, r.IDs != nil)
	if err != nil {
		return nil, err
	}
	seats, err := s.store.Release(ctx, c.event, c.ids, c.user, c.idem)
	return wrapCart("release", r, seats, err)
}

// tracked returns a pass-through of a hold's or refresh's answer that
// tells the expiry tracker, if any, when the earliest of its holds ends.
func (s *Service) tracked(e domain.EventID) func([]domain.Seat, error) ([]domain.Seat, error) {
	return func(seats []domain.Seat, err error) ([]domain.Seat, error) {
		if err == nil && s.expiries != nil {
			if at, ok := earliestHold(seats); ok {
				s.expiries.Track(e, at)
			}
		}
		return seats, err
	}
}

func wrapCart(op string, r CartRequest, seats []domain.Seat, err error) ([]domain.Seat, error) {
	if err != nil {
		return nil, fmt.Errorf("%s seats of %s in %s: %w", op, r.User, r.Event, err)
	}
	return seats, nil
}

// cart validates r for op; withIDs says r.IDs must be 1 to MaxSeats
// distinct seat ids of the event.
func (s *Service) cart(op string, r CartRequest, withIDs bool) (cart, error) {
	e, err := domain.ParseEventID(r.Event)
	if err != nil {
		return cart{}, err
	}
	u, err := domain.NewUserID(r.User)
	if err != nil {
		return cart{}, err
	}
	c := cart{event: e, user: u}
	if withIDs {
		if c.ids, err = s.seatIDs(e, r.IDs); err != nil {
			return cart{}, err
		}
	}
	if r.IdempotencyKey != "" {
		// The key is the buyer's: another UUID's same key is another key,
		// so that no buyer can take, or refuse with 422, another's retry.
		key, err := hashKey(r.IdempotencyKey, string(u))
		if err != nil {
			return cart{}, err
		}
		c.idem = Idem{Key: key, Fingerprint: fingerprint(op, c, r.Best), TTL: s.idemTTL()}
	}
	return c, nil
}

// seatIDs parses 1 to MaxSeats distinct ids of seats of event e. The ids
// that name no seat of e (another event's, or no seat id at all) are
// refused together, named as asked (UnknownSeatsError).
func (s *Service) seatIDs(e domain.EventID, ids []string) ([]domain.SeatID, error) {
	if len(ids) == 0 || len(ids) > s.policy.MaxSeats {
		return nil, domain.ErrInvalidSeatIDs
	}
	out := make([]domain.SeatID, len(ids))
	seen := make(map[int]bool, len(ids))
	var unknown []string
	for i, text := range ids {
		id, err := domain.ParseSeatID(text)
		if errors.Is(err, domain.ErrInvalidSeatID) {
			return nil, domain.ErrInvalidSeatIDs
		}
		if err != nil || id.Event != e {
			unknown = append(unknown, text)
			continue // refused below; its number, if any, is not one of e's
		}
		if seen[id.Number] {
			return nil, fmt.Errorf("seat %s twice: %w", text, domain.ErrInvalidSeatIDs)
		}
		seen[id.Number] = true
		out[i] = id
	}
	if unknown != nil {
		return nil, &UnknownSeatsError{IDs: unknown}
	}
	return out, nil
}

// UnknownSeatsError refuses a cart some of whose ids name no seat of its
// event: a seat of another event, or a text that is no seat id at all.
// IDs are those ids as the request gave them, in its order, so that a
// client learns which of its ids to mend; a domain.SeatsError names the
// seats past the event's instead, which only the store knows.
type UnknownSeatsError struct {
	IDs []string
}

func (e *UnknownSeatsError) Error() string {
	return domain.ErrSeatNotFound.Error() + ": " + strings.Join(e.IDs, ", ")
}

func (e *UnknownSeatsError) Unwrap() error { return domain.ErrSeatNotFound }

// idemTTL is how long an Idempotency-Key's answer is kept: as long as the
// longest a cart may live, so that every retry a buyer can still need finds
// it; a day when there is no cap.
func (s *Service) idemTTL() time.Duration {
	if s.policy.MaxLifetime > 0 {
		return max(s.policy.MaxLifetime, s.policy.TTL)
	}
	return 24 * time.Hour
}

// hashKey checks a client's Idempotency-Key and hashes it with whose key
// it is (scope), so that stores get a fixed-length name whatever the
// client sent, one per scope. A key holds no NUL, so key and scope read
// one way. With no scope (a create without an owner) the hash is of the
// key alone, as it was before keys had scopes: such a create retried
// across that upgrade still finds its event.
func hashKey(key, scope string) (string, error) {
	if len(key) > 255 {
		return "", domain.ErrInvalidIdemKey
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] > 0x7e {
			return "", domain.ErrInvalidIdemKey
		}
	}
	h := sha256.New()
	h.Write([]byte(key))
	if scope != "" {
		h.Write([]byte{0})
		h.Write([]byte(scope))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// fingerprint names a validated request: the same request sent again has
// the same fingerprint, whatever the spacing or order of its JSON.
func fingerprint(op string, c cart, best *domain.BestAvailable) string {
	var b strings.Builder
	b.WriteString(op)
	b.WriteByte(0)
	b.WriteString(string(c.user))
	for _, id := range c.ids {
		b.WriteByte(0)
		b.WriteString(strconv.Itoa(id.Number))
	}
	if best != nil {
		fmt.Fprintf(&b, "\x00best %d %t", best.Count, best.Adjacent)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:16])
}
