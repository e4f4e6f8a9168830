package faults

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/tests/internal/harness"
	"github.com/seatres/reservation/tests/servicetest"
)

// holdTTL is the binaries' hold TTL, short so that the tests can wait for
// every hold to expire.
const holdTTL = time.Second

// saleThroughTwo starts two instances of the built service sharing one
// Redis, and a sale of two events through both, and returns once each
// instance has confirmed reservations.
func saleThroughTwo(t *testing.T) (a, b *servicetest.Service, redis string, c *harness.Client, events []harness.Event, sale *harness.Sale) {
	redis = redistest.Standalone(t)
	bin := servicetest.Build(t)
	env := []string{
		"RESERVATION_REDIS_ADDRS=" + redis,
		"RESERVATION_HOLD_TTL=" + holdTTL.String(),
		"RESERVATION_HOLD_MAX_SEATS=" + strconv.Itoa(policy.MaxSeats),
	}
	a, b = servicetest.Start(t, bin, env...), servicetest.Start(t, bin, env...)
	c = harness.NewClient(t)
	events = []harness.Event{c.CreateEvent(t, b.URL(), eventSeats), c.CreateEvent(t, b.URL(), eventSeats)}
	sale = harness.StartSale(t, c, []string{a.URL(), b.URL()}, events, users, buyers)
	sale.Until("reservations through both instances", func(calls []harness.Call) bool {
		return harness.Confirmations(through(calls, a.URL()), time.Time{}) >= 10 &&
			harness.Confirmations(through(calls, b.URL()), time.Time{}) >= 10
	})
	return a, b, redis, c, events, sale
}

// TestInstanceKilled: one of two instances is killed with SIGKILL while
// buyers buy through both. The other goes on serving; every reservation
// either confirmed is there; and nothing is left half done: once the last
// hold has expired, every seat not reserved is available again and no user
// is counted a hold.
func TestInstanceKilled(t *testing.T) {
	t.Parallel()
	a, b, redis, c, events, sale := saleThroughTwo(t)
	subs := subscribe(t, events, a.URL(), b.URL())
	a.Signal(syscall.SIGKILL)
	a.Wait(t)
	killed := time.Now()
	sale.Until("reservations through the other instance", func(calls []harness.Call) bool {
		return harness.Confirmations(through(calls, b.URL()), killed) >= 20
	})
	calls := sale.Stop()

	unknown := 0
	for _, c := range calls {
		switch {
		case c.Instance == a.URL() && c.Err != nil:
			unknown++ // in flight at the kill, or sent after it
		case c.Err != nil || c.Status >= http.StatusInternalServerError:
			t.Errorf("%s %s through %s: %v", c.Path, c.ID, c.Instance, c)
		}
	}
	confirmed := sale.Confirmed()
	t.Logf("%d calls, %d without an answer from the killed instance; %d reservations confirmed",
		len(calls), unknown, len(confirmed))
	if lost := harness.Lost(t, c, b.URL(), confirmed); len(lost) > 0 {
		t.Errorf("%d confirmed reservations lost: %q", len(lost), lost)
	}
	checkSettles(t, c, b.URL(), redistest.Client(t, redis), events, calls)
	checkSubscribers(t, redistest.Client(t, redis), subs, a.URL())
}

// subscribe starts seat maps of every event through first, which go to
// then when first ends their stream (a load balancer's failover).
func subscribe(t *testing.T, events []harness.Event, first, then string) map[string][]*harness.Subscriber {
	subs := map[string][]*harness.Subscriber{}
	for _, e := range events {
		for range 2 {
			subs[e.ID] = append(subs[e.ID], harness.Subscribe(t, e.ID, first, then))
		}
	}
	return subs
}

// checkSubscribers checks that every subscriber, which lost the instance
// it streamed from, has taken every change of its event's stream once.
func checkSubscribers(t *testing.T, rc rueidis.Client, subs map[string][]*harness.Subscriber, lost string) {
	t.Helper()
	for event, ss := range subs {
		harness.WaitFor(t, rc, event, ss...)
		for _, s := range ss {
			if s.Reconnects() == 0 {
				t.Errorf("a subscriber of %s did not lose its stream when %s went", event, lost)
			}
			if m := s.Missed(t, rc); m != "" {
				t.Errorf("a subscriber of %s: %s", event, m)
			}
			t.Logf("a subscriber of %s took %d changes once each, through %d reconnects", event, s.Taken(), s.Reconnects())
		}
	}
}

// TestInstanceStopped: one of two instances gets SIGTERM while buyers buy
// through both. It lets the requests it has finish, answers none of them
// with a server error (it closes Redis only after its last request), and
// exits 0; every confirmed reservation is there.
func TestInstanceStopped(t *testing.T) {
	t.Parallel()
	a, b, redis, c, events, sale := saleThroughTwo(t)
	subs := subscribe(t, events, a.URL(), b.URL())
	signalled := time.Now()
	a.Signal(syscall.SIGTERM)
	if code := a.Wait(t); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0\n%s", code, a.Log())
	}
	stopped := time.Now()
	sale.Until("reservations through the other instance", func(calls []harness.Call) bool {
		return harness.Confirmations(through(calls, b.URL()), stopped) >= 20
	})
	calls := sale.Stop()

	finished, refused := 0, 0
	for _, c := range calls {
		switch {
		case c.Instance == a.URL() && c.Err != nil:
			refused++ // not accepted, or sent on a connection it was closing
		case c.Err != nil || c.Status >= http.StatusInternalServerError:
			t.Errorf("%s %s through %s: %v", c.Path, c.ID, c.Instance, c)
		case c.Instance == a.URL() && c.Start.Before(signalled) && c.End.After(signalled):
			finished++
		}
	}
	confirmed := sale.Confirmed()
	t.Logf("%d calls; %d in flight at SIGTERM answered, %d not taken; stopped %v after SIGTERM; %d reservations confirmed",
		len(calls), finished, refused, stopped.Sub(signalled).Round(time.Millisecond), len(confirmed))
	if lost := harness.Lost(t, c, b.URL(), confirmed); len(lost) > 0 {
		t.Errorf("%d confirmed reservations lost: %q", len(lost), lost)
	}
	checkSettles(t, c, b.URL(), redistest.Client(t, redis), events, calls)
	checkSubscribers(t, redistest.Client(t, redis), subs, a.URL())
}

// through keeps the calls to one instance.
func through(calls []harness.Call, base string) []harness.Call {
	var out []harness.Call
	for _, c := range calls {
		if c.Instance == base {
			out = append(out, c)
		}
	}
	return out
}

// checkSettles checks the events once every hold has expired: Redis's keys
// hold together (the stream's records make the seats) and no hold is
// live, nor counted against its user; every confirmed change is in the
// stream; the list shows every seat that is not reserved, and the summary
// counts them; a user can hold the limit again.
func checkSettles(t *testing.T, c *harness.Client, base string, rc rueidis.Client, events []harness.Event, calls []harness.Call) {
	t.Helper()
	if missing := harness.Unrecorded(t, rc, calls); len(missing) > 0 {
		t.Errorf("%d confirmed changes are not in the stream: %q", len(missing), missing)
	}
	// The last expiry of a hold: as answered, or as Redis holds it for a
	// hold whose answer died with an instance.
	var last time.Time
	for _, call := range calls {
		for _, seat := range append([]harness.Seat{call.Seat}, call.Seats...) {
			if exp := seat.HoldExpiresAt; exp != nil && exp.After(last) {
				last = *exp
			}
		}
	}
	for _, e := range events {
		for _, h := range harness.ReadEvent(t, rc, e.ID).Holds {
			if exp := time.UnixMilli(h.ExpiresMs); exp.After(last) {
				last = exp
			}
		}
	}
	time.Sleep(time.Until(last)) // a deadline the store set, on the clock it shares with this machine
	ctx := context.Background()
	for _, e := range events {
		s := harness.ReadEvent(t, rc, e.ID)
		if err := s.Check(policy.MaxSeats); err != nil {
			t.Errorf("event %s in Redis: %v", e.ID, err)
		}
		for n, h := range s.Holds {
			if h.ExpiresMs > s.NowMs {
				t.Errorf("seat %d still on hold %+v at %d, after the last hold expired", n, h, s.NowMs)
			}
		}
		for user, holds := range s.Users {
			for n, exp := range holds {
				if exp > s.NowMs {
					t.Errorf("user %q still counted a hold of seat %d until %d at %d", user, n, exp, s.NowMs)
				}
			}
		}
		var want []string
		for i, state := range []byte(s.Seats) {
			if state != 'R' {
				want = append(want, e.ID+"."+strconv.Itoa(i+1))
			}
		}
		a := c.List(ctx, base, e.ID)
		var got []string
		for _, seat := range a.Seats {
			got = append(got, seat.ID)
		}
		if !a.OK() || !slices.Equal(got, want) {
			t.Errorf("event %s lists %d seats (%v), want the %d not reserved", e.ID, len(got), a, len(want))
		}
		if a := c.Summary(ctx, base, e.ID); !a.OK() || a.Summary != (harness.Summary{Total: e.TotalSeats, Available: len(want), Reserved: e.TotalSeats - len(want)}) {
			t.Errorf("summary of %s: %v %+v, want %d available and the others reserved", e.ID, a, a.Summary, len(want))
		}
	}
	free := c.List(ctx, base, events[0].ID).Seats
	if len(free) < policy.MaxSeats {
		t.Fatalf("only %d seats left to hold", len(free))
	}
	for _, seat := range free[:policy.MaxSeats] {
		if a := c.Change(ctx, base, harness.HoldPath, seat.ID, "buyer-0"); !a.OK() {
			t.Errorf("buyer-0 holding %s after every hold expired: %v", seat.ID, a)
		}
	}
}
