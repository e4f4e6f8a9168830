package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// watchSummary reads the event's summary over and over until stop is
// closed, and reports on done the first read that does not add up or that
// went back: with holds that do not expire and are never released, seats
// only ever leave Available, and only ever enter Reserved.
func watchSummary(s application.Store, e domain.Event, stop <-chan struct{}) <-chan error {
	done := make(chan error, 1)
	go func() {
		var last domain.Summary
		reads := 0
		for {
			select {
			case <-stop:
				if reads == 0 {
					done <- errors.New("no summary read during the race")
				}
				close(done)
				return
			default:
			}
			sum, err := s.Summary(context.Background(), e.ID)
			reads++
			switch {
			case err != nil:
				done <- fmt.Errorf("summary during the race: %w", err)
			case sum.Total != e.TotalSeats || sum.Available+sum.OnHold+sum.Reserved != sum.Total:
				done <- fmt.Errorf("summary %+v during the race does not add up to %d", sum, e.TotalSeats)
			case reads > 1 && (sum.Available > last.Available || sum.Reserved < last.Reserved):
				done <- fmt.Errorf("summary went from %+v back to %+v", last, sum)
			default:
				last = sum
				continue
			}
			<-stop
			close(done)
			return
		}
	}()
	return done
}

// testRaceBestAvailable: 200 buyers race for the best seats of one event,
// more than it has, each asking twice, and some reserving what they got.
// Every seat goes to one buyer at most, none over the limit, and the reads
// afterwards agree with the answers.
func testRaceBestAvailable(t *testing.T, s application.Store) {
	ctx := context.Background()
	e := newEventRows(t, s, 400, 20)
	p := cartHold
	const buyers = 200
	type grant struct {
		seats    []domain.Seat
		adjacent bool
		reserved bool
	}
	grants := make([][]grant, buyers)
	refused := make([][]int, buyers) // counts refused as not enough seats
	stop := make(chan struct{})
	watch := watchSummary(s, e, stop)
	errs := race(buyers, func(i int) error {
		for k, count := range []int{1 + i%3, 2} {
			b := domain.BestAvailable{Count: count, Adjacent: i%7 == 0}
			seats, err := s.HoldBest(ctx, e.ID, b, user(i), p, noIdem)
			switch {
			case errors.Is(err, domain.ErrNotEnoughSeats):
				if !b.Adjacent {
					refused[i] = append(refused[i], count)
				}
				continue
			case errors.Is(err, domain.ErrHoldLimit):
				continue
			case err != nil:
				return err
			}
			if len(seats) != count {
				return fmt.Errorf("HoldBest of %d answered %d seats", count, len(seats))
			}
			g := grant{seats: seats, adjacent: b.Adjacent}
			if k == 0 && i%5 == 0 {
				reserved, err := s.Reserve(ctx, e.ID, []domain.SeatID{seats[0].ID}, user(i), noIdem)
				if err != nil {
					return fmt.Errorf("Reserve of a seat just held: %w", err)
				}
				g.seats[0], g.reserved = reserved[0], true
			}
			grants[i] = append(grants[i], g)
		}
		return nil
	})
	close(stop)
	if err := <-watch; err != nil {
		t.Fatal(err)
	}
	tally(t, errs)

	owner := make(map[int]domain.UserID)
	onHold, reserved := 0, 0
	for i, gs := range grants {
		live := 0
		for _, g := range gs {
			for k, seat := range g.seats {
				if prev, taken := owner[seat.ID.Number]; taken {
					t.Fatalf("seat %d went to %s and %s", seat.ID.Number, prev, user(i))
				}
				owner[seat.ID.Number] = user(i)
				want := domain.OnHold
				if g.reserved && k == 0 {
					want, reserved = domain.Reserved, reserved+1
				} else {
					live++
				}
				wantSeat(t, "answer", seat, e.Seat(seat.ID.Number), want, user(i))
				wantSeat(t, "Seat after the race", must(t, "Seat")(s.Seat(ctx, seat.ID)), seat.ID, want, user(i))
				if n := seat.ID.Number; k > 0 && (n <= g.seats[k-1].ID.Number || g.adjacent && (n != g.seats[k-1].ID.Number+1 || (n-1)/e.SeatsPerRow != (n-2)/e.SeatsPerRow)) {
					t.Fatalf("HoldBest (adjacent %v) answered seats %v", g.adjacent, seatNumbers(g.seats))
				}
			}
		}
		if live > p.MaxSeats {
			t.Fatalf("%s holds %d seats, over the limit %d", user(i), live, p.MaxSeats)
		}
		onHold += live
	}
	sum := summary(t, s, e)
	if sum.OnHold != onHold || sum.Reserved != reserved {
		t.Fatalf("Summary %+v after the race; the answers gave %d holds and %d reservations", sum, onHold, reserved)
	}
	// Seats were only ever taken: a request refused for want of seats
	// asked for more than are left now.
	for i, counts := range refused {
		for _, c := range counts {
			if sum.Available >= c {
				t.Fatalf("%s was refused %d seats, and %d are still available", user(i), c, sum.Available)
			}
		}
	}
	_, free, _, err := s.AvailableSeats(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range free {
		if _, taken := owner[n]; taken {
			t.Fatalf("seat %d of %s is listed available", n, owner[n])
		}
	}
	if len(free)+len(owner) != e.TotalSeats || len(free) != sum.Available {
		t.Fatalf("%d seats available and %d taken in an event of %d; Summary %+v", len(free), len(owner), e.TotalSeats, sum)
	}
}

// testRaceCartsAndSeats: buyers of carts and buyers of single seats race
// for the same seats. No seat goes to two buyers, and every cart is held
// whole or not at all.
func testRaceCartsAndSeats(t *testing.T, s application.Store) {
	ctx := context.Background()
	for round := range 5 {
		e := newEvent(t, s, 12)
		// Buyers 0..11 ask for seat i+1; buyers 12..23 for the carts
		// {k+1, k+2, k+3}, half of them backwards.
		asks := make([][]int, 24)
		for i := range 12 {
			asks[i] = []int{i + 1}
		}
		for k := range 10 {
			asks[12+k] = []int{k + 1, k + 2, k + 3}
			if k%2 == 1 {
				slices.Reverse(asks[12+k])
			}
		}
		asks[22] = []int{12, 1, 6}
		asks[23] = []int{2, 11}
		answers := make([]answer, len(asks))
		stop := make(chan struct{})
		watch := watchSummary(s, e, stop)
		var mu sync.Mutex
		errs := race(len(asks), func(i int) error {
			seats, err := s.Hold(ctx, e.ID, ids(e, asks[i]...), user(i), cartHold, noIdem)
			mu.Lock()
			answers[i] = answer{seats, err}
			mu.Unlock()
			return err
		})
		close(stop)
		if err := <-watch; err != nil {
			t.Fatal(err)
		}
		tally(t, errs, domain.ErrSeatHeld)

		holder := make(map[int]domain.UserID)
		for n := 1; n <= e.TotalSeats; n++ {
			if seat := must(t, "Seat")(s.Seat(ctx, e.Seat(n))); seat.Status == domain.OnHold {
				holder[n] = seat.Holder
			}
		}
		taken := 0
		for i, a := range answers {
			what := fmt.Sprintf("round %d, %s's hold of %v", round, user(i), asks[i])
			if a.err == nil {
				wantHeld(t, what, a, e, user(i), asks[i]...)
				for _, n := range asks[i] {
					if holder[n] != user(i) {
						t.Fatalf("%s: seat %d is held by %q", what, n, holder[n])
					}
				}
				taken += len(asks[i])
				continue
			}
			var se *domain.SeatsError
			if !errors.As(a.err, &se) || len(se.Seats) == 0 {
				t.Fatalf("%s: refused with %v, naming no seats", what, a.err)
			}
			for _, id := range se.Seats {
				if !slices.Contains(asks[i], id.Number) {
					t.Fatalf("%s: refusal names seat %v, not asked", what, id)
				}
				if h := holder[id.Number]; h == "" || h == user(i) {
					t.Fatalf("%s: refused for seat %d, which is held by %q", what, id.Number, h)
				}
			}
			for _, n := range asks[i] {
				if holder[n] == user(i) {
					t.Fatalf("%s: refused, but the buyer holds seat %d", what, n)
				}
			}
		}
		if taken != len(holder) {
			t.Fatalf("round %d: %d seats answered as held, %d held", round, taken, len(holder))
		}
		if sum := summary(t, s, e); sum.OnHold != taken {
			t.Fatalf("round %d: Summary %+v, with %d seats answered as held", round, sum, taken)
		}
	}
}
