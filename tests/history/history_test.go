// Package history checks, with porcupine, that the service is linearizable
// under heavy concurrency: hundreds of clients race for the seats of small
// events through real HTTP, seat by seat as in the original API and cart by
// cart (several seats at once, the best available ones, releases, retries
// with an Idempotency-Key), while holds expire and carts reach their
// lifetime cap; every answer they get must fit one order of the
// operations, on the in-memory store (one instance: its state is per
// process) and on Redis and Redis Cluster (two instances sharing them).
package history

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
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

// The rules under test: short holds, so that they expire mid-run, a cap
// on a cart's lifetime short enough to be reached and its cool-down
// served mid-run, and a low limit, so that it is reached often. Each event
// has the fewest seats allowed, in rows of four (1-4, 5-8, 9-10), all of
// them raced for: best available looks at every seat, so the model covers
// every one.
var (
	policy = domain.HoldPolicy{TTL: 200 * time.Millisecond, MaxSeats: 3, MaxLifetime: 500 * time.Millisecond}
	rules  = seatmodel.Rules{
		TTLMs:         policy.TTL.Milliseconds(),
		MaxLifetimeMs: policy.MaxLifetime.Milliseconds(),
		MaxSeats:      policy.MaxSeats,
		// The service keeps an Idempotency-Key's answer for the cap.
		IdemTTLMs:   policy.MaxLifetime.Milliseconds(),
		TotalSeats:  domain.MinTotalSeats,
		SeatsPerRow: 4,
		Users:       users,
	}
)

// users of each event: ids that look like UUIDs, Redis keys, hash tags,
// patterns, and text that is not ASCII.
var users = []string{"3f2b9c1e-5d7a-4c1e-9a4b-2e8f6d0c7b11", "{x}*:ü", "rsv:{e}:user:1", "日本 🎫"}

// workload is the size of one run. Porcupine checks each event on its own;
// the cost of a check grows exponentially with the number of operations in
// flight at once on the event, which is the number of its clients: ten
// keep a check to seconds, fifteen can take minutes. Clients pause up to
// pauseMs between requests, so that an event's history lasts long enough
// for carts to reach their cap and cool down.
type workload struct {
	events     int // raced for at once, each a partition of the history
	clients    int // goroutines per event
	opsPerEach int // operations per event
	pauseMs    int
	users      []string
}

var work = workload{
	events:     harness.Size(20, 60),
	clients:    10,
	opsPerEach: harness.Size(300, 2000),
	pauseMs:    20,
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
	t.Logf("answers: %s", tally(ops))
	check(t, ops)
	checkFinal(t, c, instances[0], events, ops, redis)
}

// record creates w's events and has w's clients race for their seats
// through the instances, each operation through an instance picked at
// random. It returns the events and the history.
func record(t *testing.T, c *harness.Client, instances []string, w workload) ([]harness.Event, []porcupine.Operation) {
	events := make([]harness.Event, w.events)
	for i := range events {
		events[i] = c.CreateEventRows(t, instances[0], rules.TotalSeats, rules.SeatsPerRow)
	}
	rec := &recorder{}
	began := time.Now()
	var wg sync.WaitGroup
	for i, e := range events {
		var budget atomic.Int64
		budget.Store(int64(w.opsPerEach))
		for j := range w.clients {
			wg.Go(func() {
				b := buyer{id: i*w.clients + j, event: e.ID, users: w.users, last: map[string][]int{}}
				for budget.Add(-1) >= 0 && !t.Failed() {
					time.Sleep(time.Duration(rand.IntN(w.pauseMs+1)) * time.Millisecond)
					b.next(t, rec, c, instances[rand.IntN(len(instances))])
				}
			})
		}
	}
	wg.Wait()
	t.Logf("%d operations in %v by %d clients on %d events", len(rec.ops), time.Since(began).Round(time.Millisecond), w.events*w.clients, w.events)
	return events, rec.ops
}

// request is an operation to send: the model's input, and for a cart
// change its body and Idempotency-Key.
type request struct {
	client int
	in     seatmodel.Input
	cart   harness.CartRequest
	key    string
}

// buyer is one client of an event. It remembers, by user, the seats of the
// user's last hold it was answered, so that its releases and reserves are
// mostly of seats the user holds; and its last request sent with an
// Idempotency-Key, to send it again.
type buyer struct {
	id    int
	event string
	users []string
	last  map[string][]int
	keys  int
	again *request // sent next, with the answer of its first time
	// unknowns counts the unknown outcomes in a row, under faults.
	unknowns int
}

// next sends one operation: mostly holds and reads, some refreshes and
// releases, few reserves (a reserved seat is out of the race for good).
func (b *buyer) next(t *testing.T, rec *recorder, c *harness.Client, base string) {
	if r := b.again; r != nil {
		b.again = nil
		b.send(t, rec, c, base, *r)
		return
	}
	user := b.users[rand.IntN(len(b.users))]
	r := request{client: b.id, in: seatmodel.Input{Event: b.event, User: user, Seat: 1 + rand.IntN(rules.TotalSeats)}}
	switch p := rand.IntN(100); {
	case p < 14:
		r.in.Kind = seatmodel.Hold
	case p < 20:
		r.in.Kind = seatmodel.Refresh
	case p < 21:
		r.in.Kind = seatmodel.Reserve
	case p < 31:
		r.in.Kind, r.in.User = seatmodel.Get, ""
	case p < 37:
		r.in.Kind, r.in.Seat, r.in.User = seatmodel.List, 0, ""
	case p < 43:
		r.in.Kind, r.in.Seat, r.in.User = seatmodel.Summary, 0, ""
	case p < 58:
		r.in.Kind, r.in.Seat, r.in.Seats = seatmodel.HoldSeats, 0, randomSeats()
	case p < 70:
		r.in.Kind, r.in.Seat = seatmodel.HoldBest, 0
		r.in.Best = seatmodel.Best{Count: 1 + rand.IntN(rules.MaxSeats), Adjacent: rand.IntN(2) == 0}
	case p < 83:
		r.in.Kind, r.in.Seat = seatmodel.Release, 0
		switch rand.IntN(3) {
		case 0: // all of the user's holds
		case 1:
			r.in.Seats = randomSeats()
		default:
			r.in.Seats = b.held(user)
		}
	case p < 86:
		r.in.Kind, r.in.Seat, r.in.Seats = seatmodel.ReserveSeats, 0, b.held(user)
	default:
		r.in.Kind, r.in.Seat = seatmodel.RefreshCart, 0
	}
	if _, ok := cartOps[r.in.Kind]; ok {
		r.cart = harness.CartRequest{UUID: user}
		for _, n := range r.in.Seats {
			r.cart.IDs = append(r.cart.IDs, seatID(b.event, n))
		}
		if r.in.Kind == seatmodel.HoldBest {
			r.cart.BestAvailable = &harness.BestAvailable{Count: r.in.Best.Count, Adjacent: r.in.Best.Adjacent}
		}
		if rand.IntN(4) == 0 {
			b.keys++
			r.key = fmt.Sprintf("client %d request %d", b.id, b.keys)
		}
	}
	out, call, took, ok := b.send(t, rec, c, base, r)
	if !ok {
		return
	}
	if (r.in.Kind == seatmodel.HoldSeats || r.in.Kind == seatmodel.HoldBest) && out.Code == "" {
		b.last[user] = nil
		for _, s := range out.Seats {
			b.last[user] = append(b.last[user], s.Number)
		}
	}
	// Sent again at once, while the store surely keeps the answer: the
	// model takes an answer like the first for the kept one.
	if r.key != "" && rand.IntN(2) == 0 && took < policy.MaxLifetime/4 {
		r.in.Replay, r.in.FirstCallMs = &out, call
		b.again = &r
	}
}

// send sends r as rec.do does, and backs off after an unknown outcome.
func (b *buyer) send(t *testing.T, rec *recorder, c *harness.Client, base string, r request) (seatmodel.Output, int64, time.Duration, bool) {
	out, call, took, ok := rec.do(t, c, base, r)
	switch {
	case ok:
		b.unknowns = 0
	case rec.faulty:
		b.unknowns++
		time.Sleep(backoff(b.unknowns))
	}
	return out, call, took, ok
}

// held returns the seats of user's last hold, if any, else a random few.
func (b *buyer) held(user string) []int {
	if seats := b.last[user]; len(seats) > 0 {
		if rand.IntN(4) == 0 {
			// With a seat more, which the user may not hold.
			if n := 1 + rand.IntN(rules.TotalSeats); len(seats) < rules.MaxSeats && !slices.Contains(seats, n) {
				return append(slices.Clone(seats), n)
			}
		}
		return slices.Clone(seats)
	}
	return randomSeats()
}

// randomSeats returns 1 to MaxSeats distinct seats, lower numbers more
// likely, as best available picks them.
func randomSeats() []int {
	var seats []int
	for want := 1 + rand.IntN(rules.MaxSeats); len(seats) < want; {
		if n := 1 + min(rand.IntN(rules.TotalSeats), rand.IntN(rules.TotalSeats)); !slices.Contains(seats, n) {
			seats = append(seats, n)
		}
	}
	return seats
}

// recorder sends operations and keeps each with its answer and the times
// it was sent and answered.
type recorder struct {
	mu  sync.Mutex
	ops []porcupine.Operation
	// faulty, under faults, takes a 503 or no answer for an unknown
	// outcome (see seatmodel.Output) rather than a failure; unknowns
	// counts them, reads among them too.
	faulty   bool
	unknowns int
}

// reads are the operations that change nothing: without an answer, they
// tell nothing, and are left out of the history.
var reads = map[seatmodel.Kind]bool{seatmodel.Get: true, seatmodel.List: true, seatmodel.Summary: true}

// backoff is how long a client waits after the n-th unknown outcome in a
// row, twice as long after each up to a second: each leaves the check a
// choice (made or not, and when), and the choices multiply.
func backoff(n int) time.Duration {
	return min(time.Duration(100+rand.IntN(51))*time.Millisecond<<min(n-1, 4), time.Second)
}

var changePaths = map[seatmodel.Kind]string{
	seatmodel.Hold: harness.HoldPath, seatmodel.Refresh: harness.RefreshPath, seatmodel.Reserve: harness.ReservePath,
}

var cartOps = map[seatmodel.Kind]string{
	seatmodel.HoldSeats: harness.CartHold, seatmodel.HoldBest: harness.CartHold, seatmodel.Release: harness.CartRelease,
	seatmodel.ReserveSeats: harness.CartReserve, seatmodel.RefreshCart: harness.CartRefresh,
}

// do sends r through the instance at base and records it with its answer.
// It returns the answer, the Unix ms at which it was sent and how long it
// took, and whether it was recorded.
func (rec *recorder) do(t *testing.T, c *harness.Client, base string, r request) (seatmodel.Output, int64, time.Duration, bool) {
	ctx := context.Background()
	in, event := r.in, r.in.Event
	seat := seatID(event, in.Seat)
	call := time.Now()
	var a harness.Answer
	switch in.Kind {
	case seatmodel.Get:
		a = c.Seat(ctx, base, seat)
	case seatmodel.List:
		a = c.List(ctx, base, event)
	case seatmodel.Summary:
		a = c.Summary(ctx, base, event)
	case seatmodel.Hold, seatmodel.Refresh, seatmodel.Reserve:
		a = c.Change(ctx, base, changePaths[in.Kind], seat, in.User)
	default:
		a = c.Cart(ctx, base, event, cartOps[in.Kind], r.cart, r.key)
	}
	ret := time.Now()
	in.CallMs, in.ReturnMs = call.UnixMilli(), ret.UnixMilli()
	if rec.faulty && (a.Err != nil || a.Status == http.StatusServiceUnavailable) {
		rec.mu.Lock()
		rec.unknowns++
		if !reads[in.Kind] {
			rec.ops = append(rec.ops, porcupine.Operation{
				ClientId: r.client, Input: in, Output: seatmodel.Output{Unknown: true}, Call: call.UnixNano(), Return: ret.UnixNano(),
			})
		}
		rec.mu.Unlock()
		return seatmodel.Output{}, 0, 0, false
	}
	out, err := output(in, a)
	if err != nil {
		// Every request here is valid and the store is up: anything but
		// an answer of the contract is a failure, not an unknown outcome.
		// (The model judges the rest.)
		t.Errorf("%s %v by %q through %s: %v", in.Kind, r.cart, in.User, base, err)
		return out, 0, 0, false
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.ops = append(rec.ops, porcupine.Operation{
		ClientId: r.client, Input: in, Output: out, Call: call.UnixNano(), Return: ret.UnixNano(),
	})
	return out, in.CallMs, ret.Sub(call), true
}

// statuses are the HTTP statuses of the refusals: HOLD_LIFETIME_REACHED
// is 429 for a hold (a cool-down, with Retry-After), 409 for a refresh.
var statuses = map[string]int{
	seatmodel.CodeSeatHeld: http.StatusConflict, seatmodel.CodeSeatReserved: http.StatusConflict,
	seatmodel.CodeHoldLimit: http.StatusTooManyRequests, seatmodel.CodeNotEnoughSeats: http.StatusConflict,
	seatmodel.CodeNotHolder: http.StatusForbidden, seatmodel.CodeNotOnHold: http.StatusConflict,
	seatmodel.CodeNoLiveHold: http.StatusForbidden,
}

// output reads an answer to in as the model's output, and checks what the
// model does not see: statuses, ids and the shape of seats.
func output(in seatmodel.Input, a harness.Answer) (seatmodel.Output, error) {
	event := in.Event
	switch {
	case a.Err != nil:
		return seatmodel.Output{}, a.Err
	case a.Status >= http.StatusInternalServerError:
		return seatmodel.Output{}, fmt.Errorf("server error %v", a)
	case !a.OK():
		out := seatmodel.Output{Code: a.Code} // the model judges the code
		for _, id := range a.Named {
			n, ok := seatNumber(id, event)
			if !ok {
				return out, fmt.Errorf("%v names seat %q", a, id)
			}
			out.Seats = append(out.Seats, seatmodel.SeatOut{Number: n})
		}
		want, known := statuses[a.Code]
		if a.Code == seatmodel.CodeHoldLifetime {
			want, known = http.StatusConflict, true
			if in.Kind == seatmodel.Hold || in.Kind == seatmodel.HoldSeats || in.Kind == seatmodel.HoldBest {
				want = http.StatusTooManyRequests
				if s, err := strconv.Atoi(a.RetryAfter); err != nil || s < 1 || time.Duration(s-1)*time.Second >= policy.TTL {
					return out, fmt.Errorf("%v with Retry-After %q, want the seconds left of a TTL, rounded up", a, a.RetryAfter)
				}
			}
		}
		if known && a.Status != want {
			return out, fmt.Errorf("%v, want status %d", a, want)
		}
		return out, nil
	}
	switch in.Kind {
	case seatmodel.List:
		var free uint64
		for _, s := range a.Seats {
			n, ok := seatNumber(s.ID, event)
			if !ok || s.EventID != event || s.Status != "Available" || s.UUID != "" || s.HoldExpiresAt != nil {
				return seatmodel.Output{}, fmt.Errorf("listed %+v", s)
			}
			free |= 1 << (n - 1)
		}
		if a.Event.ID != event || a.Event.TotalSeats != rules.TotalSeats || a.Event.SeatsPerRow != rules.SeatsPerRow {
			return seatmodel.Output{}, fmt.Errorf("listed the seats of %+v", a.Event)
		}
		return seatmodel.Output{Free: free}, nil
	case seatmodel.Summary:
		s := a.Summary
		return seatmodel.Output{Counts: seatmodel.Counts{Total: s.Total, Available: s.Available, OnHold: s.OnHold, Reserved: s.Reserved}}, nil
	case seatmodel.Hold, seatmodel.Refresh, seatmodel.Reserve, seatmodel.Get:
		o, err := seatOutput(a.Seat, event)
		if err == nil && o.Number != in.Seat {
			err = fmt.Errorf("answered seat %s", a.Seat.ID)
		}
		return seatmodel.Output{Seats: []seatmodel.SeatOut{o}}, err
	}
	out := seatmodel.Output{Seats: []seatmodel.SeatOut{}}
	for _, s := range a.Seats {
		o, err := seatOutput(s, event)
		if err != nil {
			return out, err
		}
		out.Seats = append(out.Seats, o)
	}
	return out, nil
}

// seatOutput reads a seat of event in an answer.
func seatOutput(s harness.Seat, event string) (seatmodel.SeatOut, error) {
	n, ok := seatNumber(s.ID, event)
	status, known := seatmodel.ParseStatus(s.Status)
	switch {
	case !ok || !known || s.EventID != event:
		return seatmodel.SeatOut{}, fmt.Errorf("seat %+v", s)
	case (status == seatmodel.OnHold) != (s.HoldExpiresAt != nil):
		return seatmodel.SeatOut{}, fmt.Errorf("seat %+v: an expiry exactly when on hold", s)
	case (status == seatmodel.Available) != (s.UUID == ""):
		return seatmodel.SeatOut{}, fmt.Errorf("seat %+v: a UUID exactly when not available", s)
	}
	o := seatmodel.SeatOut{Number: n, Status: status, Holder: s.UUID}
	if s.HoldExpiresAt != nil {
		o.ExpiresMs = s.HoldExpiresAt.UnixMilli()
	}
	return o, nil
}

func seatID(event string, n int) string { return event + "." + strconv.Itoa(n) }

func seatNumber(id, event string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimPrefix(id, event+"."))
	return n, err == nil && strings.HasPrefix(id, event+".") && n >= 1 && n <= rules.TotalSeats
}

// tally counts the answers by operation and code, and the holds the cap
// cut short.
func tally(ops []porcupine.Operation) string {
	count := map[string]int{}
	for _, op := range ops {
		in, out := op.Input.(seatmodel.Input), op.Output.(seatmodel.Output)
		k := in.Kind.String()
		if in.Replay != nil {
			k += " again"
		}
		if out.Unknown {
			k += " unknown"
		} else {
			k += " " + strings.ToLower(cmp.Or(out.Code, "ok"))
		}
		count[k]++
		if in.Kind != seatmodel.Get && in.Replay == nil && slices.ContainsFunc(out.Seats, func(s seatmodel.SeatOut) bool {
			return s.Status == seatmodel.OnHold && s.ExpiresMs < in.CallMs+rules.TTLMs
		}) {
			count["expiries cut short by the cap"]++
		}
	}
	keys := make([]string, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %d; ", k, count[k])
	}
	return b.String()
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
	explain(t, model, ops, info)
	path := filepath.Join(t.ArtifactDir(), "history.html")
	if err := porcupine.VisualizePath(model, info, path); err != nil {
		t.Errorf("visualize: %v", err)
	}
	t.Fatalf("history of %d operations is %s; visualization in %s (kept with go test -artifacts)", len(ops), result, path)
}

// explain logs, for each event whose history has no order, where the
// longest order found got stuck: the state it reached, its last
// operations, and the operations that could come next, none of which the
// model accepts.
func explain(t *testing.T, model porcupine.Model, ops []porcupine.Operation, info porcupine.LinearizationInfo) {
	t.Helper()
	type id struct {
		client    int
		call, ret int64
	}
	idOf := func(op porcupine.Operation) id { return id{op.ClientId, op.Call, op.Return} }
	for p, part := range model.Partition(ops) {
		var longest []porcupine.Operation
		for _, lin := range info.PartialLinearizationsOperations()[p] {
			if len(lin) > len(longest) {
				longest = lin
			}
		}
		if len(longest) == len(part) {
			continue
		}
		state, done := model.Init(), map[id]bool{}
		for _, op := range longest {
			_, state = model.Step(state, op.Input, op.Output)
			done[idOf(op)] = true
		}
		var next []porcupine.Operation
		firstReturn := int64(math.MaxInt64)
		for _, op := range part {
			if !done[idOf(op)] {
				next = append(next, op)
				firstReturn = min(firstReturn, op.Return)
			}
		}
		var b strings.Builder
		fmt.Fprintf(&b, "event %s: %d of %d operations in order, then none of the next fits the state %s\n",
			part[0].Input.(seatmodel.Input).Event, len(longest), len(part), model.DescribeState(state))
		for _, op := range longest[max(0, len(longest)-6):] {
			fmt.Fprintf(&b, "    done: %s\n", model.DescribeOperation(op.Input, op.Output))
		}
		for _, op := range next {
			if op.Call <= firstReturn {
				fmt.Fprintf(&b, "    next: %s\n", model.DescribeOperation(op.Input, op.Output))
			}
		}
		t.Log(b.String())
	}
}

// checkFinal checks what the race left: each seat that a user was told is
// reserved is reserved by that user, no seat was confirmed to two users,
// and the summary counts the reservations. In Redis, the keys must hold
// together (see harness.EventState.Check).
func checkFinal(t *testing.T, c *harness.Client, base string, events []harness.Event, ops []porcupine.Operation, redis rueidis.Client) {
	t.Helper()
	confirmed := map[string]string{} // seat -> user told it is reserved
	maybe := map[string][]string{}   // seat -> users whose reserve of it has an unknown outcome
	for _, op := range ops {
		in, out := op.Input.(seatmodel.Input), op.Output.(seatmodel.Output)
		if (in.Kind != seatmodel.Reserve && in.Kind != seatmodel.ReserveSeats) || out.Code != "" {
			continue
		}
		if out.Unknown {
			for _, n := range append([]int{in.Seat}, in.Seats...) {
				maybe[seatID(in.Event, n)] = append(maybe[seatID(in.Event, n)], in.User)
			}
			continue
		}
		for _, s := range out.Seats {
			seat := seatID(in.Event, s.Number)
			if prev, ok := confirmed[seat]; ok && prev != in.User {
				t.Errorf("seat %s confirmed to %q and to %q", seat, prev, in.User)
			}
			confirmed[seat] = in.User
		}
	}
	ctx := context.Background()
	for _, e := range events {
		reserved := 0
		for n := 1; n <= rules.TotalSeats; n++ {
			id := seatID(e.ID, n)
			a := answered(func() harness.Answer { return c.Seat(ctx, base, id) })
			user, ok := confirmed[id]
			switch {
			case !a.OK():
				t.Errorf("get %s: %v", id, a)
			case ok && (a.Seat.Status != "Reserved" || a.Seat.UUID != user):
				t.Errorf("seat %s was confirmed to %q, and is now %+v", id, user, a.Seat)
			case !ok && a.Seat.Status == "Reserved" && !slices.Contains(maybe[id], a.Seat.UUID):
				t.Errorf("seat %s is reserved by %q, who was never told", id, a.Seat.UUID)
			}
			if a.Seat.Status == "Reserved" {
				reserved++
			}
		}
		if a := answered(func() harness.Answer { return c.Summary(ctx, base, e.ID) }); !a.OK() || a.Summary.Total != rules.TotalSeats || a.Summary.Reserved != reserved ||
			a.Summary.Available+a.Summary.OnHold+a.Summary.Reserved != a.Summary.Total {
			t.Errorf("summary of %s: %v %+v, want %d reserved of %d", e.ID, a, a.Summary, reserved, rules.TotalSeats)
		}
		if redis != nil {
			if err := harness.ReadEvent(t, redis, e.ID).Check(policy.MaxSeats); err != nil {
				t.Errorf("event %s in Redis: %v", e.ID, err)
			}
		}
	}
	t.Logf("%d of the %d seats were reserved", len(confirmed), len(events)*rules.TotalSeats)
}

// answered reads until it gets an answer, for at most recoveryBound: just
// after a fault a store may refuse for a moment more (the nodes of a Redis
// Cluster that has just failed over may still disagree), and a 503 or no
// answer says nothing of the state. Only under faults does a read get
// none: the race of TestLinearizable fails on any.
func answered(read func() harness.Answer) harness.Answer {
	a := read()
	for deadline := time.Now().Add(recoveryBound); (a.Err != nil || a.Status == http.StatusServiceUnavailable) && time.Now().Before(deadline); a = read() {
		time.Sleep(10 * time.Millisecond)
	}
	return a
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
		// One user, so that nothing but the limit stops a fourth hold.
		{"a user may hold one seat over the limit", overLimit{memoryStore()}, users[:1]},
		{"a hold of a held seat answers 200", lyingHold{memoryStore()}, users},
		{"a refused cart hold holds the seats it could", partialHold{memoryStore()}, users},
		{"holds outlive the cap, and no cool-down follows", noCap{memoryStore()}, users},
		{"an Idempotency-Key is ignored", noIdem{memoryStore()}, users},
		{"best available side by side takes seats apart", notAdjacent{memoryStore()}, users},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Long enough for carts to reach their cap.
			small := workload{events: 4, clients: work.clients, opsPerEach: 500, pauseMs: work.pauseMs, users: tt.users}
			instances := []string{harness.Serve(t, policy, tt.store)}
			_, ops := record(t, harness.NewClient(t), instances, small)
			if result := porcupine.CheckOperationsTimeout(rules.Model(), ops, checkTimeout); result != porcupine.Illegal {
				t.Errorf("history of %d operations is %s, want %s", len(ops), result, porcupine.Illegal)
			}
		})
	}
}

type overLimit struct{ application.Store }

func (s overLimit) Hold(ctx context.Context, e domain.EventID, ids []domain.SeatID, user domain.UserID, p domain.HoldPolicy, idem application.Idem) ([]domain.Seat, error) {
	p.MaxSeats++
	return s.Store.Hold(ctx, e, ids, user, p, idem)
}

func (s overLimit) HoldBest(ctx context.Context, e domain.EventID, b domain.BestAvailable, user domain.UserID, p domain.HoldPolicy, idem application.Idem) ([]domain.Seat, error) {
	p.MaxSeats++
	return s.Store.HoldBest(ctx, e, b, user, p, idem)
}

type lyingHold struct{ application.Store }

func (s lyingHold) Hold(ctx context.Context, e domain.EventID, ids []domain.SeatID, user domain.UserID, p domain.HoldPolicy, idem application.Idem) ([]domain.Seat, error) {
	seats, err := s.Store.Hold(ctx, e, ids, user, p, idem)
	if errors.Is(err, domain.ErrSeatHeld) {
		exp := time.Now().Truncate(time.Millisecond).Add(p.TTL)
		seats = make([]domain.Seat, len(ids))
		for i, id := range ids {
			seats[i] = domain.Seat{ID: id, Status: domain.OnHold, Holder: user, HoldExpiresAt: exp}
		}
		return seats, nil
	}
	return seats, err
}

// partialHold, refused a cart hold because of some seats, holds the others
// and answers the refusal.
type partialHold struct{ application.Store }

func (s partialHold) Hold(ctx context.Context, e domain.EventID, ids []domain.SeatID, user domain.UserID, p domain.HoldPolicy, idem application.Idem) ([]domain.Seat, error) {
	seats, err := s.Store.Hold(ctx, e, ids, user, p, idem)
	if se := (*domain.SeatsError)(nil); errors.As(err, &se) && len(se.Seats) < len(ids) {
		rest := slices.DeleteFunc(slices.Clone(ids), func(id domain.SeatID) bool { return slices.Contains(se.Seats, id) })
		_, _ = s.Store.Hold(ctx, e, rest, user, p, application.Idem{})
	}
	return seats, err
}

// noCap holds and refreshes as if there were no cap on a cart's lifetime.
type noCap struct{ application.Store }

func (s noCap) Hold(ctx context.Context, e domain.EventID, ids []domain.SeatID, user domain.UserID, p domain.HoldPolicy, idem application.Idem) ([]domain.Seat, error) {
	p.MaxLifetime = 0
	return s.Store.Hold(ctx, e, ids, user, p, idem)
}

func (s noCap) HoldBest(ctx context.Context, e domain.EventID, b domain.BestAvailable, user domain.UserID, p domain.HoldPolicy, idem application.Idem) ([]domain.Seat, error) {
	p.MaxLifetime = 0
	return s.Store.HoldBest(ctx, e, b, user, p, idem)
}

func (s noCap) Refresh(ctx context.Context, e domain.EventID, ids []domain.SeatID, user domain.UserID, p domain.HoldPolicy, idem application.Idem) ([]domain.Seat, error) {
	p.MaxLifetime = 0
	return s.Store.Refresh(ctx, e, ids, user, p, idem)
}

// notAdjacent picks seats apart when no row has enough side by side, even
// when they were asked for side by side.
type notAdjacent struct{ application.Store }

func (s notAdjacent) HoldBest(ctx context.Context, e domain.EventID, b domain.BestAvailable, user domain.UserID, p domain.HoldPolicy, idem application.Idem) ([]domain.Seat, error) {
	b.Adjacent = false
	return s.Store.HoldBest(ctx, e, b, user, p, idem)
}

// noIdem makes every change anew, whatever its Idempotency-Key.
type noIdem struct{ application.Store }

func (s noIdem) Hold(ctx context.Context, e domain.EventID, ids []domain.SeatID, user domain.UserID, p domain.HoldPolicy, _ application.Idem) ([]domain.Seat, error) {
	return s.Store.Hold(ctx, e, ids, user, p, application.Idem{})
}

func (s noIdem) HoldBest(ctx context.Context, e domain.EventID, b domain.BestAvailable, user domain.UserID, p domain.HoldPolicy, _ application.Idem) ([]domain.Seat, error) {
	return s.Store.HoldBest(ctx, e, b, user, p, application.Idem{})
}

func (s noIdem) Refresh(ctx context.Context, e domain.EventID, ids []domain.SeatID, user domain.UserID, p domain.HoldPolicy, _ application.Idem) ([]domain.Seat, error) {
	return s.Store.Refresh(ctx, e, ids, user, p, application.Idem{})
}

func (s noIdem) Reserve(ctx context.Context, e domain.EventID, ids []domain.SeatID, user domain.UserID, _ application.Idem) ([]domain.Seat, error) {
	return s.Store.Reserve(ctx, e, ids, user, application.Idem{})
}

func (s noIdem) Release(ctx context.Context, e domain.EventID, ids []domain.SeatID, user domain.UserID, _ application.Idem) ([]domain.Seat, error) {
	return s.Store.Release(ctx, e, ids, user, application.Idem{})
}
