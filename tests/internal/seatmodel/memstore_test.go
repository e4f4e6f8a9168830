package seatmodel_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/seatres/reservation/adapters/memstore"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
	"github.com/seatres/reservation/tests/internal/seatmodel"
)

// rules and policy of the sequential histories: those of the carts'
// hand-written histories.
var (
	seqRules = seatmodel.Rules{
		TTLMs: 100, MaxLifetimeMs: 250, MaxSeats: 3, IdemTTLMs: 250,
		TotalSeats: 10, SeatsPerRow: 4, Users: []string{"a", "b", "c"},
	}
	seqPolicy = domain.HoldPolicy{TTL: 100 * time.Millisecond, MaxSeats: 3, MaxLifetime: 250 * time.Millisecond}
)

// TestAgreesWithMemstore runs random requests, one at a time on a clock of
// its own, through the use cases over the in-memory store, and wants the
// model to accept every answer in that order: the model restates the rules
// of package domain, and the two must agree wherever a history could tell
// them apart. Each request takes effect at its own millisecond, so the
// history has one order only.
func TestAgreesWithMemstore(t *testing.T) {
	t.Parallel()
	for seed := range uint64(8) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			t.Parallel()
			model := seqRules.Model()
			tally := map[string]int{}
			for _, ops := range sequential(t, seqPolicy, seed) {
				for _, o := range ops {
					tally[o.Input.(seatmodel.Input).Kind.String()+" "+o.Output.(seatmodel.Output).Code]++
				}
				res, info := porcupine.CheckOperationsVerbose(model, ops, 0)
				if res == porcupine.Ok {
					continue
				}
				longest := 0
				for _, part := range info.PartialLinearizations() {
					for _, lin := range part {
						longest = max(longest, len(lin))
					}
				}
				for _, o := range ops[max(0, longest-8) : longest+1] {
					t.Logf("%s", model.DescribeOperation(o.Input, o.Output))
				}
				t.Fatalf("the model accepts the first %d answers of the in-memory store, not the next", longest)
			}
			t.Logf("answers: %v", tally)
		})
	}
}

// TestRejectsOtherRules: the same requests answered under other rules
// than the model's make a history it rejects.
func TestRejectsOtherRules(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		policy domain.HoldPolicy
	}{
		{"no cap", domain.HoldPolicy{TTL: seqPolicy.TTL, MaxSeats: seqPolicy.MaxSeats}},
		{"a longer cap", domain.HoldPolicy{TTL: seqPolicy.TTL, MaxSeats: seqPolicy.MaxSeats, MaxLifetime: seqPolicy.MaxLifetime + time.Millisecond}},
		{"a higher limit", domain.HoldPolicy{TTL: seqPolicy.TTL, MaxSeats: seqPolicy.MaxSeats + 1, MaxLifetime: seqPolicy.MaxLifetime}},
		{"a longer TTL", domain.HoldPolicy{TTL: seqPolicy.TTL + time.Millisecond, MaxSeats: seqPolicy.MaxSeats, MaxLifetime: seqPolicy.MaxLifetime}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, ops := range sequential(t, tt.policy, 0) {
				if porcupine.CheckOperations(seqRules.Model(), ops) {
					continue
				}
				return
			}
			t.Error("the model accepts every history")
		})
	}
}

// sequential runs random requests one after the other on events of
// seqRules' size, through the use cases with policy over the in-memory
// store, and returns the history of each event.
func sequential(t *testing.T, policy domain.HoldPolicy, seed uint64) [][]porcupine.Operation {
	rnd := rand.New(rand.NewPCG(seed, 1))
	now := int64(1_000_000)
	svc := application.NewService(memstore.New(func() time.Time { return time.UnixMilli(now) }), policy)
	ctx := context.Background()
	var events [][]porcupine.Operation
	// Events one after the other, each until its seats are mostly sold.
	for range 12 {
		e, err := svc.CreateEvent(ctx, application.NewEvent{Name: "model", TotalSeats: seqRules.TotalSeats, SeatsPerRow: seqRules.SeatsPerRow})
		if err != nil {
			t.Fatal(err)
		}
		d := driver{svc: svc, event: string(e.ID), rules: seqRules, rnd: rnd}
		var ops []porcupine.Operation
		for i := range int64(250) {
			// Mostly a few ms apart, at times long enough for holds to
			// expire and carts to reach their cap and cool down.
			if rnd.IntN(20) == 0 {
				now += 50 + rnd.Int64N(200)
			} else {
				now += 1 + rnd.Int64N(25)
			}
			in, out := d.random(ctx, now)
			in.Event, in.CallMs, in.ReturnMs = d.event, now, now
			ops = append(ops, porcupine.Operation{Input: in, Output: out, Call: i, Return: i})
		}
		events = append(events, ops)
	}
	return events
}

// driver makes random requests of one event and reads their answers as
// the model's outputs.
type driver struct {
	svc   *application.Service
	event string
	rules seatmodel.Rules
	rnd   *rand.Rand
	keyed []keyed // requests sent with an Idempotency-Key
}

type keyed struct {
	in  seatmodel.Input
	req application.CartRequest
	at  int64
	out seatmodel.Output
}

func (d *driver) random(ctx context.Context, now int64) (seatmodel.Input, seatmodel.Output) {
	r := d.rnd
	user := d.rules.Users[r.IntN(len(d.rules.Users))]
	in := seatmodel.Input{User: user}
	seat := 1 + r.IntN(d.rules.TotalSeats)
	id := d.event + "." + strconv.Itoa(seat)
	switch p := r.IntN(100); {
	case p < 12:
		in.Kind, in.Seat = seatmodel.Hold, seat
		return in, one(d.svc.Hold(ctx, id, user))
	case p < 20:
		in.Kind, in.Seat = seatmodel.Refresh, seat
		return in, one(d.svc.Refresh(ctx, id, user))
	case p < 23:
		in.Kind, in.Seat = seatmodel.Reserve, seat
		return in, one(d.svc.Reserve(ctx, id, user))
	case p < 28:
		in.Kind, in.Seat, in.User = seatmodel.Get, seat, ""
		return in, one(d.svc.Seat(ctx, id))
	case p < 32:
		in.Kind, in.User = seatmodel.List, ""
		_, free, _, err := d.svc.AvailableSeats(ctx, d.event)
		out := outputOf(nil, err)
		for _, n := range free {
			out.Free |= 1 << (n - 1)
		}
		return in, out
	case p < 36:
		in.Kind, in.User = seatmodel.Summary, ""
		sum, err := d.svc.Summary(ctx, d.event)
		out := outputOf(nil, err)
		out.Counts = seatmodel.Counts{Total: sum.Total, Available: sum.Available, OnHold: sum.OnHold, Reserved: sum.Reserved}
		return in, out
	case p < 42 && len(d.keyed) > 0 && now < d.keyed[len(d.keyed)-1].at+d.rules.IdemTTLMs:
		// A request sent again with its Idempotency-Key while the store
		// keeps its answer. (Once the store may have forgotten it, the
		// model cannot tell a request made anew that answers the same
		// from the answer kept: TestCarts has such a request.)
		k := d.keyed[len(d.keyed)-1-r.IntN(min(len(d.keyed), 3))]
		for now >= k.at+d.rules.IdemTTLMs {
			k = d.keyed[len(d.keyed)-1]
		}
		in = k.in
		in.Replay, in.FirstCallMs = &k.out, k.at
		return in, d.cart(ctx, k.in.Kind, k.req)
	}
	req := application.CartRequest{Event: d.event, User: user}
	switch p := r.IntN(100); {
	case p < 30:
		in.Kind = seatmodel.HoldSeats
	case p < 50:
		in.Kind = seatmodel.HoldBest
		in.Best = seatmodel.Best{Count: 1 + r.IntN(d.rules.MaxSeats), Adjacent: r.IntN(2) == 0}
		req.Best = &domain.BestAvailable{Count: in.Best.Count, Adjacent: in.Best.Adjacent}
	case p < 75:
		in.Kind = seatmodel.Release
	case p < 85:
		in.Kind = seatmodel.ReserveSeats
	default:
		in.Kind = seatmodel.RefreshCart
	}
	if in.Kind == seatmodel.HoldSeats || in.Kind == seatmodel.ReserveSeats || in.Kind == seatmodel.Release && r.IntN(2) == 0 {
		in.Seats = r.Perm(d.rules.TotalSeats)[:1+r.IntN(d.rules.MaxSeats)]
		for i := range in.Seats {
			in.Seats[i]++
			req.IDs = append(req.IDs, d.event+"."+strconv.Itoa(in.Seats[i]))
		}
	}
	if r.IntN(4) == 0 {
		req.IdempotencyKey = "key-" + strconv.Itoa(len(d.keyed))
	}
	out := d.cart(ctx, in.Kind, req)
	if req.IdempotencyKey != "" {
		d.keyed = append(d.keyed, keyed{in: in, req: req, at: now, out: out})
	}
	return in, out
}

func (d *driver) cart(ctx context.Context, k seatmodel.Kind, req application.CartRequest) seatmodel.Output {
	switch k {
	case seatmodel.HoldSeats, seatmodel.HoldBest:
		return outputOf(d.svc.HoldSeats(ctx, req))
	case seatmodel.Release:
		return outputOf(d.svc.Release(ctx, req))
	case seatmodel.ReserveSeats:
		return outputOf(d.svc.ReserveSeats(ctx, req))
	case seatmodel.RefreshCart:
		return outputOf(d.svc.RefreshCart(ctx, req))
	}
	panic(k)
}

func one(s domain.Seat, err error) seatmodel.Output {
	if err != nil {
		return outputOf(nil, err)
	}
	return outputOf([]domain.Seat{s}, nil)
}

// outputOf is the model's output for an answer of the use cases: the
// refusal's code and the seats it names, or the seats.
func outputOf(seats []domain.Seat, err error) seatmodel.Output {
	var out seatmodel.Output
	if err != nil {
		var r *domain.Refusal
		if !errors.As(err, &r) {
			return seatmodel.Output{Code: "not a refusal: " + err.Error()}
		}
		out.Code = r.Code()
		var se *domain.SeatsError
		if errors.As(err, &se) {
			for _, id := range se.Seats {
				out.Seats = append(out.Seats, seatmodel.SeatOut{Number: id.Number})
			}
		}
		return out
	}
	out.Seats = []seatmodel.SeatOut{}
	for _, s := range seats {
		status, _ := seatmodel.ParseStatus(s.Status.String())
		o := seatmodel.SeatOut{Number: s.ID.Number, Status: status, Holder: string(s.Holder)}
		if s.Status == domain.OnHold {
			o.ExpiresMs = s.HoldExpiresAt.UnixMilli()
		}
		out.Seats = append(out.Seats, o)
	}
	return out
}
