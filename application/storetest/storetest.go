// Package storetest is the contract every application.Store obeys: one suite
// run against the in-memory store, standalone Redis and Redis Cluster, so the
// Go rules of package domain and the Redis scripts cannot drift apart.
//
// The cases are written for any correct store: they read time only from
// the answers of the store (whose clock may differ a little from this
// process's, see clockSlack) and wait by polling with a deadline.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// Policies used by the suite: long enough that holds never expire by
// accident on a slow machine, or short enough to watch them expire.
var (
	longHold  = domain.HoldPolicy{TTL: time.Minute, MaxSeats: 3}
	shortHold = domain.HoldPolicy{TTL: 150 * time.Millisecond, MaxSeats: 3}
	// cartHold is longHold with room for carts of four seats.
	cartHold = domain.HoldPolicy{TTL: time.Minute, MaxSeats: 4}
	// wideHold lets one buyer block many seats, to draw a hall.
	wideHold = domain.HoldPolicy{TTL: time.Minute, MaxSeats: 20}
)

// Run runs the contract against stores made by newStore. Stores may share
// state between calls: every test works on events of its own.
func Run(t *testing.T, newStore func(t *testing.T) application.Store) {
	cases := []struct {
		name string
		test func(*testing.T, application.Store)
	}{
		{"events", testEvents},
		{"seat", testSeat},
		{"hold", testHold},
		{"hold limit", testHoldLimit},
		{"refresh", testRefresh},
		{"reserve", testReserve},
		{"expiry", testExpiry},
		{"summary", testSummary},
		{"cart hold", testCartHold},
		{"best available", testBestAvailable},
		{"best available in rows", testBestInRows},
		{"best available after seats were freed", testBestAfterFreed},
		{"best available in a big hall", testBestInABigHall},
		{"cart refresh", testCartRefresh},
		{"cart reserve", testCartReserve},
		{"release", testRelease},
		{"a cart of more seats than a Redis call takes", testBigCart},
		{"lifetime cap and cool-down", testLifetime},
		{"release before the cap", testReleaseBeforeCap},
		{"a reserve ends the cart", testReserveEndsCart},
		{"idempotency replay", testIdemReplay},
		{"idempotency key reused", testIdemReused},
		{"race one seat", testRaceOneSeat},
		{"race hold limit", testRaceHoldLimit},
		{"race reserve", testRaceReserve},
		{"race expiring holds", testRaceExpiringHolds},
		{"race best available", testRaceBestAvailable},
		{"race carts and seats", testRaceCartsAndSeats},
		{"delete", testDelete},
		{"delete and create again", testDeleteRecreate},
		{"quota", testQuota},
		{"race quota", testRaceQuota},
		{"stream records", testStreamRecords},
		{"stream concurrent", testStreamConcurrent},
		{"stream snapshots", testStreamSnapshots},
		{"stream expiry", testStreamExpiry},
		{"stream wait", testStreamWait},
		{"stream version", testStreamVersion},
		{"stream deleted", testStreamDeleted},
		{"stream of an event made again", testStreamRecreated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { t.Parallel(); c.test(t, newStore(t)) })
	}
}

// newEvent creates an event with a fresh id and n seats in one row.
func newEvent(t *testing.T, s application.Store, n int) domain.Event {
	t.Helper()
	return newEventRows(t, s, n, 0)
}

// newEventRows creates an event with a fresh id and n seats in rows of
// perRow (0: one row).
func newEventRows(t *testing.T, s application.Store, n, perRow int) domain.Event {
	t.Helper()
	e, err := domain.NewEvent(domain.EventID(uuid.NewString()), "Suite "+t.Name(), n, perRow)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateEvent(context.Background(), e); err != nil {
		t.Fatalf("CreateEvent: %v", err)
	}
	return e
}

func wantErr(t *testing.T, what string, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Fatalf("%s: got error %v, want %v", what, got, want)
	}
}

// must returns a function that takes a store call's results and fails the
// test on an error: must(t, "Hold")(s.Hold(...)).
func must(t *testing.T, what string) func(domain.Seat, error) domain.Seat {
	return func(seat domain.Seat, err error) domain.Seat {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return seat
	}
}

func wantSeat(t *testing.T, what string, got domain.Seat, id domain.SeatID, status domain.Status, holder domain.UserID) {
	t.Helper()
	if got.ID != id || got.Status != status || got.Holder != holder {
		t.Fatalf("%s: got seat %+v, want %v %v held by %q", what, got, id, status, holder)
	}
	if (status == domain.OnHold) == got.HoldExpiresAt.IsZero() {
		t.Fatalf("%s: seat %v has HoldExpiresAt %v", what, status, got.HoldExpiresAt)
	}
}

func wantAvailable(t *testing.T, s application.Store, e domain.Event, want ...int) {
	t.Helper()
	got, free, _, err := s.AvailableSeats(context.Background(), e.ID)
	if err != nil {
		t.Fatalf("AvailableSeats: %v", err)
	}
	if got != e {
		t.Fatalf("AvailableSeats event = %+v, want %+v", got, e)
	}
	if fmt.Sprint(free) != fmt.Sprint(want) {
		t.Fatalf("AvailableSeats = %v, want %v", free, want)
	}
}

func seq(from, to int, except ...int) []int {
	var out []int
	for n := from; n <= to; n++ {
		skip := false
		for _, x := range except {
			skip = skip || x == n
		}
		if !skip {
			out = append(out, n)
		}
	}
	return out
}

func testEvents(t *testing.T, s application.Store) {
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	e := newEvent(t, s, 10)
	got, err := s.Event(ctx, e.ID)
	if err != nil || got != e {
		t.Fatalf("Event = %+v, %v; want %+v", got, err, e)
	}
	wantAvailable(t, s, e, seq(1, 10)...)
	// Creating the same event again (a retry) succeeds and changes nothing;
	// another event with its id is refused.
	must(t, "Hold")(Hold(ctx, s, e.Seat(1), "alice", longHold))
	if err := s.CreateEvent(ctx, e); err != nil {
		t.Fatalf("CreateEvent of the same event again: %v", err)
	}
	wantAvailable(t, s, e, seq(2, 10)...)
	for _, other := range []domain.Event{
		{ID: e.ID, Name: e.Name + "!", TotalSeats: e.TotalSeats, SeatsPerRow: e.SeatsPerRow},
		{ID: e.ID, Name: e.Name, TotalSeats: 9, SeatsPerRow: 9},
		{ID: e.ID, Name: e.Name, TotalSeats: e.TotalSeats, SeatsPerRow: 5},
	} {
		wantErr(t, "CreateEvent of another event with the same id", s.CreateEvent(ctx, other), domain.ErrEventExists)
	}
	if got, err := s.Event(ctx, e.ID); err != nil || got != e {
		t.Fatalf("Event after refused CreateEvents = %+v, %v; want %+v", got, err, e)
	}
	wantAvailable(t, s, e, seq(2, 10)...)
	unknown := domain.EventID(uuid.NewString())
	_, err = s.Event(ctx, unknown)
	wantErr(t, "Event of unknown id", err, domain.ErrEventNotFound)
	_, _, _, err = s.AvailableSeats(ctx, unknown)
	wantErr(t, "AvailableSeats of unknown id", err, domain.ErrEventNotFound)
	_, err = s.Summary(ctx, unknown)
	wantErr(t, "Summary of unknown id", err, domain.ErrEventNotFound)

	// An event keeps its rows.
	rows := newEventRows(t, s, 12, 5)
	if got, err := s.Event(ctx, rows.ID); err != nil || got != rows || got.SeatsPerRow != 5 {
		t.Fatalf("Event = %+v, %v; want %+v", got, err, rows)
	}
	wantAvailable(t, s, rows, seq(1, 12)...)

	big := newEvent(t, s, domain.MaxTotalSeats)
	wantAvailable(t, s, big, seq(1, domain.MaxTotalSeats)...)
	wantSummary(t, s, big, domain.Summary{Total: domain.MaxTotalSeats, Available: domain.MaxTotalSeats})
}

func testSeat(t *testing.T, s application.Store) {
	ctx := context.Background()
	e := newEvent(t, s, 10)
	for _, n := range []int{1, 10} {
		seat := must(t, "Seat")(s.Seat(ctx, e.Seat(n)))
		wantSeat(t, "fresh seat", seat, e.Seat(n), domain.Available, "")
	}
	// A change of a seat of an unknown event is ErrEventNotFound (the
	// service answers the one-seat calls' ErrSeatNotFound for it).
	unknown := domain.SeatID{Event: domain.EventID(uuid.NewString()), Number: 1}
	for _, id := range []domain.SeatID{e.Seat(0), e.Seat(11), unknown} {
		want := domain.ErrSeatNotFound
		_, err := s.Seat(ctx, id)
		wantErr(t, fmt.Sprintf("Seat(%v)", id), err, want)
		if id == unknown {
			want = domain.ErrEventNotFound
		}
		_, err = Hold(ctx, s, id, "u", longHold)
		wantErr(t, fmt.Sprintf("Hold(%v)", id), err, want)
		_, err = Refresh(ctx, s, id, "u", longHold)
		wantErr(t, fmt.Sprintf("Refresh(%v)", id), err, want)
		_, err = Reserve(ctx, s, id, "u")
		wantErr(t, fmt.Sprintf("Reserve(%v)", id), err, want)
		_, err = s.Release(ctx, id.Event, []domain.SeatID{id}, "u", application.Idem{})
		wantErr(t, fmt.Sprintf("Release(%v)", id), err, want)
	}
	wantSummary(t, s, e, domain.Summary{Total: 10, Available: 10})
}

func testHold(t *testing.T, s application.Store) {
	ctx := context.Background()
	e := newEvent(t, s, 10)
	id := e.Seat(3)
	before := time.Now()
	held := must(t, "Hold")(Hold(ctx, s, id, "alice", longHold))
	wantSeat(t, "held", held, id, domain.OnHold, "alice")
	if exp := held.HoldExpiresAt; exp.Before(before.Add(longHold.TTL-time.Second)) || exp.After(time.Now().Add(longHold.TTL+time.Second)) {
		t.Fatalf("HoldExpiresAt = %v, want about now + %v", exp, longHold.TTL)
	}
	got := must(t, "Seat")(s.Seat(ctx, id))
	if !got.HoldExpiresAt.Equal(held.HoldExpiresAt) {
		t.Fatalf("Seat expiry %v, Hold said %v", got.HoldExpiresAt, held.HoldExpiresAt)
	}
	wantSeat(t, "Seat after hold", got, id, domain.OnHold, "alice")
	wantAvailable(t, s, e, seq(1, 10, 3)...)

	_, err := Hold(ctx, s, id, "bob", longHold)
	wantErr(t, "Hold by another", err, domain.ErrSeatHeld)

	again := must(t, "Hold again")(Hold(ctx, s, id, "alice", longHold))
	wantSeat(t, "held again", again, id, domain.OnHold, "alice")
	if again.HoldExpiresAt.Before(held.HoldExpiresAt) {
		t.Fatalf("retried hold expires %v, before first %v", again.HoldExpiresAt, held.HoldExpiresAt)
	}

	must(t, "Reserve")(Reserve(ctx, s, id, "alice"))
	for _, user := range []domain.UserID{"alice", "bob"} {
		_, err = Hold(ctx, s, id, user, longHold)
		wantErr(t, "Hold reserved seat by "+string(user), err, domain.ErrSeatReserved)
	}
}

func testHoldLimit(t *testing.T, s application.Store) {
	ctx := context.Background()
	e := newEvent(t, s, 10)
	other := newEvent(t, s, 10)
	for n := 1; n <= longHold.MaxSeats; n++ {
		must(t, "Hold")(Hold(ctx, s, e.Seat(n), "alice", longHold))
	}
	_, err := Hold(ctx, s, e.Seat(9), "alice", longHold)
	wantErr(t, "Hold over the limit", err, domain.ErrHoldLimit)
	// A retry of a hold alice has counts once, so it is not over the limit.
	must(t, "Hold retry at the limit")(Hold(ctx, s, e.Seat(1), "alice", longHold))
	// The limit is per event and per user.
	must(t, "Hold in another event")(Hold(ctx, s, other.Seat(1), "alice", longHold))
	must(t, "Hold by another user")(Hold(ctx, s, e.Seat(9), "bob", longHold))
	// A reservation is no longer a hold: it frees a place under the limit.
	must(t, "Reserve")(Reserve(ctx, s, e.Seat(1), "alice"))
	must(t, "Hold after reserving")(Hold(ctx, s, e.Seat(10), "alice", longHold))
	_, err = Hold(ctx, s, e.Seat(8), "alice", longHold)
	wantErr(t, "Hold over the limit again", err, domain.ErrHoldLimit)
}

func testRefresh(t *testing.T, s application.Store) {
	ctx := context.Background()
	e := newEvent(t, s, 10)
	id := e.Seat(5)
	_, err := Refresh(ctx, s, id, "alice", longHold)
	wantErr(t, "Refresh available seat", err, domain.ErrNotOnHold)

	held := must(t, "Hold")(Hold(ctx, s, id, "alice", longHold))
	refreshed := must(t, "Refresh")(Refresh(ctx, s, id, "alice", longHold))
	wantSeat(t, "refreshed", refreshed, id, domain.OnHold, "alice")
	if refreshed.HoldExpiresAt.Before(held.HoldExpiresAt) {
		t.Fatalf("refreshed hold expires %v, before %v", refreshed.HoldExpiresAt, held.HoldExpiresAt)
	}
	_, err = Refresh(ctx, s, id, "bob", longHold)
	wantErr(t, "Refresh by another", err, domain.ErrNotHolder)

	must(t, "Reserve")(Reserve(ctx, s, id, "alice"))
	_, err = Refresh(ctx, s, id, "alice", longHold)
	wantErr(t, "Refresh reserved seat", err, domain.ErrNotOnHold)
}

func testReserve(t *testing.T, s application.Store) {
	ctx := context.Background()
	e := newEvent(t, s, 10)
	id := e.Seat(7)
	_, err := Reserve(ctx, s, id, "alice")
	wantErr(t, "Reserve available seat", err, domain.ErrNoLiveHold)

	must(t, "Hold")(Hold(ctx, s, id, "alice", longHold))
	_, err = Reserve(ctx, s, id, "bob")
	wantErr(t, "Reserve seat held by another", err, domain.ErrNoLiveHold)

	reserved := must(t, "Reserve")(Reserve(ctx, s, id, "alice"))
	wantSeat(t, "reserved", reserved, id, domain.Reserved, "alice")
	again := must(t, "Reserve again")(Reserve(ctx, s, id, "alice"))
	wantSeat(t, "reserved again", again, id, domain.Reserved, "alice")
	wantSeat(t, "Seat after reserve", must(t, "Seat")(s.Seat(ctx, id)), id, domain.Reserved, "alice")
	_, err = Reserve(ctx, s, id, "bob")
	wantErr(t, "Reserve seat reserved by another", err, domain.ErrNoLiveHold)
	wantAvailable(t, s, e, seq(1, 10, 7)...)
}

// clockSlack is how far the store's clock may be from this process's:
// Redis runs on this machine, but reads the clock on its own, and in
// milliseconds.
const clockSlack = 20 * time.Millisecond

// waitAvailable polls the seat until its hold, until exp, has ended on the
// store's clock: not before exp (less clockSlack), and within a generous
// deadline.
func waitAvailable(t *testing.T, s application.Store, id domain.SeatID, exp time.Time) {
	t.Helper()
	deadline := exp.Add(5 * time.Second)
	for {
		before := time.Now()
		seat := must(t, "Seat")(s.Seat(context.Background(), id))
		if seat.Status == domain.Available {
			if time.Now().Add(clockSlack).Before(exp) {
				t.Fatalf("hold on %v until %v ended early", id, exp)
			}
			if !seat.HoldExpiresAt.IsZero() || seat.Holder != "" {
				t.Fatalf("seat %+v: available with a holder", seat)
			}
			return
		}
		if seat.Status != domain.OnHold || !seat.HoldExpiresAt.Equal(exp) {
			t.Fatalf("seat %+v while its hold until %v should end", seat, exp)
		}
		if before.After(deadline) {
			t.Fatalf("hold on %v until %v still live at %v", id, exp, before)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testExpiry(t *testing.T, s application.Store) {
	ctx := context.Background()
	e := newEvent(t, s, 10)
	var exps []time.Time
	for n := 1; n <= shortHold.MaxSeats; n++ {
		exps = append(exps, must(t, "Hold")(Hold(ctx, s, e.Seat(n), "alice", shortHold)).HoldExpiresAt)
	}
	for n := 1; n <= shortHold.MaxSeats; n++ {
		waitAvailable(t, s, e.Seat(n), exps[n-1])
	}

	id := e.Seat(1)
	wantSeat(t, "Seat after expiry", must(t, "Seat")(s.Seat(ctx, id)), id, domain.Available, "")
	wantAvailable(t, s, e, seq(1, 10)...)
	wantSummary(t, s, e, domain.Summary{Total: 10, Available: 10})
	_, err := Refresh(ctx, s, id, "alice", shortHold)
	wantErr(t, "Refresh expired hold", err, domain.ErrNotOnHold)
	_, err = s.Refresh(ctx, e.ID, nil, "alice", shortHold, application.Idem{})
	wantErr(t, "Refresh of a cart whose holds expired", err, domain.ErrNotOnHold)
	_, err = Reserve(ctx, s, id, "alice")
	wantErr(t, "Reserve expired hold", err, domain.ErrNoLiveHold)
	if got, err := s.Release(ctx, e.ID, nil, "alice", application.Idem{}); err != nil || len(got) != 0 {
		t.Fatalf("Release of expired holds = %+v, %v; want nothing", got, err)
	}

	// Expired holds no longer count toward the limit, and the seat is free
	// for anyone.
	must(t, "Hold by another after expiry")(Hold(ctx, s, id, "bob", longHold))
	for n := 4; n < 4+longHold.MaxSeats; n++ {
		must(t, "Hold after own holds expired")(Hold(ctx, s, e.Seat(n), "alice", longHold))
	}
}

// race runs f(i) for i in [0, n) at once and returns the errors in order.
func race(n int, f func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = f(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// tally counts the nil errors and fails on any error not in allowed.
func tally(t *testing.T, errs []error, allowed ...error) int {
	t.Helper()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
			continue
		}
		ok := false
		for _, a := range allowed {
			ok = ok || errors.Is(err, a)
		}
		if !ok {
			t.Fatalf("unexpected error: %v", err)
		}
	}
	return wins
}

func isNil(err error) bool { return err == nil }

func user(i int) domain.UserID { return domain.UserID(fmt.Sprintf("user-%d", i)) }

func testRaceOneSeat(t *testing.T, s application.Store) {
	ctx := context.Background()
	e := newEvent(t, s, 10)
	id := e.Seat(1)
	errs := race(200, func(i int) error {
		_, err := Hold(ctx, s, id, user(i), longHold)
		return err
	})
	if wins := tally(t, errs, domain.ErrSeatHeld); wins != 1 {
		t.Fatalf("%d holds won one seat, want 1", wins)
	}
	winner := user(slices.IndexFunc(errs, isNil))
	wantSeat(t, "Seat after race", must(t, "Seat")(s.Seat(ctx, id)), id, domain.OnHold, winner)
}

func testRaceHoldLimit(t *testing.T, s application.Store) {
	ctx := context.Background()
	e := newEvent(t, s, 20)
	errs := race(20, func(i int) error {
		_, err := Hold(ctx, s, e.Seat(i+1), "alice", longHold)
		return err
	})
	if wins := tally(t, errs, domain.ErrHoldLimit); wins != longHold.MaxSeats {
		t.Fatalf("one user won %d holds, want the limit %d", wins, longHold.MaxSeats)
	}
	_, free, _, err := s.AvailableSeats(ctx, e.ID)
	if err != nil || len(free) != 20-longHold.MaxSeats {
		t.Fatalf("AvailableSeats = %v, %v; want %d seats", free, err, 20-longHold.MaxSeats)
	}
}

func testRaceReserve(t *testing.T, s application.Store) {
	ctx := context.Background()
	e := newEvent(t, s, 10)
	id := e.Seat(2)
	errs := race(200, func(i int) error {
		if _, err := Hold(ctx, s, id, user(i), longHold); err != nil {
			return err
		}
		_, err := Reserve(ctx, s, id, user(i))
		return err
	})
	if wins := tally(t, errs, domain.ErrSeatHeld, domain.ErrSeatReserved); wins != 1 {
		t.Fatalf("%d users reserved one seat, want 1", wins)
	}
	winner := user(slices.IndexFunc(errs, isNil))
	wantSeat(t, "Seat after race", must(t, "Seat")(s.Seat(ctx, id)), id, domain.Reserved, winner)
}

// testRaceExpiringHolds has many users race for one seat while short holds
// expire under them. Each granted hold covers
// [expiry-TTL, expiry) on the store's clock; holds of different users must
// never overlap, whatever the interleaving.
func testRaceExpiringHolds(t *testing.T, s application.Store) {
	ctx := context.Background()
	e := newEvent(t, s, 10)
	id := e.Seat(4)
	p := domain.HoldPolicy{TTL: 30 * time.Millisecond, MaxSeats: 1}
	type grant struct {
		user domain.UserID
		exp  time.Time
	}
	var (
		mu     sync.Mutex
		grants []grant
	)
	deadline := time.Now().Add(600 * time.Millisecond)
	errs := race(50, func(i int) error {
		for time.Now().Before(deadline) {
			seat, err := Hold(ctx, s, id, user(i), p)
			switch {
			case err == nil:
				// Each user wins once and walks away, so its hold
				// expires while the others keep racing.
				mu.Lock()
				grants = append(grants, grant{user(i), seat.HoldExpiresAt})
				mu.Unlock()
				return nil
			case !errors.Is(err, domain.ErrSeatHeld):
				return err
			}
		}
		return nil
	})
	tally(t, errs)
	holders := make(map[domain.UserID]bool)
	for _, g := range grants {
		holders[g.user] = true
	}
	if len(holders) < 2 {
		t.Fatalf("%d holds granted to %d users: the seat never changed hands", len(grants), len(holders))
	}
	// Sorted by expiry, each hold must start at or after the previous one
	// ended.
	slices.SortFunc(grants, func(a, b grant) int { return a.exp.Compare(b.exp) })
	for i := 1; i < len(grants); i++ {
		prev, cur := grants[i-1], grants[i]
		if cur.exp.Add(-p.TTL).Before(prev.exp) {
			t.Fatalf("hold of %s from %v overlaps hold of %s until %v",
				cur.user, cur.exp.Add(-p.TTL), prev.user, prev.exp)
		}
	}
}
