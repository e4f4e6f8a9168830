package redisstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/seatres/reservation/adapters/memstore"
	"github.com/seatres/reservation/adapters/redisstore"
	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// TestHoldBatchSameAsMemstore: holds without an idempotency key that
// arrive while a hold of their event runs go together in one run of the
// batch script, and each is answered as if it had run alone, in its
// order: as memstore answers the same holds one by one. Redis is frozen
// under the first holds, which go alone, so that the others queue in a
// known order; the events have carts, reservations and holds of other users
// first (random changes, as TestSameAsMemstore makes them), then a batch
// of random holds of 1 to 3 seats by three users, of seats 1 to 13 of 12,
// the same ones again among them, and a batch of holds of the best 1 to 4
// available, adjacent or not, half of them by buyers of their own. The batch's holds are one record in the
// stream, which has the seats of memstore's records of them, in order.
func TestHoldBatchSameAsMemstore(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t)
	redis, c := newStore(t, srv.Addr()), redistest.Client(t, srv.Addr())
	mem := memstore.New(time.Now)
	stores := []application.Store{mem, redis}
	ctx := context.Background()
	for seed := range uint64(8) {
		r := rand.New(rand.NewPCG(seed, 2))
		e, err := domain.NewEvent(domain.EventID(uuid.NewString()), "Batch", 12, 1+r.IntN(12))
		if err != nil {
			t.Fatal(err)
		}
		p := domain.HoldPolicy{TTL: time.Hour, MaxSeats: 3}
		if seed%2 == 0 {
			p.MaxLifetime = p.TTL
		}
		for _, s := range stores {
			if err := s.CreateEvent(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		for range 20 { // a few changes of every kind first
			q := newRequest(r, e, []string{uuid.NewString(), uuid.NewString()})
			for _, s := range stores {
				apply(ctx, s, e, q, p)
			}
		}
		// A batch of listed seats, then one of the best available.
		for _, op := range []int{0, 1} {
			holds := make([]request, 1+r.IntN(40))
			for i := range holds {
				holds[i] = newRequest(r, e, []string{"unused", "unused"})
				holds[i].op, holds[i].key = op, application.Idem{}
				if holds[i].picked == nil { // a hold names seats
					holds[i].picked = []domain.SeatID{e.Seat(1 + r.IntN(13))}
				}
				if op == 1 && r.IntN(2) == 0 {
					// A buyer of its own, whom the limit does not stop:
					// searches of one kind follow each other in the batch.
					holds[i].user = domain.UserID(fmt.Sprint("buyer-", i))
				}
			}
			// The holds that go alone, as many as may be in Redis at
			// once: refusals that change nothing and depend on nothing
			// (a seat past the event, more of the best available than
			// the limit), since they may reach Redis after the batch.
			for i := range redisstore.MaxRuns {
				lead := request{op: op, user: domain.UserID(fmt.Sprint("first-", i)), picked: []domain.SeatID{e.Seat(13)}, best: domain.BestAvailable{Count: p.MaxSeats + 1}}
				holds = append([]request{lead}, holds...)
			}
			var from []domain.Position
			for _, s := range stores {
				_, _, at, err := s.Snapshot(ctx, e.ID)
				if err != nil {
					t.Fatal(err)
				}
				from = append(from, at)
			}
			before := commandStats(t, c)["evalsha"].calls
			got := holdTogether(t, srv, redis, e, holds, p)
			if runs := commandStats(t, c)["evalsha"].calls - before; runs != redisstore.MaxRuns+1 {
				t.Errorf("seed %d: %d holds made %d script runs, want %d: the first ones alone, then the others together", seed, len(holds), runs, redisstore.MaxRuns+1)
			}
			for i, q := range holds {
				if want := outcome(holdOf(ctx, mem, e, q, p)); got[i] != want {
					t.Fatalf("seed %d, hold %d of %d, %+v:\nmemstore: %s\nredis:    %s", seed, i, len(holds), q, want, got[i])
				}
			}
			var recorded []string
			for k, s := range stores {
				records, err := s.Changes(ctx, e.ID, from[k], 1000)
				if err != nil {
					t.Fatal(err)
				}
				if s == redis && len(records) > 1 {
					t.Errorf("seed %d: the batch made %d records, want one", seed, len(records))
				}
				recorded = append(recorded, seatChanges(records))
			}
			if recorded[0] != recorded[1] {
				t.Fatalf("seed %d, the records of the batch:\nmemstore: %s\nredis:    %s", seed, recorded[0], recorded[1])
			}
		}
		var views []string
		for _, s := range stores {
			_, free, _, lerr := s.AvailableSeats(ctx, e.ID)
			sum, serr := s.Summary(ctx, e.ID)
			views = append(views, fmt.Sprintf("list %v %v, summary %+v %v", free, lerr, sum, serr))
		}
		if views[0] != views[1] {
			t.Fatalf("seed %d after the batch:\nmemstore: %s\nredis:    %s", seed, views[0], views[1])
		}
	}
}

// TestHoldBatchBestSearches: in a batch of best-available holds by buyers
// of their own, each search starts where those of its kind before it in
// the batch left off (luaBest): every hold gets what memstore gives the
// same holds one by one, in rows too short for a run (the lowest seats
// anywhere, when not adjacent) and long enough, with seats taken before
// the batch, until the seats run out.
func TestHoldBatchBestSearches(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t)
	redis := newStore(t, srv.Addr())
	mem := memstore.New(time.Now)
	ctx := context.Background()
	p := domain.HoldPolicy{TTL: time.Hour, MaxSeats: 4}
	for _, perRow := range []int{1, 2, 3, 5, 12} {
		e, err := domain.NewEvent(domain.EventID(uuid.NewString()), "Best", 12, perRow)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []application.Store{mem, redis} {
			if err := s.CreateEvent(ctx, e); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Hold(ctx, e.ID, []domain.SeatID{e.Seat(4), e.Seat(12)}, "before", p, application.Idem{}); err != nil {
				t.Fatal(err)
			}
		}
		var holds []request
		for i := range redisstore.MaxRuns { // alone, refused: see TestHoldBatchSameAsMemstore
			holds = append(holds, request{op: 1, user: domain.UserID(fmt.Sprint("first-", i)), best: domain.BestAvailable{Count: p.MaxSeats + 1}})
		}
		for i, count := range []int{3, 3, 3, 1, 2, 2, 1, 4, 2, 1} {
			holds = append(holds, request{op: 1, user: domain.UserID(fmt.Sprint("buyer-", i)), best: domain.BestAvailable{Count: count, Adjacent: i%4 == 3}})
		}
		got := holdTogether(t, srv, redis, e, holds, p)
		t.Log(perRow, got)
		for i, q := range holds {
			if want := outcome(holdOf(ctx, mem, e, q, p)); got[i] != want {
				t.Errorf("rows of %d, hold %d, %+v:\nmemstore: %s\nredis:    %s", perRow, i, q.best, want, got[i])
			}
		}
	}
}

// seatChanges writes the seats of records, in order, as a record leaves
// each of them but for the expiry of its hold, which the clock of its
// store sets.
func seatChanges(records []domain.Record) string {
	var b strings.Builder
	for _, r := range records {
		for _, s := range r.Seats {
			fmt.Fprintf(&b, "%v %d %v %q, ", r.Op, s.ID.Number, s.Status, s.Holder)
		}
	}
	return b.String()
}

// holdOf makes the hold q (op 0, of the seats picked, or op 1, the best
// available) on s.
func holdOf(ctx context.Context, s application.Store, e domain.Event, q request, p domain.HoldPolicy) ([]domain.Seat, error) {
	if q.op == 1 {
		return s.HoldBest(ctx, e.ID, q.best, q.user, p, q.key)
	}
	return s.Hold(ctx, e.ID, q.picked, q.user, p, q.key)
}

// apply makes the change q on s, for its effect.
func apply(ctx context.Context, s application.Store, e domain.Event, q request, p domain.HoldPolicy) {
	switch q.op {
	case 0:
		s.Hold(ctx, e.ID, q.picked, q.user, p, q.key)
	case 1:
		s.HoldBest(ctx, e.ID, q.best, q.user, p, q.key)
	case 2:
		s.Refresh(ctx, e.ID, q.picked, q.user, p, q.key)
	case 3:
		s.Reserve(ctx, e.ID, q.picked, q.user, q.key)
	case 4:
		s.Release(ctx, e.ID, q.picked, q.user, q.key)
	}
}

// holdTogether makes the holds on s, a store of srv: with srv frozen, the
// first redisstore.MaxRuns are sent, each once the one before has taken a
// run, then each of the others once the one before it waits for a run, and
// srv is thawed. It answers the holds' outcomes, in their order.
func holdTogether(t *testing.T, srv *redistest.Server, s *redisstore.Store, e domain.Event, holds []request, p domain.HoldPolicy) []string {
	t.Helper()
	ctx := context.Background()
	srv.Freeze()
	thawed := false
	defer func() {
		if !thawed {
			srv.Thaw()
		}
	}()
	out := make([]chan string, len(holds))
	for i, q := range holds {
		out[i] = make(chan string, 1)
		go func() { out[i] <- outcome(holdOf(ctx, s, e, q, p)) }()
		running, waiting := min(i+1, redisstore.MaxRuns), max(i+1-redisstore.MaxRuns, 0)
		waitUntil(t, s, e, func(r, w int) bool { return r == running && w == waiting })
	}
	srv.Thaw()
	thawed = true
	got := make([]string, len(holds))
	for i := range holds {
		got[i] = <-out[i]
	}
	return got
}

// waitUntil waits until the holds of e on s are as cond wants.
func waitUntil(t *testing.T, s *redisstore.Store, e domain.Event, cond func(running, waiting int) bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(s.HoldRuns(e.ID)); runtime.Gosched() {
		if time.Now().After(deadline) {
			running, waiting := s.HoldRuns(e.ID)
			t.Fatalf("holds of the batch: %d runs in Redis, %d waiting", running, waiting)
		}
	}
}
