// Package faults breaks what the service depends on while buyers use it
// (Redis crashes, hangs or loses a master; a service instance is killed or
// stopped) and checks the promises that must survive: no confirmed
// reservation is lost, no change is confirmed that was not made, nothing is
// left half done, every answer comes within a bounded time, and the service
// recovers by itself.
package faults

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seatres/reservation/adapters/redisstore"
	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/domain"
	"github.com/seatres/reservation/tests/internal/harness"
)

const (
	// storeTimeout is the deadline of each Redis call of the instances
	// under test, shorter than the default of 1s to keep outages short.
	storeTimeout = 300 * time.Millisecond
	// answerBound is the longest any answer may take, even while Redis is
	// down or hung: the store's deadline, and room for a machine busy with
	// the race detector.
	answerBound = storeTimeout + 2*time.Second
)

var policy = domain.HoldPolicy{TTL: time.Minute, MaxSeats: 6}

// The size of a sale: two events, which buyers buy from at once, big
// enough not to sell out while a test waits for more reservations, and
// users enough that their hold limits are not all used up by holds whose
// reservation an outage cut off (each stays for the TTL): under make soak,
// ten outages in a row left 40 users at their limit, and the sale made no
// reservation after the last one.
var (
	eventSeats = harness.Size(400, 4000)
	users      = harness.Size(40, 400)
)

const buyers = 32

// outage is a way for Redis to fail and come back.
type outage struct {
	name string
	opts []redistest.Option
	down func(s *redistest.Server)
	up   func(s *redistest.Server, t testing.TB)
	// lossy is a Redis that forgets everything in the outage, its
	// streams too: their subscribers are not checked.
	lossy bool
}

var (
	kill    = (*redistest.Server).Kill
	restart = (*redistest.Server).Restart
	freeze  = (*redistest.Server).Freeze
	thaw    = func(s *redistest.Server, _ testing.TB) { s.Thaw() }
)

// TestRedisOutage: while buyers buy through two instances, Redis crashes
// (SIGKILL) and is restarted on its files, or hangs and goes on. Meanwhile
// every answer is a quick 503; afterwards the instances serve again without
// help and every confirmed reservation is there. AOF with appendfsync
// always is what docs/deployment.md recommends. Not everysec: while a slow
// fsync runs, Redis holds writes back from the file for up to 2 s and
// still answers them, and a SIGKILL then loses them (this test saw two
// confirmed reservations lost so, on a busy machine).
func TestRedisOutage(t *testing.T) {
	t.Parallel()
	for _, o := range []outage{
		{"killed with AOF always", []redistest.Option{redistest.AOF("always")}, kill, restart, false},
		{"hung", nil, freeze, thaw, false},
	} {
		t.Run(o.name, func(t *testing.T) {
			t.Parallel()
			r := runOutage(t, o)
			if len(r.lost) > 0 {
				t.Errorf("%d confirmed reservations lost: %q", len(r.lost), r.lost)
			}
			if len(r.unrecorded) > 0 {
				t.Errorf("%d confirmed changes are not in the stream: %q", len(r.unrecorded), r.unrecorded)
			}
			for _, m := range r.missed {
				t.Errorf("a subscriber: %s", m)
			}
			if r.sold == 0 {
				t.Error("no reservation confirmed after the outage")
			}
		})
	}
}

// TestOutageFindsLoss: a Redis without persistence forgets everything when
// it crashes, and the checks of TestRedisOutage must say so.
func TestOutageFindsLoss(t *testing.T) {
	t.Parallel()
	r := runOutage(t, outage{"killed without persistence", nil, kill, restart, true})
	if len(r.lost) == 0 {
		t.Error("no confirmed reservation lost by a Redis that keeps nothing")
	}
	if len(r.unrecorded) == 0 {
		t.Error("no confirmed change missing from the stream of a Redis that keeps nothing")
	}
}

// outcome is what an outage left: the confirmed reservations that are
// gone, the confirmed changes that the stream has no record of, and how
// many reservations were confirmed after it.
type outcome struct {
	lost, unrecorded []string
	// missed says, for each subscriber that did not take every change
	// of its event's stream once, what it missed.
	missed []string
	sold   int
}

// outages is how many times Redis fails in one sale.
var outages = harness.Size(1, 10)

// runOutage runs a sale through outages and checks its answers and what
// Redis holds after it.
func runOutage(t *testing.T, o outage) outcome {
	srv := redistest.StartServer(t, o.opts...)
	instances := []string{
		harness.Serve(t, policy, harness.RedisStore(t, redisstore.Config{Addrs: []string{srv.Addr()}, Timeout: storeTimeout})),
		harness.Serve(t, policy, harness.RedisStore(t, redisstore.Config{Addrs: []string{srv.Addr()}, Timeout: storeTimeout})),
	}
	c := harness.NewClient(t)
	events := []harness.Event{c.CreateEvent(t, instances[0], eventSeats), c.CreateEvent(t, instances[0], eventSeats)}
	// Seat maps, one through each instance, that go to the other when
	// theirs ends their stream.
	var subs []*harness.Subscriber
	for _, e := range events {
		subs = append(subs, harness.Subscribe(t, e.ID, instances...), harness.Subscribe(t, e.ID, instances[1], instances[0]))
	}
	sale := harness.StartSale(t, c, instances, events, users, buyers)
	sale.Until("reservations before the outage", func(calls []harness.Call) bool {
		return harness.Confirmations(calls, time.Time{}) >= 20
	})
	var windows []window
	for range outages {
		var w window
		w.failing = time.Now()
		o.down(srv)
		w.down = time.Now()
		sale.Until("answers while Redis is down", func(calls []harness.Call) bool {
			return countCalls(calls, func(c harness.Call) bool { return c.Start.After(w.down) }) >= 200
		})
		w.up = time.Now()
		o.up(srv, t)
		w.back = waitRecovered(sale, instances, "", w.up)
		sale.Until("answers after the outage", func(calls []harness.Call) bool {
			return countCalls(calls, func(c harness.Call) bool { return c.Start.After(w.back) }) >= 200
		})
		windows = append(windows, w)
	}
	calls := sale.Stop()
	var recovery time.Duration
	for _, w := range windows {
		recovery = max(recovery, w.back.Sub(w.up))
	}
	t.Logf("instances served again at most %v after Redis began to come back", recovery.Round(time.Millisecond))
	checkCalls(t, calls, windows)
	rc := redistest.Client(t, srv.Addr())
	for _, e := range events {
		if err := harness.ReadEvent(t, rc, e.ID).Check(policy.MaxSeats); err != nil {
			t.Errorf("event %s in Redis: %v", e.ID, err)
		}
	}
	var missed []string
	if !o.lossy {
		for i, s := range subs {
			harness.WaitFor(t, rc, events[i/2].ID, s)
			if m := s.Missed(t, rc); m != "" {
				missed = append(missed, m)
			}
			t.Logf("a subscriber of %s took %d changes, through %d reconnects", events[i/2].ID, s.Taken(), s.Reconnects())
		}
	}
	last := windows[len(windows)-1].back
	return outcome{lost: harness.Lost(t, c, instances[1], sale.Confirmed()), unrecorded: harness.Unrecorded(t, rc, calls),
		missed: missed, sold: harness.Confirmations(calls, last)}
}

// window is one outage as a test saw it: the store began to fail at
// failing, was surely down from down until up, when it began to come back,
// and every instance served again at back.
type window struct{ failing, down, up, back time.Time }

// waitRecovered waits until every instance has answered a call about event
// (any event if "") made after since with something else than a 503, and
// returns when that was seen.
func waitRecovered(sale *harness.Sale, instances []string, event string, since time.Time) time.Time {
	sale.Until("every instance to answer without 503 again", func(calls []harness.Call) bool {
		for _, base := range instances {
			if !slices.ContainsFunc(calls, func(c harness.Call) bool {
				return c.Instance == base && strings.HasPrefix(c.ID, event) && c.Start.After(since) &&
					c.Err == nil && c.Status != http.StatusServiceUnavailable
			}) {
				return false
			}
		}
		return true
	})
	return time.Now()
}

// checkCalls checks every answer of a sale through outages: quick, a 503
// STORE_UNAVAILABLE while the store was down, and outside an outage only
// after the store's deadline, no other server error, and no call without
// an answer.
func checkCalls(t *testing.T, calls []harness.Call, windows []window) {
	t.Helper()
	for _, c := range calls {
		down := slices.ContainsFunc(windows, func(w window) bool { return c.Start.After(w.down) && c.End.Before(w.up) })
		outage := slices.ContainsFunc(windows, func(w window) bool { return c.End.After(w.failing) && c.Start.Before(w.back) })
		switch {
		case c.Err != nil:
			t.Errorf("%s %s: %v", c.Path, c.ID, c.Err)
		case c.Took > answerBound:
			t.Errorf("%s %s took %v, over %v: %v", c.Path, c.ID, c.Took, answerBound, c)
		case down && !unavailable(c.Answer):
			t.Errorf("%s %s while Redis was down: %v, want 503 STORE_UNAVAILABLE", c.Path, c.ID, c)
		case c.Status == http.StatusServiceUnavailable && !outage && c.Took < storeTimeout:
			// Outside an outage, only a call that Redis did not answer in
			// time may fail: a machine this busy can be that slow.
			t.Errorf("%s %s: %v after %v while Redis was up", c.Path, c.ID, c, c.Took)
		case c.Status >= http.StatusInternalServerError && c.Status != http.StatusServiceUnavailable:
			t.Errorf("%s %s: %v", c.Path, c.ID, c)
		}
	}
	t.Logf("%d calls through %d outages, %d answered 503; slowest answer %v; %d reservations confirmed",
		len(calls), len(windows), countCalls(calls, func(c harness.Call) bool { return unavailable(c.Answer) }),
		slowest(calls), harness.Confirmations(calls, time.Time{}))
}

// unavailable reports the answer of an instance that cannot reach Redis.
func unavailable(a harness.Answer) bool {
	return a.Status == http.StatusServiceUnavailable && a.Code == "STORE_UNAVAILABLE" && a.Message == "store unavailable"
}

func countCalls(calls []harness.Call, f func(harness.Call) bool) int {
	n := 0
	for _, c := range calls {
		if f(c) {
			n++
		}
	}
	return n
}

func slowest(calls []harness.Call) time.Duration {
	var d time.Duration
	for _, c := range calls {
		d = max(d, c.Took)
	}
	return d.Round(time.Millisecond)
}
