// Package application holds the use cases of the reservation service and the
// ports they need. Use cases validate input with the domain's constructors and
// hand each transition to the Store, which applies the domain's rules
// atomically.
package application

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/seatres/reservation/domain"
)

// Service is the set of use cases.
type Service struct {
	store  Store
	policy domain.HoldPolicy
}

// NewService returns the use cases over store with the given hold policy.
func NewService(store Store, policy domain.HoldPolicy) *Service {
	return &Service{store: store, policy: policy}
}

// Ready reports whether the service can serve requests: its store answers.
func (s *Service) Ready(ctx context.Context) error {
	if err := s.store.Ping(ctx); err != nil {
		return fmt.Errorf("ping store: %w", err)
	}
	return nil
}

// CreateEvent creates an event whose seats are all available.
func (s *Service) CreateEvent(ctx context.Context, name string, totalSeats int) (domain.Event, error) {
	e, err := domain.NewEvent(domain.EventID(uuid.NewString()), name, totalSeats)
	if err != nil {
		return domain.Event{}, err
	}
	if err := s.store.CreateEvent(ctx, e); err != nil {
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

// AvailableSeats returns an event and the numbers of its seats available now.
func (s *Service) AvailableSeats(ctx context.Context, eventID string) (domain.Event, []int, error) {
	eid, err := domain.ParseEventID(eventID)
	if err != nil {
		return domain.Event{}, nil, err
	}
	e, seats, err := s.store.AvailableSeats(ctx, eid)
	if err != nil {
		return domain.Event{}, nil, fmt.Errorf("list seats of %s: %w", eventID, err)
	}
	return e, seats, nil
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

// Hold puts a seat on hold for a user.
func (s *Service) Hold(ctx context.Context, seatID, user string) (domain.Seat, error) {
	return s.transition("hold", seatID, user, func(id domain.SeatID, u domain.UserID) (domain.Seat, error) {
		return s.store.Hold(ctx, id, u, s.policy)
	})
}

// Refresh extends a user's live hold on a seat.
func (s *Service) Refresh(ctx context.Context, seatID, user string) (domain.Seat, error) {
	return s.transition("refresh", seatID, user, func(id domain.SeatID, u domain.UserID) (domain.Seat, error) {
		return s.store.Refresh(ctx, id, u, s.policy)
	})
}

// Reserve turns a user's live hold on a seat into a reservation.
func (s *Service) Reserve(ctx context.Context, seatID, user string) (domain.Seat, error) {
	return s.transition("reserve", seatID, user, func(id domain.SeatID, u domain.UserID) (domain.Seat, error) {
		return s.store.Reserve(ctx, id, u)
	})
}

// transition validates the seat id and user, then applies one store
// transition.
func (s *Service) transition(op, seatID, user string, apply func(domain.SeatID, domain.UserID) (domain.Seat, error)) (domain.Seat, error) {
	sid, err := domain.ParseSeatID(seatID)
	if err != nil {
		return domain.Seat{}, err
	}
	u, err := domain.NewUserID(user)
	if err != nil {
		return domain.Seat{}, err
	}
	seat, err := apply(sid, u)
	if err != nil {
		return domain.Seat{}, fmt.Errorf("%s seat %s: %w", op, seatID, err)
	}
	return seat, nil
}
