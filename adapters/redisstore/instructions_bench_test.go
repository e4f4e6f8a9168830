package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/rueidis"
	"go.uber.org/zap"

	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/domain"
)

// BenchmarkInstructions counts the instructions Redis executes for the holds
// of a sale. Unlike Redis's time, which on this shared machine moves by up
// to 2x from one minute to the next, the count is the same from run to run
// to about 0.1%, so that a change of the scripts shows at once. Valgrind's
// callgrind runs a redis-server of its own (redistest.StartCallgrind) and
// counts what runs inside EVALSHA, while runHolds, as the batcher calls it,
// runs batches of 21 holds (a sale's holds at 64 connections come about 13
// a run), each of a buyer of its own, on a fresh event of 10,000 seats in
// one row until a batch no longer fits: single seats and carts of 6 listed in
// order, and best available 4 adjacent. Beside them, the ceiling's EVALSHA
// (cmd/benchceiling's script: one EXISTS). Ir/hold is the instructions a
// hold, x-ceiling their ratio to the ceiling's a call. Under callgrind Redis
// runs about 50 times slower: each sub-benchmark takes seconds, whatever
// b.N.
func BenchmarkInstructions(b *testing.B) {
	const batch = 21
	var ceiling float64
	b.Run("ceiling", func(b *testing.B) {
		cg := redistest.StartCallgrind(b)
		s := countedStore(b, cg.Addr())
		script := rueidis.NewLuaScript("return redis.call('EXISTS', KEYS[1])")
		const calls = 2000
		for range calls {
			if err := script.Exec(context.Background(), s.client, []string{"x"}, nil).Error(); err != nil {
				b.Fatal(err)
			}
		}
		ceiling = float64(cg.Instructions(b)) / calls
		b.ReportMetric(ceiling, "Ir/op")
	})
	for _, w := range []struct {
		name  string
		width int  // seats a hold
		best  bool // best available, adjacent
	}{{"single", 1, false}, {"cart6", 6, false}, {"best4", 4, true}} {
		b.Run(w.name, func(b *testing.B) {
			cg := redistest.StartCallgrind(b)
			s := countedStore(b, cg.Addr())
			ctx := context.Background()
			e, err := domain.NewEvent(domain.EventID(uuid.NewString()), "instructions", 10000, 10000)
			if err != nil {
				b.Fatal(err)
			}
			if err := s.CreateEvent(ctx, e); err != nil {
				b.Fatal(err)
			}
			ev, err := s.event(ctx, e.ID)
			if err != nil {
				b.Fatal(err)
			}
			pa := s.policyArgs(domain.HoldPolicy{TTL: 10 * time.Minute, MaxSeats: 6, MaxLifetime: 15 * time.Minute})
			holds := 0
			for next := 1; next+w.width*batch-1 <= e.TotalSeats; next += w.width * batch {
				calls := make([]*holdCall, batch)
				for k := range calls {
					h := &holdCall{user: domain.UserID(fmt.Sprintf("buyer-%08d", holds+k))}
					if w.best {
						h.best = domain.BestAvailable{Count: w.width, Adjacent: true}
					} else {
						for j := range w.width {
							h.seats = append(h.seats, strconv.Itoa(next+k*w.width+j))
						}
					}
					calls[k] = h
				}
				s.runHolds(ctx, ev, pa, w.best, calls)
				for _, h := range calls {
					seats, err := s.seatsOf(e.ID, h.user, domain.OnHold)(h.msg, h.err)
					if err != nil || len(seats) != w.width {
						b.Fatalf("hold of %s: %v, %v", h.user, seats, err)
					}
				}
				holds += batch
			}
			perHold := float64(cg.Instructions(b)) / float64(holds)
			b.ReportMetric(perHold, "Ir/hold")
			if ceiling > 0 {
				b.ReportMetric(perHold/ceiling, "x-ceiling")
			}
		})
	}
}

// countedStore is a store on the Callgrind server at addr, with its
// timeouts long enough for it.
func countedStore(b *testing.B, addr string) *Store {
	s, err := New(context.Background(), Config{Addrs: []string{addr}, Timeout: time.Minute}, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	return s
}
