// Package history checks, with porcupine, that the service is linearizable
// under heavy concurrency: hundreds of clients race for a few seats of each
// event through real HTTP, holds expire while they do, and every answer they
// get must fit one order of the operations, on the in-memory store (one
// instance: its state is per process) and on Redis and Redis Cluster (two
// instances sharing them).
package history

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/redis/rueidis"

	"github.com/seatres/reservation/adapters/memstore"
	"github.com/seatres/reservation/adapters/redisstore"
	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
	"github.com/seatres/reservation/tests/internal/harness"
	"github.com/seatres/reservation/tests/internal/seatmodel"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// The rules under test: short holds, so that they expire mid-run, and a
// low limit, so that it is reached often. Each event has the fewest seats
// allowed, of which a few are raced for; the others must stay available.
var (
	policy = domain.HoldPolicy{TTL: 200 * time.Millisecond, MaxSeats: 2}
	rules  = seatmodel.Rules{TTLMs: policy.TTL.Milliseconds(), MaxSeats: policy.MaxSeats, TotalSeats: domain.MinTotalSeats, Hot: 4}
)

// users of each event: ids that look like UUIDs, Redis keys, hash tags,
// patterns, and text that is not ASCII.
var users = []string{"3f2b9c1e-5d7a-4c1e-9a4b-2e8f6d0c7b11", "{x}*:ü", "rsv:{e}:user:1", "日本 🎫"}

// workload is the size of one run. Porcupine checks each event on its own;
// the cost of a check grows exponentially with the number of operations in
// flight at once on the event, which is the number of its clients: ten
// keep a check to seconds, fifteen can take minutes.
type workload struct {
	events     int // raced for at once, each a partition of the history
	clients    int // goroutines per event
	opsPerEach int // operations per event
	users      []string
}

var work = workload{
	events:     harness.Size(20, 60),
	clients:    10,
	opsPerEach: harness.Size(300, 2000),
	users:      users,
}

func TestLinearizable(t *testing.T) {
	t.Parallel()
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		run(t, []string{harness.Serve(t, policy, memoryStore())}, nil)
	})
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		addr := redistest.Standalone(t)
		run(t, twoInstances(t, addr), redistest.Client(t, addr))
	})
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		addrs := redistest.Cluster(t)
		run(t, twoInstances(t, addrs...), redistest.Client(t, addrs...))
	})
}

// memoryStore is the in-memory store on a clock of whole milliseconds, as
// Redis's scripts read it and as the model reads answers: on the process's
// own clock a hold would outlive its millisecond of expiry by a fraction.
func memoryStore() *memstore.Store {
	return memstore.New(func() time.Time { return time.Now().Truncate(time.Millisecond) })
}

// storeTimeout is the deadline of the instances' Redis calls: far above
// their latency, so that a machine busy with other tests does not turn a
// call into a 503, whose outcome the history could not know.
const storeTimeout = 5 * time.Second

// twoInstances starts two service instances, each with its own connections
// to Redis at addrs.
func twoInstances(t *testing.T, addrs ...string) []string {
	return []string{
		harness.Serve(t, policy, harness.RedisStore(t, redisstore.Config{Addrs: addrs, Timeout: storeTimeout})),
		harness.Serve(t, policy, harness.RedisStore(t, redisstore.Config{Addrs: addrs, Timeout: storeTimeout})),
	}
}

// run drives the workload through the instances, checks the history, then
// checks the final state through the API and, when redis is not nil, in
// Redis itself.
func run(t *testing.T, instances []string, redis rueidis.Client) {
	c := harness.NewClient(t)
	events, ops := record(t, c, instances, work)
	if t.Failed() {
		return
	}
	check(t, ops)
	checkFinal(t, c, instances[0], events, ops, redis)
}

// record creates w's events and has w's clients race for their seats
// through the instances, each operation through an instance picked at
// random. It returns the events and the history.
func record(t *testing.T, c *harness.Client, instances []string, w workload) ([]harness.Event, []porcupine.Operation) {
	events := make([]harness.Event, w.events)
	for i := range events {
		events[i] = c.CreateEvent(t, instances[0], rules.TotalSeats)
	}
	rec := &recorder{}
	began := time.Now()
	var wg sync.WaitGroup
	for i, e := range events {
		var budget atomic.Int64
		budget.Store(int64(w.opsPerEach))
		for j := range w.clients {
			wg.Go(func() {
				for budget.Add(-1) >= 0 && !t.Failed() {
					rec.do(t, c, instances[rand.IntN(len(instances))], e.ID, randomOp(w.users), i*w.clients+j)
				}
			})
		}
	}
	wg.Wait()
	t.Logf("%d operations in %v by %d clients on %d events", len(rec.ops), time.Since(began).Round(time.Millisecond), w.events*w.clients, w.events)
	return events, rec.ops
}

// randomOp picks an operation: mostly holds and reads, some refreshes, few
// reserves (a reserved seat is out of the race for good).
func randomOp(users []string) seatmodel.Input {
	in := seatmodel.Input{Seat: 1 + rand.IntN(rules.Hot), User: users[rand.IntN(len(users))]}
	switch p := rand.IntN(100); {
	case p < 40:
		in.Kind = seatmodel.Hold
	case p < 55:
		in.Kind = seatmodel.Refresh
	case p < 60:
		in.Kind = seatmodel.Reserve
	case p < 85:
		in.Kind, in.User = seatmodel.Get, ""
	default:
		in.Kind, in.Seat, in.User = seatmodel.List, 0, ""
	}
	return in
}

// recorder sends operations and keeps each with its answer and the times
// it was sent and answered.
type recorder struct {
	mu  sync.Mutex
	ops []porcupine.Operation
}

var changePaths = map[seatmodel.Kind]string{
	seatmodel.Hold: harness.HoldPath, seatmodel.Refresh: harness.RefreshPath, seatmodel.Reserve: harness.ReservePath,
}

func (rec *recorder) do(t *testing.T, c *harness.Client, base, event string, in seatmodel.Input, client int) {
	ctx := context.Background()
	in.Event = event
	seat := event + "." + strconv.Itoa(in.Seat)
	call := time.Now()
	var a harness.Answer
	switch in.Kind {
	case seatmodel.Get:
		a = c.Seat(ctx, base, seat)
	case seatmodel.List:
		a = c.List(ctx, base, event)
	default:
		a = c.Change(ctx, base, changePaths[in.Kind], seat, in.User)
	}
	ret := time.Now()
	out, err := output(a, event, seat)
	if err != nil {
		// Every request here is valid and the store is up: anything but
		// an answer of the contract is a failure, not an unknown outcome.
		t.Errorf("%s %s by %q: %v", in.Kind, seat, in.User, err)
		return
	}
	in.CallMs, in.ReturnMs = call.UnixMilli(), ret.UnixMilli()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.ops = append(rec.ops, porcupine.Operation{
		ClientId: client, Input: in, Output: out, Call: call.UnixNano(), Return: ret.UnixNano(),
	})
}

// output reads an answer about seat of event as the model's output.
func output(a harness.Answer, event, seat string) (seatmodel.Output, error) {
	switch {
	case a.Err != nil:
		return seatmodel.Output{}, a.Err
	case a.Status >= http.StatusInternalServerError:
		return seatmodel.Output{}, fmt.Errorf("server error %v", a)
	case !a.OK():
		return seatmodel.Output{Code: a.Code}, nil // the model judges the code
	}
	if a.Seats != nil || a.Event.ID != "" {
		var free uint64
		for _, s := range a.Seats {
			n, ok := seatNumber(s.ID, event)
			if !ok || s.Status != "Available" || s.UUID != "" {
				return seatmodel.Output{}, fmt.Errorf("listed %+v", s)
			}
			free |= 1 << (n - 1)
		}
		return seatmodel.Output{Free: free}, nil
	}
	status, ok := seatmodel.ParseStatus(a.Seat.Status)
	if !ok || a.Seat.ID != seat || a.Seat.EventID != event {
		return seatmodel.Output{}, fmt.Errorf("seat %+v", a.Seat)
	}
	out := seatmodel.Output{Status: status, Holder: a.Seat.UUID}
	if (status == seatmodel.OnHold) != (a.Seat.HoldExpiresAt != nil) {
		return seatmodel.Output{}, fmt.Errorf("seat %+v: an expiry exactly when on hold", a.Seat)
	}
	if a.Seat.HoldExpiresAt != nil {
		out.ExpiresMs = a.Seat.HoldExpiresAt.UnixMilli()
	}
	return out, nil
}

func seatNumber(id, event string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimPrefix(id, event+"."))
	return n, err == nil && strings.HasPrefix(id, event+".") && n >= 1 && n <= 64
}

// checkTimeout bounds the search for an order; a history it cannot settle
// in time fails the test too.
const checkTimeout = 3 * time.Minute

// check searches for an order of the operations that the model accepts,
// and leaves a visualization of the history when there is none.
func check(t *testing.T, ops []porcupine.Operation) {
	t.Helper()
	model := rules.Model()
	began := time.Now()
	result, info := porcupine.CheckOperationsVerbose(model, ops, checkTimeout)
	t.Logf("porcupine: %s after %v", result, time.Since(began).Round(time.Millisecond))
	if result == porcupine.Ok {
		return
	}
	path := filepath.Join(t.ArtifactDir(), "history.html")
	if err := porcupine.VisualizePath(model, info, path); err != nil {
		t.Errorf("visualize: %v", err)
	}
	t.Fatalf("history of %d operations is %s; visualization in %s (kept with go test -artifacts)", len(ops), result, path)
}

// checkFinal checks what the race left: each seat that a user was told is
// reserved is reserved by that user, no seat was confirmed to two users, and
// the seats never raced for are untouched. In Redis, the keys must hold
// together (see harness.EventState.Check).
func checkFinal(t *testing.T, c *harness.Client, base string, events []harness.Event, ops []porcupine.Operation, redis rueidis.Client) {
	t.Helper()
	confirmed := map[string]string{} // seat -> user told it is reserved
	for _, op := range ops {
		in, out := op.Input.(seatmodel.Input), op.Output.(seatmodel.Output)
		if in.Kind != seatmodel.Reserve || out.Code != "" {
			continue
		}
		seat := in.Event + "." + strconv.Itoa(in.Seat)
		if prev, ok := confirmed[seat]; ok && prev != in.User {
			t.Errorf("seat %s confirmed to %q and to %q", seat, prev, in.User)
		}
		confirmed[seat] = in.User
	}
	for _, e := range events {
		for n := 1; n <= rules.TotalSeats; n++ {
			id := e.ID + "." + strconv.Itoa(n)
			a := c.Seat(context.Background(), base, id)
			user, ok := confirmed[id]
			switch {
			case !a.OK():
				t.Errorf("get %s: %v", id, a)
			case ok && (a.Seat.Status != "Reserved" || a.Seat.UUID != user):
				t.Errorf("seat %s was confirmed to %q, and is now %+v", id, user, a.Seat)
			case !ok && a.Seat.Status == "Reserved":
				t.Errorf("seat %s is reserved by %q, who was never told", id, a.Seat.UUID)
			case n > rules.Hot && a.Seat != (harness.Seat{ID: id, EventID: e.ID, Status: "Available"}):
				t.Errorf("seat %s, never raced for, is %+v", id, a.Seat)
			}
		}
		if redis != nil {
			if err := harness.ReadEvent(t, redis, e.ID).Check(policy.MaxSeats); err != nil {
				t.Errorf("event %s in Redis: %v", e.ID, err)
			}
		}
	}
	t.Logf("%d of the %d seats raced for were reserved", len(confirmed), work.events*rules.Hot)
}

// TestCheckerCatchesBugs runs the workload against stores with a bug that
// breaks a guarantee, and wants the check to find each: a check that passes
// whatever the store does proves nothing.
func TestCheckerCatchesBugs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		store application.Store
		users []string
	}{
		// One user, so that nothing but the limit stops a third hold.
		{"a user may hold one seat over the limit", overLimit{memoryStore()}, users[:1]},
		{"a hold of a held seat answers 200", lyingHold{memoryStore()}, users},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			small := workload{events: 4, clients: work.clients, opsPerEach: 300, users: tt.users}
			instances := []string{harness.Serve(t, policy, tt.store)}
			_, ops := record(t, harness.NewClient(t), instances, small)
			if result := porcupine.CheckOperationsTimeout(rules.Model(), ops, checkTimeout); result != porcupine.Illegal {
				t.Errorf("history of %d operations is %s, want %s", len(ops), result, porcupine.Illegal)
			}
		})
	}
}

type overLimit struct{ application.Store }

func (s overLimit) Hold(ctx context.Context, id domain.SeatID, user domain.UserID, p domain.HoldPolicy) (domain.Seat, error) {
	p.MaxSeats++
	return s.Store.Hold(ctx, id, user, p)
}

type lyingHold struct{ application.Store }

func (s lyingHold) Hold(ctx context.Context, id domain.SeatID, user domain.UserID, p domain.HoldPolicy) (domain.Seat, error) {
	seat, err := s.Store.Hold(ctx, id, user, p)
	if errors.Is(err, domain.ErrSeatHeld) {
		now := time.Now().Truncate(time.Millisecond)
		return domain.Seat{ID: id, Status: domain.OnHold, Holder: user, HoldExpiresAt: now.Add(p.TTL)}, nil
	}
	return seat, err
}
