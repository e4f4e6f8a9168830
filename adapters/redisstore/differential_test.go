package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/seatres/reservation/adapters/memstore"
	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// TestSameAsMemstore runs random sequences of every change, by three users
// with a few idempotency keys, on memstore (the reference of the port) and
// on Redis, and wants the same answer from both each time: the same seats,
// or the same refusal naming the same seats; then the same list and
// summary. No hold expires within a sequence, so both clocks agree; with
// the hold-lifetime cap as long as the TTL, every hold after a cart's
// first lasts until the cap, which the refreshes then meet.
func TestSameAsMemstore(t *testing.T) {
	t.Parallel()
	redis := newStore(t, redistest.SharedStandalone(t))
	mem := memstore.New(time.Now)
	for seed := range uint64(12) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			sameAsMemstore(t, rand.New(rand.NewPCG(seed, 1)), mem, redis)
		})
	}
}

func sameAsMemstore(t *testing.T, r *rand.Rand, stores ...application.Store) {
	ctx := context.Background()
	e, err := domain.NewEvent(domain.EventID(uuid.NewString()), "Same", 12, 1+r.IntN(12))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stores {
		if err := s.CreateEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	p := domain.HoldPolicy{TTL: time.Hour, MaxSeats: 3}
	if r.IntN(2) == 0 {
		p.MaxLifetime = p.TTL
	}
	var keys []string
	var last request
	for step := range 150 {
		if step%10 == 0 {
			keys = []string{uuid.NewString(), uuid.NewString()}
		}
		q := last
		if step == 0 || r.IntN(6) != 0 { // else the same request again, as a retry
			q = newRequest(r, e, keys)
		}
		last = q
		var answers []string
		for _, s := range stores {
			var seats []domain.Seat
			var err error
			switch q.op {
			case 0:
				seats, err = s.Hold(ctx, e.ID, q.picked, q.user, p, q.key)
			case 1:
				seats, err = s.HoldBest(ctx, e.ID, q.best, q.user, p, q.key)
			case 2:
				seats, err = s.Refresh(ctx, e.ID, q.picked, q.user, p, q.key)
			case 3:
				seats, err = s.Reserve(ctx, e.ID, q.picked, q.user, q.key)
			case 4:
				seats, err = s.Release(ctx, e.ID, q.picked, q.user, q.key)
			}
			_, free, _, lerr := s.AvailableSeats(ctx, e.ID)
			sum, serr := s.Summary(ctx, e.ID)
			answers = append(answers, fmt.Sprintf("%s\n  list %v %v\n  summary %+v %v", outcome(seats, err), free, lerr, sum, serr))
		}
		if answers[0] != answers[1] {
			t.Fatalf("step %d, %+v:\nmemstore: %s\nredis:    %s", step, q, answers[0], answers[1])
		}
	}
}

// request is one change, as random as sameAsMemstore wants.
type request struct {
	op     int
	user   domain.UserID
	picked []domain.SeatID
	best   domain.BestAvailable
	key    application.Idem
}

func newRequest(r *rand.Rand, e domain.Event, keys []string) request {
	q := request{
		op:   r.IntN(5),
		user: domain.UserID([]string{"alice", "bob", "carol"}[r.IntN(3)]),
		best: domain.BestAvailable{Count: 1 + r.IntN(4), Adjacent: r.IntN(2) == 0},
	}
	// Seat 13 is past the event.
	for _, n := range r.Perm(13)[:1+r.IntN(3)] {
		q.picked = append(q.picked, e.Seat(n+1))
	}
	if r.IntN(4) == 0 && (q.op == 2 || q.op == 4) {
		q.picked = nil // Refresh and Release: every live hold
	}
	if r.IntN(3) == 0 {
		// The fingerprint is the request, as the service makes it.
		q.key = application.Idem{Key: keys[r.IntN(2)], Fingerprint: fmt.Sprint(q.op, q.user, q.picked, q.best), TTL: time.Hour}
	}
	return q
}

// outcome prints what a change answered, without the hold expiries (the
// two clocks differ by a little) but saying whether there is one, and
// without a cool-down's retry-after.
func outcome(seats []domain.Seat, err error) string {
	var se *domain.SeatsError
	var cd *domain.CoolDownError
	switch {
	case errors.As(err, &se):
		ns := make([]int, len(se.Seats))
		for i, id := range se.Seats {
			ns[i] = id.Number
		}
		return fmt.Sprintf("refused %s naming %v", se.Err.Code(), ns)
	case errors.As(err, &cd):
		return "cool-down"
	case err != nil:
		return fmt.Sprintf("refused %v", err)
	}
	out := "seats"
	for _, s := range seats {
		out += fmt.Sprintf(" %d:%v:%s:%t", s.ID.Number, s.Status, s.Holder, !s.HoldExpiresAt.IsZero())
	}
	return out
}
