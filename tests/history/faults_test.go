package history

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
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
// Redis is killed and restarted, frozen and thawed, a Redis Cluster master
// is killed and a replica takes over, or an instance is killed. A change
// answered 503 or not at all has an unknown outcome
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
// mended, a frozen Redis makes those it received meanwhile. see, if set,
// is given the race's events and recorder before the race starts, for a
// fault that aims at an event's master or records operations of its own.
type fault struct {
	brk, mend func()
	held      bool
	see       func(events []harness.Event, rec *recorder)
}

// window is one fault as the test saw it: begun before brk, mended from
// mending (before mend) on, and over at end (mend returned).
type window struct{ start, mending, end time.Time }

// binaries starts two instances of the built service bin on Redis at addrs
// (comma-separated, as RESERVATION_REDIS_ADDRS takes them) with the rules
// of the history and the settings of more (which win over these), and
// returns them with a func that starts one more.
func binaries(t *testing.T, bin, addrs string, more ...string) (*system, func() string) {
	env := append([]string{
		"RESERVATION_REDIS_ADDRS=" + addrs,
		"RESERVATION_REDIS_TIMEOUT=" + faultStoreTimeout.String(),
		"RESERVATION_HOLD_TTL=" + policy.TTL.String(),
		"RESERVATION_HOLD_MAX_SEATS=" + strconv.Itoa(policy.MaxSeats),
		"RESERVATION_HOLD_MAX_LIFETIME=" + policy.MaxLifetime.String(),
	}, more...) // os/exec keeps the last value of a variable set twice
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
	// Each mode starts the system, and says where its Redis is once the
	// faults are over (a cluster's killed nodes are no seeds).
	modes := []struct {
		name  string
		start func(t *testing.T) (sys *system, redis func() []string, f fault)
	}{
		// AOF with appendfsync always, as docs/deployment.md asks: a
		// change is on disk before it is answered.
		{"redis killed and restarted", func(t *testing.T) (*system, func() []string, fault) {
			srv := redistest.StartServer(t, redistest.AOF("always"))
			sys, _ := binaries(t, bin, srv.Addr())
			return sys, stays(srv.Addr()), fault{brk: srv.Kill, mend: func() { srv.Restart(t) }}
		}},
		{"redis frozen and thawed", func(t *testing.T) (*system, func() []string, fault) {
			srv := redistest.StartServer(t)
			sys, _ := binaries(t, bin, srv.Addr())
			return sys, stays(srv.Addr()), fault{brk: srv.Freeze, mend: srv.Thaw, held: true}
		}},
		// The killed instance's requests in flight are cut; it is taken
		// out of the routing once dead, and a new one replaces it.
		{"an instance killed", func(t *testing.T) (*system, func() []string, fault) {
			srv := redistest.StartServer(t)
			sys, start := binaries(t, bin, srv.Addr())
			return sys, stays(srv.Addr()), fault{
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
		// Two replicas per master, and reservations confirmed once both
		// have them, as the cluster overlay deploys it. Each fault
		// kills the master of another event: a replica takes over, in
		// about 2.5 s, for part of which the whole cluster refuses
		// commands (a slot has no master). Then a new node joins the
		// promoted master as a replica, as an operator replaces the dead
		// one, so that reservations of those slots are confirmed again
		// (until then they are 503: an unknown outcome).
		{"a cluster master killed and a replica promoted", func(t *testing.T) (*system, func() []string, fault) {
			cluster := redistest.ClusterWithReplicas(t, 2)
			sys, _ := binaries(t, bin, strings.Join(cluster.Addrs(), ","), "RESERVATION_REDIS_REPLICA_ACKS=2")
			var events []harness.Event
			var key string
			struck := 0
			return sys, cluster.LiveAddrs, fault{
				see: func(race []harness.Event, _ *recorder) { events = race },
				brk: func() {
					key = "{" + events[struck%len(events)].ID + "}"
					struck++
					cluster.KillMaster(t, key)
				},
				mend: func() { cluster.AddReplica(t, key) },
			}
		}},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			sys, redis, f := m.start(t)
			c := harness.NewClient(t)
			events, ops := recordFaults(t, c, sys, f, faultWork, faults)
			if t.Failed() {
				return
			}
			check(t, ops)
			checkFinal(t, c, sys.pick(), events, ops, redistest.Client(t, redis()...))
		})
	}
}

// stays is where a Redis that keeps its address is.
func stays(addr string) func() []string { return func() []string { return []string{addr} } }

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
	if f.see != nil {
		f.see(events, rec)
	}
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
	var mends []time.Duration
	for _, w := range windows {
		mends = append(mends, w.end.Sub(w.mending).Round(time.Millisecond))
	}
	t.Logf("faults mended in %v", mends)
	if unknown == 0 {
		t.Error("no change of unknown outcome: the faults did not strike while changes were in flight")
	}
	if after < calmAnswers {
		t.Errorf("%d answers after the last fault within %v: the service did not recover", after, recoveryBound)
	}
	settle(ops, windows, f.held)
	most, all := 0, 0
	for _, op := range ops {
		if op.Output.(seatmodel.Output).Unknown {
			n := len(op.Input.(seatmodel.Input).Moments)
			most, all = max(most, n), all+n
		}
	}
	t.Logf("changes of unknown outcome tried at %d moments past their call, at most %d for one", all, most)
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
// holds back (a frozen Redis) may be made while the store catches up, from
// the thaw until it answers again, a span of moments to try. Either may
// be made a little after its answer, settleSlack, if the instance gave up
// on a Redis that was only slow. AddMoments then adds the moments that
// later answers pin down.
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
				in.Spans = append(in.Spans, seatmodel.Span{FromMs: w.mending.UnixMilli(), ToMs: w.end.UnixMilli()})
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

// TestFaultsCatchBugs runs histories under faults with a fault-time bug
// planted, and wants the check to find each: in a store, wrapped under
// in-process instances (the built binary has none to plant), or in a
// setting of the built binary, whose control, the same run with the
// setting right, must pass.
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
		wantIllegal(t, ops)
	})
	// The planted bug is a setting: the built binary with
	// RESERVATION_REDIS_REPLICA_ACKS=0 confirms a reservation before any
	// replica has it. Its control, the same with REPLICA_ACKS=1, must
	// pass.
	bin := servicetest.Build(t)
	t.Run("a reservation confirmed before its replica wait", func(t *testing.T) {
		t.Parallel()
		cutOffFailover(t, bin, 0)
	})
	t.Run("the same with the replica wait: a 503, and the history passes", func(t *testing.T) {
		t.Parallel()
		cutOffFailover(t, bin, 1)
	})
}

// wantIllegal checks that no order of ops fits the model.
func wantIllegal(t *testing.T, ops []porcupine.Operation) {
	t.Helper()
	began := time.Now()
	result := porcupine.CheckOperationsTimeout(rules.Model(), ops, checkTimeout)
	t.Logf("porcupine: %s after %v", result, time.Since(began).Round(time.Millisecond))
	if result != porcupine.Illegal {
		t.Errorf("history of %d operations is %s, want %s", len(ops), result, porcupine.Illegal)
	}
}

// cutOffFailover records a history through two instances of the built
// service bin that wait for acks replicas before they confirm a
// reservation, on a Redis Cluster of one replica per master, across one
// fault: a buyer reserves a seat of a planted event, the replica of the
// event's master is cut off, the buyer holds and reserves another seat,
// the master is killed, and the replica, thawed, takes over without that
// reservation; then the buyer reads the seat. With acks 0 the reserve was
// answered 200, and the check must find the seat confirmed reserved, then
// available; with acks 1 it was answered 503, and the history, in which
// it was never made, must pass.
//
// Only the planted buyer touches the planted event, and the race's events
// are on the other masters: a reservation answered 503 was made all the
// same on the master, so a buyer who saw the seat reserved before the
// failover took it back would leave a history that no order explains,
// whatever acks is. The replica wait keeps a lost reservation from being
// confirmed, not from being seen.
func cutOffFailover(t *testing.T, bin string, acks int) {
	cluster := redistest.ClusterWithReplicas(t, 1)
	// The deadline of TestLinearizable: nothing here makes Redis slow (a
	// dead master refuses at once), and a 503 of a busy machine would
	// leave the planted reserve unknown.
	sys, _ := binaries(t, bin, strings.Join(cluster.Addrs(), ","),
		"RESERVATION_REDIS_TIMEOUT="+storeTimeout.String(), "RESERVATION_REDIS_REPLICA_ACKS="+strconv.Itoa(acks))
	c := harness.NewClient(t)
	// Two events leave at least one master to the planted event.
	w := faultWork
	w.events = 2
	var (
		rec           *recorder
		planted       harness.Event
		key           string
		reserve, read seatmodel.Output
	)
	// do sends the planted buyer's kind of operation on a seat, and
	// returns its answer, Unknown if it had none.
	do := func(kind seatmodel.Kind, seat int) seatmodel.Output {
		r := request{client: w.events * w.clients, in: seatmodel.Input{Event: planted.ID, Kind: kind, Seat: seat, User: users[0]}}
		if kind == seatmodel.Get {
			r.in.User = ""
		}
		out, _, _, ok := rec.do(t, c, sys.pick(), r)
		out.Unknown = !ok
		return out
	}
	// holdReserve holds a seat, then reserves it, and returns the
	// reserve's answer; false if the hold failed.
	holdReserve := func(seat int) (seatmodel.Output, bool) {
		if out := do(seatmodel.Hold, seat); out.Unknown || out.Code != "" {
			t.Errorf("hold of planted seat %d: %+v", seat, out)
			return out, false
		}
		return do(seatmodel.Reserve, seat), true
	}
	f := fault{
		see: func(race []harness.Event, r *recorder) {
			rec = r
			taken := map[string]bool{}
			for _, e := range race {
				taken[cluster.MasterOf(t, "{"+e.ID+"}")] = true
			}
			// Each lands on a free master with a chance of a third or more.
			for range 100 {
				planted = c.CreateEventRows(t, sys.pick(), rules.TotalSeats, rules.SeatsPerRow)
				if key = "{" + planted.ID + "}"; !taken[cluster.MasterOf(t, key)] {
					return
				}
			}
			t.Fatal("100 events created, none on a master without the race's events")
		},
		brk: func() {
			// First a reservation that the replica gets, which the
			// failover must keep. It also gives the master the reserve
			// script: without it, the reserve after the cut would try the
			// script's hash, wait out the replica wait all the same, and
			// only then run the script, after the hold expired.
			if out, ok := holdReserve(2); !ok || out.Unknown || out.Code != "" {
				t.Errorf("reserve of planted seat 2, the replica there: %+v", out)
				return
			}
			thaw := cluster.CutOffReplicas(t, key)
			var ok bool
			if reserve, ok = holdReserve(1); !ok {
				return
			}
			cluster.KillMaster(t, key, thaw)
		},
		// Read until answered: the instances find the promoted replica
		// within a second or so, and a read without an answer is left out
		// of the history.
		mend: func() {
			for deadline := time.Now().Add(recoveryBound); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if read = do(seatmodel.Get, 1); !read.Unknown {
					return
				}
			}
			t.Errorf("no answer to a get of the planted seat within %v of the failover", recoveryBound)
		},
	}
	events, ops := recordFaults(t, c, sys, f, w, 1)
	if t.Failed() {
		return
	}
	switch {
	case acks == 0 && (reserve.Unknown || reserve.Code != ""):
		t.Fatalf("reserve of planted seat 1, its master's replica cut off: %+v, want a 200 (no replica wait)", reserve)
	case acks > 0 && !reserve.Unknown:
		t.Fatalf("reserve of planted seat 1, its master's replica cut off: %+v, want a 503 (no replica has it)", reserve)
	}
	if read.Code != "" || len(read.Seats) != 1 || read.Seats[0].Status == seatmodel.Reserved {
		t.Fatalf("planted seat 1 after the failover: %+v, want it not reserved: the replica had the reservation", read)
	}
	if acks == 0 {
		wantIllegal(t, ops)
		return
	}
	check(t, ops)
	checkFinal(t, c, sys.pick(), append(events, planted), ops, redistest.Client(t, cluster.LiveAddrs()...))
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
