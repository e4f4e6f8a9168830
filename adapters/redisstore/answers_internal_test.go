package redisstore

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/domain"
)

// TestHoldAnswers: a hold's answer reads the same in both of its forms,
// {HELD, e, n, ...} and the {OK, n, e, ...} that an Idempotency-Key's
// answer kept by a build before HELD still gives back; HELD is a hold's
// alone, and a form that is neither is malformed, never seats.
func TestHoldAnswers(t *testing.T) {
	t.Parallel()
	client := redistest.Client(t, redistest.SharedStandalone(t))
	s := &Store{}
	const e, user, exp = domain.EventID("0f8fad5b-d9cb-469f-a165-70867728950e"), domain.UserID("buyer"), 1700000000123
	answer := func(lua string, status domain.Status) ([]domain.Seat, error) {
		msg, err := client.Do(context.Background(), client.B().Eval().Script(lua).Numkeys(0).Build()).ToMessage()
		return s.seatsOf(e, user, status)(msg, err)
	}
	want := []domain.Seat{}
	for _, n := range []int{7, 3} {
		seat := domain.NewSeat(domain.SeatID{Event: e, Number: n})
		seat.Status, seat.Holder, seat.HoldExpiresAt = domain.OnHold, user, time.UnixMilli(exp)
		want = append(want, seat)
	}
	for _, lua := range []string{"return {-1, 1700000000123, 7, 3}", "return {0, 7, 1700000000123, 3, 1700000000123}"} {
		if got, err := answer(lua, domain.OnHold); err != nil || !slices.Equal(got, want) {
			t.Errorf("%s: %+v, %v; want %+v", lua, got, err, want)
		}
	}
	for _, lua := range []string{"return {-1, 1700000000123}", "return {0, 7}"} {
		if got, err := answer(lua, domain.OnHold); err == nil {
			t.Errorf("%s: %+v; want it malformed", lua, got)
		}
	}
	if got, err := answer("return {-1, 1700000000123, 7}", domain.Reserved); err == nil {
		t.Errorf("HELD as a reserve's answer: %+v; want it malformed", got)
	}
}
