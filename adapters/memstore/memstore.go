// Package memstore is the embedded, in-memory Store: the default for
// `make run` and for fast tests. It obeys the same contract as the Redis
// store (the storetest suite binds them), but its state lives and dies with
// the process, so it is for one instance only.
package memstore

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

var _ application.Store = (*Store)(nil)

// Store keeps events in a map. Each change reads the seats, applies the
// domain's rule and writes the result under the event's lock, so it is
// atomic like a Redis script.
type Store struct {
	now func() time.Time
	// maxSeats caps the seats of all events together; 0 is no cap.
	maxSeats int
	// maxLen is how many records of changes each event keeps.
	maxLen int

	mu     sync.RWMutex
	events map[domain.EventID]*event
	seats  int            // of all events
	owned  map[string]int // owner -> live events
}

type event struct {
	mu    sync.Mutex
	info  domain.Event
	owner string
	seats []domain.Seat // seat n at index n-1
	carts map[domain.UserID]*cart
	idem  map[string]answer
	// sweepAt is the size of carts plus idem at which the next change
	// drops what has expired: twice what was left by the last sweep, so
	// that sweeping costs each change O(1) on average.
	sweepAt int
	maxLen  int // the store's
	changes changes
}

// cart is a buyer's cart and the seats they may hold; a seat whose hold has
// expired or moved on is dropped when counted.
type cart struct {
	domain.Cart
	seats map[int]struct{}
	// keep is when the cart stops mattering, if it has no live hold then:
	// its last expiry, or the end of its cool-down.
	keep time.Time
}

// answer is a change's first answer under an Idempotency-Key.
type answer struct {
	fingerprint string
	seats       []domain.Seat
	err         error
	expires     time.Time
}

const minSweep = 64

// Option configures a Store.
type Option func(*Store)

// WithMaxSeats caps the seats of all the store's events together at n, so
// that creates cannot take the process's memory (about 70 bytes a seat):
// a create past it is application.ErrStoreFull, and deletes make room. 0,
// the default, is no cap.
func WithMaxSeats(n int) Option {
	return func(s *Store) { s.maxSeats = max(n, 0) }
}

// New returns an empty store that reads time from now.
func New(now func() time.Time, opts ...Option) *Store {
	s := &Store{now: now, maxLen: DefaultStreamMaxLen, events: make(map[domain.EventID]*event), owned: make(map[string]int)}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Ping implements application.Store: memory is always there.
func (s *Store) Ping(context.Context) error { return nil }

// CreateEvent implements application.Store.
func (s *Store) CreateEvent(ctx context.Context, e domain.Event) error {
	return s.CreateOwnedEvent(ctx, e, application.Quota{})
}

// CreateOwnedEvent implements application.Store. The seats are made
// before the store's lock is taken, and dropped if the event is refused.
func (s *Store) CreateOwnedEvent(_ context.Context, e domain.Event, q application.Quota) error {
	seats := make([]domain.Seat, e.TotalSeats)
	for i := range seats {
		seats[i] = domain.NewSeat(e.Seat(i + 1))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.events[e.ID]; ok {
		if old.info == e && old.owner == q.Owner {
			return nil // the same event again: a retry
		}
		return domain.ErrEventExists
	}
	if q.Owner != "" && q.Max > 0 && s.owned[q.Owner] >= q.Max {
		return domain.ErrQuotaExceeded
	}
	if s.maxSeats > 0 && s.seats+e.TotalSeats > s.maxSeats {
		return fmt.Errorf("memstore: %d seats kept, %d more would pass the cap of %d: %w", s.seats, e.TotalSeats, s.maxSeats, application.ErrStoreFull)
	}
	ev := &event{info: e, owner: q.Owner, seats: seats, carts: make(map[domain.UserID]*cart), idem: make(map[string]answer), sweepAt: minSweep, maxLen: s.maxLen}
	ev.changes.born = domain.Born(s.now())
	ev.changes.last = ev.changes.born
	s.events[e.ID] = ev
	s.seats += e.TotalSeats
	if q.Owner != "" {
		s.owned[q.Owner]++
	}
	return nil
}

// DeleteEvent implements application.Store. A change that found the event
// before it went finishes on the event it found, which nothing reads
// again: it happened before the delete.
func (s *Store) DeleteEvent(_ context.Context, id domain.EventID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev, ok := s.events[id]
	if !ok {
		return domain.ErrEventNotFound
	}
	delete(s.events, id)
	s.seats -= ev.info.TotalSeats
	if ev.owner != "" {
		if s.owned[ev.owner]--; s.owned[ev.owner] == 0 {
			delete(s.owned, ev.owner)
		}
	}
	return nil
}

// Event implements application.Store.
func (s *Store) Event(_ context.Context, id domain.EventID) (domain.Event, error) {
	ev, err := s.event(id)
	if err != nil {
		return domain.Event{}, err
	}
	return ev.info, nil
}

// AvailableSeats implements application.Store. Its version counts the
// holds that ended unrecorded: the seats it shows available beyond what
// the records say.
func (s *Store) AvailableSeats(_ context.Context, id domain.EventID) (domain.Event, []int, domain.Version, error) {
	ev, err := s.event(id)
	if err != nil {
		return domain.Event{}, nil, domain.Version{}, err
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	now := s.now()
	free := make([]int, 0, len(ev.seats))
	v := domain.Version{Position: ev.changes.last}
	for i, seat := range ev.seats {
		switch {
		case seat.Status == domain.Available:
		case seat.At(now).Status == domain.Available:
			v.Expired++
		default:
			continue
		}
		free = append(free, i+1)
	}
	return ev.info, free, v, nil
}

// Summary implements application.Store.
func (s *Store) Summary(_ context.Context, id domain.EventID) (domain.Summary, error) {
	ev, err := s.event(id)
	if err != nil {
		return domain.Summary{}, err
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	now := s.now()
	sum := domain.Summary{Total: len(ev.seats)}
	for _, seat := range ev.seats {
		switch seat.At(now).Status {
		case domain.Available:
			sum.Available++
		case domain.OnHold:
			sum.OnHold++
		case domain.Reserved:
			sum.Reserved++
		}
	}
	return sum, nil
}

// Seat implements application.Store.
func (s *Store) Seat(_ context.Context, id domain.SeatID) (domain.Seat, error) {
	ev, err := s.event(id.Event)
	if err != nil || !ev.info.Has(id) {
		return domain.Seat{}, domain.ErrSeatNotFound
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return ev.seats[id.Number-1].At(s.now()), nil
}

// Hold implements application.Store.
func (s *Store) Hold(_ context.Context, e domain.EventID, ids []domain.SeatID, user domain.UserID, p domain.HoldPolicy, idem application.Idem) ([]domain.Seat, error) {
	return s.change(e, ids, idem, func(ev *event, now time.Time, asked []domain.Seat) ([]domain.Seat, error) {
		c := ev.cart(user)
		held, next, err := domain.Hold(asked, user, c.Cart, ev.liveHolds(c, user, now, ids), now, p)
		if err == nil {
			ev.record(domain.OpHold, now, held)
			ev.put(user, c, next, held, p)
		}
		return held, err
	})
}

// HoldBest implements application.Store.
func (s *Store) HoldBest(_ context.Context, e domain.EventID, b domain.BestAvailable, user domain.UserID, p domain.HoldPolicy, idem application.Idem) ([]domain.Seat, error) {
	return s.change(e, nil, idem, func(ev *event, now time.Time, _ []domain.Seat) ([]domain.Seat, error) {
		c := ev.cart(user)
		held, next, err := domain.HoldBest(ev.info, ev.seats, b, user, c.Cart, ev.liveHolds(c, user, now, nil), now, p)
		if err == nil {
			ev.record(domain.OpHold, now, held)
			ev.put(user, c, next, held, p)
		}
		return held, err
	})
}

// Refresh implements application.Store.
func (s *Store) Refresh(_ context.Context, e domain.EventID, ids []domain.SeatID, user domain.UserID, p domain.HoldPolicy, idem application.Idem) ([]domain.Seat, error) {
	return s.change(e, ids, idem, func(ev *event, now time.Time, asked []domain.Seat) ([]domain.Seat, error) {
		c := ev.cart(user)
		if ids == nil {
			asked = ev.heldBy(c, user, now)
		}
		held, next, err := domain.Refresh(asked, user, c.Cart, now, p)
		if err == nil {
			ev.record(domain.OpRefresh, now, held)
			ev.put(user, c, next, held, p)
		}
		return held, err
	})
}

// Reserve implements application.Store.
func (s *Store) Reserve(_ context.Context, e domain.EventID, ids []domain.SeatID, user domain.UserID, idem application.Idem) ([]domain.Seat, error) {
	return s.change(e, ids, idem, func(ev *event, now time.Time, asked []domain.Seat) ([]domain.Seat, error) {
		reserved, err := domain.Reserve(asked, user, now)
		if err != nil {
			return nil, err
		}
		took := ev.record(domain.OpReserve, now, reserved) > 0
		ev.drop(user, reserved)
		// domain.Cart: a reserve that leaves no live hold ends the cart,
		// unless its cool-down is to come.
		if c, ok := ev.carts[user]; ok && took && ev.liveHolds(c, user, now, nil) == 0 && !c.keep.After(c.Until) {
			delete(ev.carts, user)
		}
		return reserved, nil
	})
}

// Release implements application.Store.
func (s *Store) Release(_ context.Context, e domain.EventID, ids []domain.SeatID, user domain.UserID, idem application.Idem) ([]domain.Seat, error) {
	return s.change(e, ids, idem, func(ev *event, now time.Time, asked []domain.Seat) ([]domain.Seat, error) {
		if ids == nil {
			asked = ev.heldBy(ev.cart(user), user, now)
		}
		released := domain.Release(asked, user, now)
		ev.record(domain.OpRelease, now, released)
		ev.drop(user, released)
		return released, nil
	})
}

// rule computes the answer of a change from the seats asked (as stored)
// and writes its result; it writes nothing when it refuses.
type rule func(ev *event, now time.Time, asked []domain.Seat) ([]domain.Seat, error)

// change runs r under the event's lock, answering a repeated idempotency
// key as the first time. It first ends the holds that expired, so that
// their record comes before the change's, whatever the change answers.
func (s *Store) change(e domain.EventID, ids []domain.SeatID, idem application.Idem, r rule) ([]domain.Seat, error) {
	ev, err := s.event(e)
	if err != nil {
		return nil, err
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	now := s.now() // read under the lock, so changes see time move forward
	ev.expire(now)
	ev.sweep(now)
	if idem.Key != "" {
		if a, ok := ev.idem[idem.Key]; ok && now.Before(a.expires) {
			if a.fingerprint != idem.Fingerprint {
				return nil, domain.ErrIdempotencyKeyReused
			}
			return slices.Clone(a.seats), a.err
		}
	}
	asked := make([]domain.Seat, len(ids))
	var missing []domain.SeatID
	for i, id := range ids {
		if !ev.info.Has(id) {
			missing = append(missing, id)
			continue
		}
		asked[i] = ev.seats[id.Number-1]
	}
	var seats []domain.Seat
	if missing != nil {
		err = &domain.SeatsError{Err: domain.ErrSeatNotFound, Seats: missing}
	} else {
		seats, err = r(ev, now, asked)
	}
	if idem.Key != "" {
		ev.idem[idem.Key] = answer{fingerprint: idem.Fingerprint, seats: slices.Clone(seats), err: err, expires: now.Add(idem.TTL)}
	}
	return seats, err
}

func (s *Store) event(id domain.EventID) (*event, error) {
	s.mu.RLock()
	ev, ok := s.events[id]
	s.mu.RUnlock()
	if !ok {
		return nil, domain.ErrEventNotFound
	}
	return ev, nil
}

// cart returns user's cart, empty if they have none.
func (ev *event) cart(user domain.UserID) *cart {
	if c, ok := ev.carts[user]; ok {
		return c
	}
	return &cart{seats: make(map[int]struct{})}
}

// heldBy returns the seats user holds live at now, in ascending order,
// forgetting those they no longer hold.
func (ev *event) heldBy(c *cart, user domain.UserID, now time.Time) []domain.Seat {
	numbers := make([]int, 0, len(c.seats))
	for n := range c.seats {
		if ev.seats[n-1].HeldBy(user, now) {
			numbers = append(numbers, n)
		} else {
			delete(c.seats, n)
		}
	}
	slices.Sort(numbers)
	held := make([]domain.Seat, len(numbers))
	for i, n := range numbers {
		held[i] = ev.seats[n-1]
	}
	return held
}

// liveHolds counts user's live holds at now on seats other than ids.
func (ev *event) liveHolds(c *cart, user domain.UserID, now time.Time, ids []domain.SeatID) int {
	live := 0
	for _, s := range ev.heldBy(c, user, now) {
		if !slices.ContainsFunc(ids, func(id domain.SeatID) bool { return id == s.ID }) {
			live++
		}
	}
	return live
}

// put stores seats held by user, and user's cart.
func (ev *event) put(user domain.UserID, c *cart, next domain.Cart, seats []domain.Seat, p domain.HoldPolicy) {
	c.Cart = next
	c.keep = next.Until
	if until := next.CoolDownUntil(p); until.After(c.keep) {
		c.keep = until
	}
	for _, s := range seats {
		ev.seats[s.ID.Number-1] = s
		c.seats[s.ID.Number] = struct{}{}
	}
	ev.carts[user] = c
}

// drop stores seats that left user's holds (reserved or released).
func (ev *event) drop(user domain.UserID, seats []domain.Seat) {
	c := ev.carts[user]
	for _, s := range seats {
		ev.seats[s.ID.Number-1] = s
		if c != nil {
			delete(c.seats, s.ID.Number)
		}
	}
}

// sweep forgets, when enough has piled up, the carts that can matter no
// more (no live hold, no cool-down to come) and the expired idempotency
// answers.
func (ev *event) sweep(now time.Time) {
	if len(ev.carts)+len(ev.idem) < ev.sweepAt {
		return
	}
	for user, c := range ev.carts {
		if !now.Before(c.keep) {
			delete(ev.carts, user)
		}
	}
	for key, a := range ev.idem {
		if !now.Before(a.expires) {
			delete(ev.idem, key)
		}
	}
	ev.sweepAt = max(minSweep, 2*(len(ev.carts)+len(ev.idem)))
}
