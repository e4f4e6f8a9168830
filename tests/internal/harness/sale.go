package harness

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitTimeout bounds how long a test waits for a sale to reach a point.
const waitTimeout = 30 * time.Second

// Call is one request of a sale and its answer.
type Call struct {
	Instance   string
	Path       string // HoldPath, ReservePath, ListPath, or CartPath of CartHold or CartReserve
	ID         string // the seat's, or the event's for a listing or a cart change
	User       string
	Start, End time.Time
	Answer
}

// String tells the call's answer and, for an instance of Serve that logged
// one, the error behind it.
func (c Call) String() string {
	if cause := Cause(c.Instance, c.Answer); cause != "" {
		return c.Answer.String() + ", logged as: " + cause
	}
	return c.Answer.String()
}

// ListPath marks the listing calls of a sale.
const ListPath = "/seats/list"

// CartPath is the path of a cart change op (CartHold, ...), with {id} for
// its event.
func CartPath(op string) string { return "/events/{id}/" + op }

// Sale is a flash sale: buyers that, until stopped, each pick an instance,
// one of the events and a user at random, and buy: mostly one seat picked
// at random, which they hold and, when the hold succeeds, reserve; every
// fourth time the best available seats of the event (1 to 3, with an
// Idempotency-Key every other time), held and reserved as one cart; every
// tenth time they list the event instead. A reserve answered 503 is sent
// again, as a buyer's client does, until it is answered otherwise: the 503
// may have reserved the seats, and a buyer who gave up on them would leave
// them reserved unconfirmed (while a master lacked the replicas to confirm,
// such reservations once sold a whole event). It keeps every call, and the
// reservations it was told of.
type Sale struct {
	t         testing.TB
	c         *Client
	instances []string
	events    []Event
	users     int
	stop      atomic.Bool
	keys      atomic.Int64 // Idempotency-Keys used
	wg        sync.WaitGroup

	mu        sync.Mutex
	calls     []Call
	confirmed map[string]string // seat -> user, from a 200 to a reserve
	waiters   []waiter
}

type waiter struct {
	cond func(calls []Call) bool
	done chan struct{}
}

// StartSale starts buyers goroutines buying the seats of events through
// instances, as users "buyer-0" to "buyer-<users-1>".
func StartSale(t testing.TB, c *Client, instances []string, events []Event, users, buyers int) *Sale {
	s := &Sale{t: t, c: c, instances: instances, events: events, users: users, confirmed: map[string]string{}}
	for range buyers {
		s.wg.Go(s.buy)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}

func (s *Sale) buy() {
	ctx := context.Background()
	for i := 0; !s.stop.Load(); i++ {
		base := s.instances[rand.IntN(len(s.instances))]
		e := s.events[rand.IntN(len(s.events))]
		if i%10 == 9 {
			start := time.Now()
			a := s.c.List(ctx, base, e.ID)
			s.record(Call{Instance: base, Path: ListPath, ID: e.ID, Start: start, End: time.Now(), Answer: a})
			continue
		}
		user := "buyer-" + strconv.Itoa(rand.IntN(s.users))
		if i%4 == 2 {
			s.buyCart(ctx, base, e.ID, user, i)
			continue
		}
		seat := e.ID + "." + strconv.Itoa(1+rand.IntN(e.TotalSeats))
		if s.change(ctx, base, HoldPath, seat, user).OK() {
			s.retry(func() Answer { return s.change(ctx, base, ReservePath, seat, user) })
		}
	}
}

// buyCart holds the best available seats of event for user and reserves
// the seats it got.
func (s *Sale) buyCart(ctx context.Context, base, event, user string, i int) {
	key := ""
	if (i/4)%2 == 0 { // every other cart
		key = "sale key " + strconv.FormatInt(s.keys.Add(1), 10)
	}
	r := CartRequest{UUID: user, BestAvailable: &BestAvailable{Count: 1 + rand.IntN(3)}}
	a := s.cart(ctx, base, event, CartHold, r, key)
	if !a.OK() {
		return
	}
	r = CartRequest{UUID: user}
	for _, seat := range a.Seats {
		r.IDs = append(r.IDs, seat.ID)
	}
	s.retry(func() Answer { return s.cart(ctx, base, event, CartReserve, r, "") })
}

// retry sends a reserve again while it is answered 503, until the sale
// stops, a little later each time (at most retryPause): a store that is
// down answers at once.
func (s *Sale) retry(reserve func() Answer) {
	for pause := time.Millisecond; reserve().Status == http.StatusServiceUnavailable && !s.stop.Load(); pause = min(2*pause, retryPause) {
		time.Sleep(pause)
	}
}

// retryPause is the longest pause before a reserve is sent again.
const retryPause = 100 * time.Millisecond

func (s *Sale) cart(ctx context.Context, base, event, op string, r CartRequest, key string) Answer {
	start := time.Now()
	a := s.c.Cart(ctx, base, event, op, r, key)
	s.record(Call{Instance: base, Path: CartPath(op), ID: event, User: r.UUID, Start: start, End: time.Now(), Answer: a})
	return a
}

func (s *Sale) change(ctx context.Context, base, path, seat, user string) Answer {
	start := time.Now()
	a := s.c.Change(ctx, base, path, seat, user)
	s.record(Call{Instance: base, Path: path, ID: seat, User: user, Start: start, End: time.Now(), Answer: a})
	return a
}

func (s *Sale) record(c Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
	if reserved(c) {
		seats := []string{c.ID}
		if c.Path != ReservePath {
			seats = nil
			for _, seat := range c.Seats {
				seats = append(seats, seat.ID)
			}
		}
		for _, seat := range seats {
			if prev, ok := s.confirmed[seat]; ok && prev != c.User {
				s.t.Errorf("seat %s confirmed to %q and to %q", seat, prev, c.User)
			}
			s.confirmed[seat] = c.User
		}
	}
	s.waiters = slices.DeleteFunc(s.waiters, func(w waiter) bool {
		if w.cond(s.calls) {
			close(w.done)
			return true
		}
		return false
	})
}

// Until waits until cond holds for the calls so far, at most waitTimeout;
// if it does not, it fails the test, naming what it waited for and what
// the buyers were answered meanwhile.
func (s *Sale) Until(what string, cond func(calls []Call) bool) {
	s.t.Helper()
	w := waiter{cond: cond, done: make(chan struct{})}
	s.mu.Lock()
	if cond(s.calls) {
		s.mu.Unlock()
		return
	}
	s.waiters = append(s.waiters, w)
	s.mu.Unlock()
	since := time.Now()
	select {
	case <-w.done:
	case <-time.After(waitTimeout):
		s.t.Fatalf("waited %v for %s; the answers meanwhile:\n%s", waitTimeout, what, s.tally(since))
	}
}

// tally counts the answers to the calls that started after since, by path
// and kind of answer, with the first of each kind as an example.
func (s *Sale) tally(since time.Time) string {
	type kind struct {
		path, code string
		status     int
		failed     bool
	}
	count := map[kind]int{}
	example := map[kind]string{}
	s.mu.Lock()
	for _, c := range s.calls {
		if c.Start.Before(since) {
			continue
		}
		k := kind{c.Path, c.Code, c.Status, c.Err != nil}
		if count[k]++; count[k] == 1 {
			example[k] = c.ID + ": " + c.String()
		}
	}
	s.mu.Unlock()
	lines := make([]string, 0, len(count))
	for k, n := range count {
		lines = append(lines, fmt.Sprintf("%6d × %s, as %s", n, k.path, example[k]))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// Stop stops the buyers, lets their requests in flight finish, and returns
// every call.
func (s *Sale) Stop() []Call {
	s.stop.Store(true)
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Confirmed returns the reservations the buyers were told of: seat -> user.
func (s *Sale) Confirmed() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.confirmed))
	for seat, user := range s.confirmed {
		out[seat] = user
	}
	return out
}

// reserved reports a 200 to a reserve, of one seat or of a cart.
func reserved(c Call) bool {
	return (c.Path == ReservePath || c.Path == CartPath(CartReserve)) && c.OK()
}

// Confirmations counts the 200s to reserves among calls that started after
// since.
func Confirmations(calls []Call, since time.Time) int {
	n := 0
	for _, c := range calls {
		if reserved(c) && c.Start.After(since) {
			n++
		}
	}
	return n
}

// Lost returns the confirmed reservations that the instance at base does
// not show as reserved by the user who was told so, because the seat is not
// reserved, is reserved by someone else, or is not found at all.
func Lost(t testing.TB, c *Client, base string, confirmed map[string]string) []string {
	t.Helper()
	var lost []string
	for seat, user := range confirmed {
		a := c.Seat(context.Background(), base, seat)
		if !a.OK() && a.Code != "SEAT_NOT_FOUND" {
			t.Fatalf("get %s: %v", seat, a)
		}
		if a.Seat.Status != "Reserved" || a.Seat.UUID != user {
			lost = append(lost, seat)
		}
	}
	return lost
}
