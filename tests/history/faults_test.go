package history

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/seatres/reservation/adapters/redisstore"
	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
	"github.com/seatres/reservation/tests/internal/harness"
	"github.com/seatres/reservation/tests/internal/seatmodel"
	"github.com/seatres/reservation/tests/servicetest"
)

// Histories under faults (issue 13): the same race as TestLinearizable,
// through two instances of the built service sharing one Redis, while
// Redis is killed and restarted, frozen and thawed, or an instance is
// killed. A change answered 503 or not at all has an unknown outcome
// (seatmodel.Output.Unknown); the whole history, across the faults, must
// still fit one order of the operations.

// faultStoreTimeout is the instances' deadline on a Redis call under
// faults: short, so that a frozen Redis turns calls into 503s quickly.
const faultStoreTimeout = 300 * time.Millisecond

// outage is how long each fault lasts: more than the store's deadline,
// so that calls in flight get a 503 before it ends. calm is the time
// without a fault before each, and after the last.
const (
	outage = 500 * time.Millisecond
	calm   = 700 * time.Millisecond
)

// settleSlack is how long after an answer of unknown outcome, or after
// the freeze it overlapped ended, its change may still be made: a command
// that reached Redis runs well within it (a frozen Redis runs what it has
// received as soon as it is thawed). Until then the check keeps the
// change pending; a longer bound only costs search.
const settleSlack = 500 * time.Millisecond

// faultWork is the race under faults: fewer clients per event than
// TestLinearizable's, since during a fault each of them leaves changes of
// unknown outcome, whose choices multiply in the check of the event.
var faultWork = workload{events: 8, clients: 3, pauseMs: 20, users: users}

// calmAnswers is how many answers of operations called after the last
// fault end a run; the service must give them within recoveryBound.
const (
	calmAnswers   = 400
	recoveryBound = 30 * time.Second
)

// faults is how many times each mode breaks something in one run.
var faults = harness.Size(3, 30)

// system is the service under test as a load balancer sees it: the
// instances it routes to, each request to one at random.
type system struct {
	mu        sync.Mutex
	instances []string
	procs     map[string]*servicetest.Service // the built binaries, by URL
}

func (s *system) pick() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.instances[rand.IntN(len(s.instances))]
}

// route sets the instances requests go to from now on.
func (s *system) route(f func([]string) []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.instances = f(s.instances)
}

// fault is one way for the system to fail: brk breaks it, mend mends it.
// held is a fault that holds changes back rather than cutting them: once
// mended, a frozen Redis makes those it received meanwhile.
type fault struct {
	brk, mend func()
	held      bool
}

// window is one fault as the test saw it: begun before brk, mended from
// mending (before mend) on, and over at end (mend returned).
type window struct{ start, mending, end time.Time }

// binaries starts two instances of the built service bin on Redis at addr
// with the rules of the history, and returns them with a func that starts
// one more.
func binaries(t *testing.T, bin, addr string) (*system, func() string) {
	env := []string{
		"RESERVATION_REDIS_ADDRS=" + addr,
		"RESERVATION_REDIS_TIMEOUT=" + faultStoreTimeout.String(),
		"RESERVATION_HOLD_TTL=" + policy.TTL.String(),
		"RESERVATION_HOLD_MAX_SEATS=" + strconv.Itoa(policy.MaxSeats),
		"RESERVATION_HOLD_MAX_LIFETIME=" + policy.MaxLifetime.String(),
	}
	sys := &system{procs: map[string]*servicetest.Service{}}
	start := func() string {
		s := servicetest.Start(t, bin, env...)
		sys.mu.Lock()
		defer sys.mu.Unlock()
		sys.procs[s.URL()] = s
		return s.URL()
	}
	sys.instances = []string{start(), start()}
	return sys, start
}

// kill kills the binary at base with SIGKILL and waits until it is dead.
func (s *system) kill(t *testing.T, base string) {
	s.mu.Lock()
	p := s.procs[base]
	s.mu.Unlock()
	p.Signal(syscall.SIGKILL)
	p.Wait(t)
}

// TestFaults records histories through the built service while each fault
// strikes again and again, and checks them: every answer given across
// the faults fits one order, and what was confirmed is there at the end.
func TestFaults(t *testing.T) {
	t.Parallel()
	bin := servicetest.Build(t)
	modes := []struct {
		name  string
		start func(t *testing.T) (*system, string, fault)
	}{
		// AOF with appendfsync always, as docs/deployment.md asks: a
		// change is on disk before it is answered.
		{"redis killed and restarted", func(t *testing.T) (*system, string, fault) {
			srv := redistest.StartServer(t, redistest.AOF("always"))
			sys, _ := binaries(t, bin, srv.Addr())
			return sys, srv.Addr(), fault{brk: srv.Kill, mend: func() { srv.Restart(t) }}
		}},
		{"redis frozen and thawed", func(t *testing.T) (*system, string, fault) {
			srv := redistest.StartServer(t)
			sys, _ := binaries(t, bin, srv.Addr())
			return sys, srv.Addr(), fault{brk: srv.Freeze, mend: srv.Thaw, held: true}
		}},
		// The killed instance's requests in flight are cut; it is taken
		// out of the routing once dead, and a new one replaces it.
		{"an instance killed", func(t *testing.T) (*system, string, fault) {
			srv := redistest.StartServer(t)
			sys, start := binaries(t, bin, srv.Addr())
			return sys, srv.Addr(), fault{
				brk: func() {
					victim := sys.pick()
					sys.kill(t, victim)
					sys.route(func(bases []string) []string {
						return slices.DeleteFunc(bases, func(b string) bool { return b == victim })
					})
				},
				mend: func() {
					base := start()
					sys.route(func(bases []string) []string { return append(bases, base) })
				},
			}
		}},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			sys, addr, f := m.start(t)
			c := harness.NewClient(t)
			events, ops := recordFaults(t, c, sys, f, faultWork, faults)
			if t.Failed() {
				return
			}
			check(t, ops)
			checkFinal(t, c, sys.pick(), events, ops, redistest.Client(t, addr))
		})
	}
}

// recordFaults creates w's events and has w's clients race for their seats
// through sys while f strikes n times, and returns the events and the
// history, ready for the check (see settle). It logs the figures of the
// run.
func recordFaults(t *testing.T, c *harness.Client, sys *system, f fault, w workload, n int) ([]harness.Event, []porcupine.Operation) {
	events := make([]harness.Event, w.events)
	for i := range events {
		events[i] = c.CreateEventRows(t, sys.pick(), rules.TotalSeats, rules.SeatsPerRow)
	}
	rec := &recorder{faulty: true}
	began := time.Now()
	var stop atomic.Bool
	var wg sync.WaitGroup
	for i, e := range events {
		for j := range w.clients {
			wg.Go(func() {
				b := buyer{id: i*w.clients + j, event: e.ID, users: w.users, last: map[string][]int{}}
				for !stop.Load() && !t.Failed() {
					time.Sleep(time.Duration(rand.IntN(w.pauseMs+1)) * time.Millisecond)
					b.next(t, rec, c, sys.pick())
				}
			})
		}
	}
	var windows []window
	for range n {
		time.Sleep(calm) // the race goes on meanwhile
		var win window
		win.start = time.Now()
		f.brk()
		time.Sleep(outage)
		win.mending = time.Now()
		f.mend()
		win.end = time.Now()
		windows = append(windows, win)
	}
	// Then on until the service has answered again for a while, so that
	// the history shows what the faults left.
	last := windows[len(windows)-1].end
	for deadline := time.Now().Add(recoveryBound); rec.answeredSince(last) < calmAnswers && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	ops := rec.ops
	unknown, after := 0, rec.answeredSince(last)
	for _, op := range ops {
		if op.Output.(seatmodel.Output).Unknown {
			unknown++
		}
	}
	t.Logf("%d operations in %v by %d clients on %d events, through %d faults: %d changes of unknown outcome, %d reads without an answer left out; %d answered after the last fault",
		len(ops), time.Since(began).Round(time.Millisecond), w.events*w.clients, w.events, n, unknown, rec.unknowns-unknown, after)
	t.Logf("answers: %s", tally(ops))
	if unknown == 0 {
		t.Error("no change of unknown outcome: the faults did not strike while changes were in flight")
	}
	if after < calmAnswers {
		t.Errorf("%d answers after the last fault within %v: the service did not recover", after, recoveryBound)
	}
	settle(ops, windows, f.held)
	return events, ops
}

// answeredSince counts the operations called after since that have an
// answer.
func (rec *recorder) answeredSince(since time.Time) int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	n := 0
	for _, op := range rec.ops {
		if !op.Output.(seatmodel.Output).Unknown && op.Call > since.UnixNano() {
			n++
		}
	}
	return n
}

// settle readies a history with changes of unknown outcome for the check:
// each stays pending until the last moment its change may be made, and is
// tried at the moments that tell. A change that a fault cuts (a Redis or an
// instance killed) is made before its answer or never; one that a fault
// holds back (a frozen Redis) may be made when the fault ends, which is
// one more moment to try. Either may be made a little after its answer,
// settleSlack, if the instance gave up on a Redis that was only slow.
// AddMoments then adds the moments that later answers pin down.
func settle(ops []porcupine.Operation, windows []window, held bool) {
	for i, op := range ops {
		if !op.Output.(seatmodel.Output).Unknown {
			continue
		}
		in := op.Input.(seatmodel.Input)
		until := time.Unix(0, op.Return)
		for _, w := range windows {
			if held && op.Call < w.end.UnixNano() && op.Return > w.start.UnixNano() {
				until = later(until, w.end)
				in.Moments = append(in.Moments, w.mending.UnixMilli())
			}
		}
		until = until.Add(settleSlack)
		in.UntilMs = until.UnixMilli()
		ops[i].Input, ops[i].Return = in, until.UnixNano()
	}
	rules.AddMoments(ops)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// TestFaultsCatchBugs runs histories under faults against in-process
// instances over stores with a fault-time bug, and wants the check to
// find each: the built binary has none to plant.
func TestFaultsCatchBugs(t *testing.T) {
	t.Parallel()
	t.Run("a best available hold sent again after a timeout", func(t *testing.T) {
		t.Parallel()
		srv := redistest.StartServer(t)
		sys := &system{}
		for range 2 {
			store := harness.RedisStore(t, redisstore.Config{Addrs: []string{srv.Addr()}, Timeout: faultStoreTimeout})
			sys.instances = append(sys.instances, harness.Serve(t, policy, resend{store}))
		}
		_, ops := recordFaults(t, harness.NewClient(t), sys, fault{brk: srv.Freeze, mend: srv.Thaw, held: true}, faultWork, faults)
		began := time.Now()
		result := porcupine.CheckOperationsTimeout(rules.Model(), ops, checkTimeout)
		t.Logf("porcupine: %s after %v", result, time.Since(began).Round(time.Millisecond))
		if result != porcupine.Illegal {
			t.Errorf("history of %d operations is %s, want %s", len(ops), result, porcupine.Illegal)
		}
	})
}

// resend sends a best available hold that got no answer in time again,
// until one comes: the first may have been made all the same (a frozen
// Redis runs it once thawed), and then the buyer holds the seats of both.
// (With an Idempotency-Key the second gets the first's answer: no bug.)
type resend struct{ application.Store }

func (s resend) HoldBest(ctx context.Context, e domain.EventID, b domain.BestAvailable, user domain.UserID, p domain.HoldPolicy, idem application.Idem) ([]domain.Seat, error) {
	for {
		seats, err := s.Store.HoldBest(ctx, e, b, user, p, idem)
		if !errors.Is(err, application.ErrUnavailable) || ctx.Err() != nil {
			return seats, err
		}
	}
}
