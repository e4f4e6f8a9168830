// Package memstore is the embedded, in-memory Store: the default for
// `make run` and for fast tests. It obeys the same contract as the Redis
// store (the storetest suite binds them), but its state lives and dies with
// the process, so it is for one instance only.
package memstore

import (
	"context"
	"sync"
	"time"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

var _ application.Store = (*Store)(nil)

// Store keeps events in a map. Each transition reads the seat, applies the
// domain rule and writes the result under the event's lock, so it is atomic
// like a Redis script.
type Store struct {
	now func() time.Time

	mu     sync.RWMutex
	events map[domain.EventID]*event
}

type event struct {
	mu    sync.Mutex
	info  domain.Event
	seats []domain.Seat // seat n at index n-1
	// holds lists, per user, the seats they may hold; entries whose hold
	// has expired or moved on are dropped when counted.
	holds map[domain.UserID]map[int]struct{}
}

// New returns an empty store that reads time from now.
func New(now func() time.Time) *Store {
	return &Store{now: now, events: make(map[domain.EventID]*event)}
}

// Ping implements application.Store: memory is always there.
func (s *Store) Ping(context.Context) error { return nil }

// CreateEvent implements application.Store.
func (s *Store) CreateEvent(_ context.Context, e domain.Event) error {
	seats := make([]domain.Seat, e.TotalSeats)
	for i := range seats {
		seats[i] = domain.NewSeat(e.Seat(i + 1))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.events[e.ID]; ok {
		if old.info == e {
			return nil // the same event again: a retry
		}
		return domain.ErrEventExists
	}
	s.events[e.ID] = &event{info: e, seats: seats, holds: make(map[domain.UserID]map[int]struct{})}
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

// AvailableSeats implements application.Store.
func (s *Store) AvailableSeats(_ context.Context, id domain.EventID) (domain.Event, []int, error) {
	ev, err := s.event(id)
	if err != nil {
		return domain.Event{}, nil, err
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	now := s.now()
	free := make([]int, 0, len(ev.seats))
	for i, seat := range ev.seats {
		if seat.At(now).Status == domain.Available {
			free = append(free, i+1)
		}
	}
	return ev.info, free, nil
}

// Seat implements application.Store.
func (s *Store) Seat(_ context.Context, id domain.SeatID) (domain.Seat, error) {
	return s.apply(id, func(_ *event, now time.Time, cur domain.Seat) (domain.Seat, error) {
		return cur.At(now), nil
	})
}

// Hold implements application.Store.
func (s *Store) Hold(_ context.Context, id domain.SeatID, user domain.UserID, p domain.HoldPolicy) (domain.Seat, error) {
	return s.apply(id, func(ev *event, now time.Time, cur domain.Seat) (domain.Seat, error) {
		next, err := cur.Hold(user, now, p, ev.liveHolds(user, now))
		if err == nil {
			held := ev.holds[user]
			if held == nil {
				held = make(map[int]struct{})
				ev.holds[user] = held
			}
			held[id.Number] = struct{}{}
		}
		return next, err
	})
}

// Refresh implements application.Store.
func (s *Store) Refresh(_ context.Context, id domain.SeatID, user domain.UserID, p domain.HoldPolicy) (domain.Seat, error) {
	return s.apply(id, func(_ *event, now time.Time, cur domain.Seat) (domain.Seat, error) {
		return cur.Refresh(user, now, p)
	})
}

// Reserve implements application.Store.
func (s *Store) Reserve(_ context.Context, id domain.SeatID, user domain.UserID) (domain.Seat, error) {
	return s.apply(id, func(ev *event, now time.Time, cur domain.Seat) (domain.Seat, error) {
		next, err := cur.Reserve(user, now)
		if err == nil {
			delete(ev.holds[user], id.Number)
		}
		return next, err
	})
}

// rule computes a seat's next state from its current one.
type rule func(ev *event, now time.Time, cur domain.Seat) (domain.Seat, error)

// apply runs r on the seat under its event's lock and stores the seat it
// returns, unless it refused.
func (s *Store) apply(id domain.SeatID, r rule) (domain.Seat, error) {
	ev, err := s.event(id.Event)
	if err != nil || !ev.info.Has(id) {
		return domain.Seat{}, domain.ErrSeatNotFound
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	now := s.now() // read under the lock, so transitions see time move forward
	next, err := r(ev, now, ev.seats[id.Number-1])
	if err != nil {
		return domain.Seat{}, err
	}
	ev.seats[id.Number-1] = next
	return next, nil
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

// liveHolds counts user's live holds, forgetting seats they no longer hold.
func (ev *event) liveHolds(user domain.UserID, now time.Time) int {
	held := ev.holds[user]
	for n := range held {
		if !ev.seats[n-1].HeldBy(user, now) {
			delete(held, n)
		}
	}
	if len(held) == 0 {
		delete(ev.holds, user)
	}
	return len(held)
}
