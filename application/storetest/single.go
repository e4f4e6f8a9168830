package storetest

import (
	"context"
	"errors"
	"fmt"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// The original API's changes of one seat, as the service makes them of the
// store: a cart of one seat, whose refusals are the bare ones.

// Hold holds one seat for user.
func Hold(ctx context.Context, s application.Store, id domain.SeatID, user domain.UserID, p domain.HoldPolicy) (domain.Seat, error) {
	return one(s.Hold(ctx, id.Event, []domain.SeatID{id}, user, p, application.Idem{}))
}

// Refresh extends user's hold on one seat.
func Refresh(ctx context.Context, s application.Store, id domain.SeatID, user domain.UserID, p domain.HoldPolicy) (domain.Seat, error) {
	return one(s.Refresh(ctx, id.Event, []domain.SeatID{id}, user, p, application.Idem{}))
}

// Reserve reserves one seat held by user.
func Reserve(ctx context.Context, s application.Store, id domain.SeatID, user domain.UserID) (domain.Seat, error) {
	return one(s.Reserve(ctx, id.Event, []domain.SeatID{id}, user, application.Idem{}))
}

func one(seats []domain.Seat, err error) (domain.Seat, error) {
	if se := (*domain.SeatsError)(nil); errors.As(err, &se) {
		return domain.Seat{}, se.Err
	}
	if err != nil {
		return domain.Seat{}, err
	}
	if len(seats) != 1 {
		return domain.Seat{}, fmt.Errorf("store answered %d seats for one", len(seats))
	}
	return seats[0], nil
}
