package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/seatres/reservation/api/client"
)

// The sale: concurrent clients sell out a 10,000-seat event (rows of 50)
// through the built service, one buyer after another on each client, each
// buyer with a UUID of its own wanting 1 to 6 seats; then every seat is
// checked. Two flows:
//
//   - cart: the buyer asks for its seats by best available, adjacent, and
//     reserves them in one call; NOT_ENOUGH_SEATS for n seats makes it ask
//     for n-1, and for 1 seat means the event is sold out (every seat is
//     held or reserved, and every hold is about to be reserved): the client
//     stops.
//   - single: the calls of the original API. The buyer loads the list of
//     available seats, picks seats at random among those shown, holds them
//     one by one (a seat taken meanwhile: another one shown; see
//     singleConflicts), and reserves them one by one; it loads the list
//     again if it got none, and an empty list means sold out. A client
//     starts no new buyer after the time cap, so that a capped run leaves
//     no hold behind.

// saleRun is one sale.
type saleRun struct {
	store    string // "Redis" (standalone) or "memory"
	flow     string // "cart" or "single"
	clients  int
	round    int
	elapsed  time.Duration
	sold     int // seats reserved
	buyers   int // buyers who got seats
	requests map[int]int64
	capped   bool // the time cap stopped it before the event sold out
	cap      time.Duration
	expired  int // holds that expired before their buyer reserved them
}

func (r saleRun) rate() float64 { return float64(r.sold) / r.elapsed.Seconds() }

// projected is the time a capped run would have taken to sell out at its
// rate (an underestimate: the last seats are the hardest to find).
func (r saleRun) projected() time.Duration {
	return time.Duration(float64(eventSeats) / r.rate() * float64(time.Second))
}

func (r saleRun) String() string {
	s := fmt.Sprintf("sale %-6s %-6s %3d clients round %d: %6.2f s, %5d seats to %4d buyers, %6.0f seats/s, %s",
		r.store, r.flow, r.clients, r.round, r.elapsed.Seconds(), r.sold, r.buyers, r.rate(), statusCounts(r.requests))
	if r.expired > 0 {
		s += fmt.Sprintf(", %d holds expired before their reserve", r.expired)
	}
	if r.capped {
		s += fmt.Sprintf(" (capped at %v; sold out in ~%.0f s at this rate)", r.cap, r.projected().Seconds())
	}
	return s
}

func statusCounts(m map[int]int64) string {
	var parts []string
	for _, status := range slices.Sorted(maps.Keys(m)) {
		name := strconv.Itoa(status)
		if status == 0 {
			name = "no answer"
		}
		parts = append(parts, fmt.Sprintf("%s: %d", name, m[status]))
	}
	return strings.Join(parts, ", ")
}

// purchase is what one buyer reserved.
type purchase struct {
	user  string
	seats []int
}

// maxSeats is the service's default hold limit, which no buyer may pass.
const maxSeats = 6

// runSales runs o.sales rounds of the cart sale on standalone Redis (and on
// the in-memory store with o.saleMemory), then the single-seat flow once
// per count of clients in o.single.
func runSales(ctx context.Context, o options) (runs []saleRun, err error) {
	singles, err := counts(o.single)
	if err != nil {
		return nil, fmt.Errorf("-single: %w", err)
	}
	if o.sales == 0 && len(singles) == 0 {
		return nil, nil
	}
	redisAddr, dir, done, err := standaloneRun("sale")
	if err != nil {
		return nil, err
	}
	defer done()
	type store struct {
		name string
		srv  *server
	}
	var stores []store
	for _, s := range []struct {
		name, redis string
		on          bool
	}{{"Redis", redisAddr, true}, {"memory", "", o.saleMemory}} {
		if !s.on {
			continue
		}
		srv, err := startService(ctx, o, dir, "service-"+s.name, s.redis)
		if err != nil {
			return nil, err
		}
		defer func() { err = errors.Join(err, srv.stop()) }()
		stores = append(stores, store{s.name, srv})
	}
	hc := newHTTPClient(max(o.saleBuyers, slices.Max(append(singles, 0))) + 64)
	defer hc.CloseIdleConnections()
	one := func(st store, flow string, clients, round int, cap time.Duration) error {
		events, err := st.srv.createEvents(ctx, 1, rowsBody)
		if err != nil {
			return err
		}
		noteLoad()
		run, bought, err := sale(ctx, hc, st.srv, events[0], flow, clients, cap)
		if err != nil {
			return fmt.Errorf("sale %s %s, %d clients: %w", st.name, flow, clients, err)
		}
		run.store, run.round = st.name, round
		if err := checkSale(ctx, hc, st.srv, events[0], bought, !run.capped); err != nil {
			return fmt.Errorf("sale %s %s, %d clients, round %d: check: %w", st.name, flow, clients, round, err)
		}
		fmt.Println(run, "checked")
		runs = append(runs, run)
		return nil
	}
	// Warm-up, not counted: connections, loaded scripts, the Go runtime.
	for _, st := range stores {
		if o.sales > 0 {
			if err := one(st, "cart", o.saleBuyers, 0, 0); err != nil {
				return nil, err
			}
			runs = runs[:len(runs)-1]
		}
	}
	for round := 1; round <= o.sales; round++ {
		for _, st := range stores {
			if err := one(st, "cart", o.saleBuyers, round, 0); err != nil {
				return runs, err
			}
		}
	}
	for _, clients := range singles {
		if err := one(stores[0], "single", clients, 1, o.singleCap); err != nil {
			return runs, err
		}
	}
	return runs, nil
}

// counts parses a comma-separated list of positive integers.
func counts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is no count of clients", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// sale sells event with clients concurrent clients of flow; a single-seat
// sale starts no buyer after capAfter (0: none).
func sale(ctx context.Context, hc *http.Client, srv *server, event, flow string, clients int, capAfter time.Duration) (saleRun, []purchase, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	buy := cartBuyer
	if flow == "single" {
		buy = singleBuyer
	}
	var (
		mu       sync.Mutex
		bought   []purchase
		requests = map[int]int64{}
		capped   bool
		expired  int
		wg       sync.WaitGroup
	)
	start := time.Now()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newCaller(srv.url(""), hc)
			rng := rand.New(rand.NewPCG(uint64(start.UnixNano()), uint64(i)))
			var mine []purchase
			stopped := false
			for k := 0; ctx.Err() == nil; k++ {
				if capAfter > 0 && time.Since(start) > capAfter {
					stopped = true
					break
				}
				p := purchase{user: fmt.Sprintf("sale-%d-%d", i, k)}
				var err error
				if p.seats, err = buy(ctx, c, rng, event, p.user); err != nil {
					cancel(err)
					break
				}
				if p.seats == nil {
					break // sold out
				}
				if len(p.seats) > 0 {
					mine = append(mine, p)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			bought = append(bought, mine...)
			for status, n := range c.requests {
				requests[status] += n
			}
			expired += c.expired
			capped = capped || stopped
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := context.Cause(ctx); err != nil {
		return saleRun{}, nil, err
	}
	run := saleRun{flow: flow, clients: clients, elapsed: elapsed, buyers: len(bought), requests: requests, capped: capped, cap: capAfter, expired: expired}
	for _, p := range bought {
		run.sold += len(p.seats)
	}
	if run.sold == eventSeats {
		run.capped = false
	}
	return run, bought, nil
}

func cartBuyer(ctx context.Context, c *caller, rng *rand.Rand, event, user string) ([]int, error) {
	var got []int
	for n := 1 + rng.IntN(maxSeats); n >= 1 && got == nil; n-- {
		hold, err := c.api.HoldSeatsWithResponse(ctx, event, nil, client.HoldSeatsRequest{UUID: user, BestAvailable: &client.BestAvailable{Count: n, Adjacent: new(true)}})
		switch {
		case err != nil:
			return nil, err
		case hold.JSON409 != nil && hold.JSON409.Code == client.NOTENOUGHSEATS:
			continue
		case hold.JSON200 == nil:
			return nil, fmt.Errorf("hold best %d for %s: %w", n, user, unexpected(hold))
		}
		if got, err = answered(hold.JSON200, user, client.OnHold, n); err != nil {
			return nil, fmt.Errorf("hold best %d for %s: %w", n, user, err)
		}
	}
	if got == nil {
		return nil, nil
	}
	reserve, err := c.api.ReserveSeatsWithResponse(ctx, event, nil, client.ReserveSeatsRequest{UUID: user, IDs: seatIDs(event, got)})
	switch {
	case err != nil:
		return nil, err
	case reserve.JSON200 == nil:
		return nil, fmt.Errorf("reserve %v for %s: %w", got, user, unexpected(reserve))
	}
	reserved, err := answered(reserve.JSON200, user, client.Reserved, len(got))
	if err != nil || !slices.Equal(reserved, got) {
		return nil, fmt.Errorf("reserve %v for %s: answered %v: %v", got, user, reserved, err)
	}
	return got, nil
}

// answered reads the seat numbers of a cart answer, which must be n seats
// of status for user.
func answered(a *client.SeatsChange, user string, status client.SeatStatus, n int) ([]int, error) {
	if len(a.Seats) != n {
		return nil, fmt.Errorf("%d seats answered, want %d: %+v", len(a.Seats), n, a.Seats)
	}
	numbers := make([]int, n)
	for i, s := range a.Seats {
		if s.Status != status || s.UUID != user || seatNumber(s) == 0 {
			return nil, fmt.Errorf("seat %+v answered, want %s for %s", s, status, user)
		}
		numbers[i] = seatNumber(s)
	}
	return numbers, nil
}

// Patience of a single-seat buyer: seats taken in a row before it loads the
// list again, and lists it loads before it settles for the seats it holds.
// A buyer who walked a stale list to its end would keep its first holds
// for longer than their TTL.
const (
	singleConflicts = 5
	singleLists     = 3
)

func singleBuyer(ctx context.Context, c *caller, rng *rand.Rand, event, user string) ([]int, error) {
	want := 1 + rng.IntN(maxSeats)
	var held, shown []int
	for lists := 0; len(held) < want && (held == nil || lists < singleLists); lists++ {
		list, err := retried(ctx, func() (listing, error) { return c.list(ctx, event) })
		switch {
		case err != nil:
			return nil, err
		case list.status != http.StatusOK:
			return nil, fmt.Errorf("list the seats of %s: %w", event, unexpected(list))
		}
		shown = listedSeats(list.body, event, shown)
		if len(shown) == 0 {
			if held == nil {
				return nil, nil // sold out
			}
			break
		}
		for conflicts := 0; len(held) < want && len(shown) > 0 && conflicts < singleConflicts; {
			j := rng.IntN(len(shown))
			n := shown[j]
			shown[j] = shown[len(shown)-1]
			shown = shown[:len(shown)-1]
			hold, err := retried(ctx, func() (*client.HoldSeatResponse, error) {
				return c.api.HoldSeatWithResponse(ctx, client.SeatRequest{ID: seatID(event, n), UUID: user})
			})
			switch {
			case err != nil:
				return nil, err
			case hold.JSON200 != nil:
				held = append(held, n)
				conflicts = 0
			case hold.JSON409 != nil && (hold.JSON409.Code == client.SEATHELD || hold.JSON409.Code == client.SEATRESERVED):
				conflicts++ // taken since the list: another one
			default:
				return nil, fmt.Errorf("hold seat %d for %s: %w", n, user, unexpected(hold))
			}
		}
	}
	got := []int{}
	for _, n := range held {
		reserve, err := retried(ctx, func() (*client.ReserveSeatResponse, error) {
			return c.api.ReserveSeatWithResponse(ctx, client.SeatRequest{ID: seatID(event, n), UUID: user})
		})
		switch {
		case err != nil:
			return nil, err
		case reserve.JSON200 != nil:
			got = append(got, n)
		case reserve.JSON403 != nil && reserve.JSON403.Code == client.NOLIVEHOLD:
			// The hold expired while the buyer looked for its other seats:
			// the seat went back on sale.
			c.expired++
		default:
			err := fmt.Errorf("reserve seat %d for %s: %w", n, user, unexpected(reserve))
			// What the seat is now, for whoever looks into it.
			if now, getErr := c.api.GetSeatWithResponse(ctx, seatID(event, n)); getErr == nil {
				err = fmt.Errorf("%w; the seat is now %s", err, snippet(now.Body))
			}
			return nil, err
		}
	}
	return got, nil
}

// retried sends a request of the single-seat flow, and again after a 503
// (the service's Redis call outlived its deadline, as it may when hundreds
// of 10,000-seat lists are in flight on two cores), as a client would:
// each of its calls does the same again for the same UUID. The 503s count
// among the run's answers.
func retried[A answer](ctx context.Context, send func() (A, error)) (A, error) {
	for try := 1; ; try++ {
		a, err := send()
		if err != nil || a.StatusCode() != http.StatusServiceUnavailable || try == 5 {
			return a, err
		}
		select {
		case <-time.After(time.Duration(try) * 50 * time.Millisecond):
		case <-ctx.Done():
			return a, ctx.Err()
		}
	}
}

// checkSale checks the event after a sale: every seat bought is reserved by
// its buyer and by no one else, no buyer got more than the hold limit, and
// every other seat is available, or none when soldOut; as one seat at a
// time (GET /seats/get/{id} of every seat), the list and the summary see
// it.
func checkSale(ctx context.Context, hc *http.Client, srv *server, event string, bought []purchase, soldOut bool) error {
	owner := make([]string, eventSeats+1)
	sold := 0
	var problems []string
	problem := func(format string, args ...any) {
		if len(problems) < 10 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	for _, p := range bought {
		if len(p.seats) > maxSeats {
			problem("%s bought %d seats, over the limit of %d", p.user, len(p.seats), maxSeats)
		}
		for _, n := range p.seats {
			switch {
			case n < 1 || n > eventSeats:
				problem("%s bought seat %d, not of the event", p.user, n)
			case owner[n] != "":
				problem("seat %d sold to %s and to %s", n, owner[n], p.user)
			default:
				owner[n] = p.user
				sold++
			}
		}
	}
	if soldOut && sold != eventSeats {
		problem("%d seats sold, want all %d", sold, eventSeats)
	}
	c := newCaller(srv.url(""), hc)
	sum, err := c.api.GetEventSummaryWithResponse(ctx, event)
	switch {
	case err != nil:
		return err
	case sum.JSON200 == nil:
		return fmt.Errorf("summary of %s: %w", event, unexpected(sum))
	}
	if want := (client.Summary{Total: eventSeats, Available: eventSeats - sold, Reserved: sold}); *sum.JSON200 != want {
		problem("summary %+v, want %+v", *sum.JSON200, want)
	}
	list, err := c.list(ctx, event)
	switch {
	case err != nil:
		return err
	case list.status != http.StatusOK:
		return fmt.Errorf("list the seats of %s: %w", event, unexpected(list))
	}
	if listed := listedSeats(list.body, event, nil); len(listed) != eventSeats-sold {
		problem("%d seats listed available, want %d", len(listed), eventSeats-sold)
	}
	seats, err := getSeats(ctx, hc, srv, event)
	if err != nil {
		return err
	}
	perUser := map[string]int{}
	for n := 1; n <= eventSeats; n++ {
		s := seats[n]
		switch {
		case owner[n] != "" && (s.Status != client.Reserved || s.UUID != owner[n]):
			problem("seat %d bought by %s is %s for %q", n, owner[n], s.Status, s.UUID)
		case owner[n] == "" && s.Status != client.Available:
			problem("seat %d bought by no one is %s for %q", n, s.Status, s.UUID)
		}
		if s.Status == client.Reserved {
			perUser[s.UUID]++
		}
	}
	for user, n := range perUser {
		if n > maxSeats {
			problem("%s has %d seats reserved, over the limit of %d", user, n, maxSeats)
		}
	}
	if problems != nil {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// getSeats reads every seat of event one at a time, 32 requests at once;
// seat n at index n.
func getSeats(ctx context.Context, hc *http.Client, srv *server, event string) ([]client.Seat, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	seats := make([]client.Seat, eventSeats+1)
	next := make(chan int)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newCaller(srv.url(""), hc)
			for n := range next {
				seat, err := c.api.GetSeatWithResponse(ctx, seatID(event, n))
				if err == nil && seat.JSON200 == nil {
					err = fmt.Errorf("get seat %d of %s: %w", n, event, unexpected(seat))
				}
				if err != nil {
					cancel(err)
					return
				}
				seats[n] = *seat.JSON200
			}
		}()
	}
feed:
	for n := 1; n <= eventSeats; n++ {
		select {
		case next <- n:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return seats, context.Cause(ctx)
}
