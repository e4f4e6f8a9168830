package redisstore_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/rueidis"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/seatres/reservation/adapters/redisstore"
	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/application/storetest"
	"github.com/seatres/reservation/domain"
)

func TestMain(m *testing.M) { redistest.Main(m) }

var longHold = domain.HoldPolicy{TTL: time.Minute, MaxSeats: 6}

var (
	noIdem = application.Idem{}
	two    = domain.BestAvailable{Count: 2}
)

// idem is an idempotency key of its own for the request named what.
func idem(what string) application.Idem {
	return application.Idem{Key: uuid.NewString(), Fingerprint: what, TTL: time.Minute}
}

// ids are the ids of seats ns of e.
func ids(e domain.Event, ns ...int) []domain.SeatID {
	out := make([]domain.SeatID, len(ns))
	for i, n := range ns {
		out[i] = e.Seat(n)
	}
	return out
}

// newStore connects a store to addrs, closed when the test ends.
func newStore(t testing.TB, addrs ...string) *redisstore.Store {
	t.Helper()
	return newStoreWith(t, redisstore.Config{Addrs: addrs, Timeout: 5 * time.Second})
}

func newStoreWith(t testing.TB, cfg redisstore.Config) *redisstore.Store {
	t.Helper()
	s, err := redisstore.New(context.Background(), cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// eventOf returns a new event with a fresh id, not yet stored.
func eventOf(t testing.TB, seats int) domain.Event {
	t.Helper()
	e, err := domain.NewEvent(domain.EventID(uuid.NewString()), "Concert", seats, 0)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func newEvent(t testing.TB, s application.Store, seats int) domain.Event {
	t.Helper()
	e := eventOf(t, seats)
	if err := s.CreateEvent(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestContract(t *testing.T) {
	t.Parallel()
	t.Run("standalone", func(t *testing.T) {
		t.Parallel()
		addr := redistest.SharedStandalone(t)
		storetest.Run(t, func(t *testing.T) application.Store { return newStore(t, addr) })
	})
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		addrs := redistest.SharedCluster(t)
		storetest.Run(t, func(t *testing.T) application.Store { return newStore(t, addrs...) })
	})
}

func TestStreamRetention(t *testing.T) {
	t.Parallel()
	for name, addrs := range topologies(shared) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			addrs := addrs(t)
			storetest.RunTrim(t, func(t *testing.T, maxLen int) application.Store {
				return newStoreWith(t, redisstore.Config{Addrs: addrs, Timeout: 5 * time.Second, StreamMaxLen: maxLen})
			})
		})
	}
}

// topologies are the Redis set-ups of a test that runs on both, by name:
// the servers the tests share, or (fresh) servers of the test's own, for
// one that counts what Redis serves.
func topologies(fresh bool) map[string]func(testing.TB) []string {
	if fresh {
		return map[string]func(testing.TB) []string{
			"standalone": func(t testing.TB) []string { return []string{redistest.Standalone(t)} },
			"cluster":    redistest.Cluster,
		}
	}
	return map[string]func(testing.TB) []string{
		"standalone": func(t testing.TB) []string { return []string{redistest.SharedStandalone(t)} },
		"cluster":    redistest.SharedCluster,
	}
}

// The arguments of topologies.
const (
	shared = false
	fresh  = true
)

// hostileUsers are user ids a client may send that mean something to Redis:
// hash tags, glob patterns, separators. The domain refuses control
// characters, but the store must not rely on it.
var hostileUsers = []domain.UserID{"{x}", "}{", "*", "a:b", "user:x", "{}", "x\ny", "{e}:holds", "?*[ab]"}

// TestOneSlotPerEvent has the cluster say which slot each key of an event
// lives in, after holds by hostile users and a reservation under an
// idempotency key: a key elsewhere would make the scripts fail on Redis
// Cluster.
func TestOneSlotPerEvent(t *testing.T) {
	t.Parallel()
	addrs := redistest.SharedCluster(t)
	s, c := newStore(t, addrs...), redistest.Client(t, addrs...)
	ctx := context.Background()
	e := newEvent(t, s, 10)
	want := []string{"event", "seats", "exp", "holds", "expq", "res:0", "changes"}
	for i, u := range hostileUsers {
		if _, err := storetest.Hold(ctx, s, e.Seat(i+1), u, longHold); err != nil {
			t.Fatalf("Hold by %q: %v", u, err)
		}
	}
	key := idem("reserve")
	if _, err := s.Reserve(ctx, e.ID, ids(e, 1), hostileUsers[0], key); err != nil {
		t.Fatal(err)
	}
	want = append(want, "idem:"+key.Key, "idems")
	for i, kind := range want {
		want[i] = layoutKey(e.ID, kind)
	}
	keys := eventKeys(t, c, e.ID)
	slices.Sort(keys)
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Fatalf("event has keys %q, want %q", keys, want)
	}
	slot0 := slot(t, c, string(e.ID))
	for _, k := range keys {
		if got := slot(t, c, k); got != slot0 {
			t.Errorf("key %q is in slot %d, the event's slot is %d", k, got, slot0)
		}
	}
}

// eventKeys lists the keys of an event on every node of the cluster.
func eventKeys(t *testing.T, c rueidis.Client, id domain.EventID) []string {
	t.Helper()
	var keys []string
	for _, node := range c.Nodes() {
		ks, err := node.Do(context.Background(), node.B().Keys().Pattern("rsv:{"+string(id)+"}:*").Build()).AsStrSlice()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, ks...)
	}
	return keys
}

func slot(t *testing.T, c rueidis.Client, key string) int64 {
	t.Helper()
	n, err := c.Do(context.Background(), c.B().ClusterKeyslot().Key(key).Build()).AsInt64()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestHostileUsers checks that users whose ids look like keys, hash tags or
// patterns keep to their own holds and do not touch other events.
func TestHostileUsers(t *testing.T) {
	t.Parallel()
	s := newStore(t, redistest.SharedStandalone(t))
	ctx := context.Background()
	e, other := newEvent(t, s, 10), newEvent(t, s, 10)
	policy := domain.HoldPolicy{TTL: time.Minute, MaxSeats: 1}
	for i, u := range hostileUsers {
		seat, err := storetest.Hold(ctx, s, e.Seat(i+1), u, policy)
		if err != nil || seat.Holder != u || seat.Status != domain.OnHold {
			t.Fatalf("Hold by %q = %+v, %v", u, seat, err)
		}
		// Each hostile user counts only their own hold.
		if _, err := storetest.Hold(ctx, s, e.Seat(10), u, policy); !errors.Is(err, domain.ErrHoldLimit) {
			t.Fatalf("second Hold by %q: %v, want %v", u, err, domain.ErrHoldLimit)
		}
		if seat, err := s.Seat(ctx, e.Seat(i+1)); err != nil || seat.Holder != u {
			t.Fatalf("Seat held by %q = %+v, %v", u, seat, err)
		}
	}
	for i, u := range hostileUsers {
		seat, err := storetest.Reserve(ctx, s, e.Seat(i+1), u)
		if err != nil || seat.Holder != u || seat.Status != domain.Reserved {
			t.Fatalf("Reserve by %q = %+v, %v", u, seat, err)
		}
	}
	if _, free, _, err := s.AvailableSeats(ctx, other.ID); err != nil || len(free) != 10 {
		t.Fatalf("other event's seats = %v, %v; want all 10", free, err)
	}
}

// TestRedisDown stops Redis under a connected store: every call then fails
// with ErrUnavailable, which the HTTP layer answers with 503, at once: with
// the connection's error, not after retrying until the timeout.
func TestRedisDown(t *testing.T) {
	t.Parallel()
	addr := redistest.Standalone(t)
	s, c := newStoreWith(t, redisstore.Config{Addrs: []string{addr}, Timeout: time.Minute}), redistest.Client(t, addr)
	ctx := context.Background()
	e := newEvent(t, s, 10)
	// SHUTDOWN answers with a closed connection, not a reply.
	_ = c.Do(ctx, c.B().Shutdown().Nosave().Build()).Error()
	for name, err := range wantUnavailable(t, s, e) {
		if errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: %v; want the connection's error before the timeout", name, err)
		}
	}
}

// TestDeadConnections: Redis closes the store's connections while they are
// idle, as a restarted Redis or a proxy does. The store notices only when it
// next writes on one, and tries again on a fresh one: no call fails. Each
// test has Redis of its own, since it kills every other client.
func TestDeadConnections(t *testing.T) {
	t.Parallel()
	t.Run("standalone", func(t *testing.T) {
		t.Parallel()
		deadConnections(t, redistest.Standalone(t))
	})
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		deadConnections(t, redistest.Cluster(t)...)
	})
}

func deadConnections(t *testing.T, addrs ...string) {
	s, c := newStore(t, addrs...), redistest.Client(t, addrs...)
	ctx := context.Background()
	e := newEvent(t, s, 10)
	kill := func() {
		t.Helper()
		for addr, node := range c.Nodes() {
			if err := node.Do(ctx, node.B().ClientKill().TypeNormal().SkipmeYes().Build()).Error(); err != nil {
				t.Fatalf("kill the clients of %s: %v", addr, err)
			}
		}
	}
	for _, call := range []struct {
		name string
		do   func() error
	}{
		{"CreateEvent", func() error { return s.CreateEvent(ctx, eventOf(t, 10)) }},
		{"Hold", func() error { _, err := s.Hold(ctx, e.ID, ids(e, 1, 2), "alice", longHold, noIdem); return err }},
		// Without an idempotency key a best-available hold is not retried
		// (a second run would pick more seats); with one it is.
		{"HoldBest", func() error { _, err := s.HoldBest(ctx, e.ID, two, "alice", longHold, idem("best")); return err }},
		{"Refresh", func() error { _, err := s.Refresh(ctx, e.ID, nil, "alice", longHold, noIdem); return err }},
		{"Release", func() error { _, err := s.Release(ctx, e.ID, ids(e, 2), "alice", noIdem); return err }},
		{"Reserve", func() error { _, err := s.Reserve(ctx, e.ID, ids(e, 1), "alice", noIdem); return err }},
		{"Seat", func() error { _, err := s.Seat(ctx, e.Seat(1)); return err }},
		{"AvailableSeats", func() error { _, _, _, err := s.AvailableSeats(ctx, e.ID); return err }},
		{"Summary", func() error { _, err := s.Summary(ctx, e.ID); return err }},
		{"Event", func() error { _, err := s.Event(ctx, eventOf(t, 10).ID); return err }},
		{"Ping", func() error { return s.Ping(ctx) }},
	} {
		kill()
		if err := call.do(); err != nil && !errors.Is(err, domain.ErrEventNotFound) {
			t.Errorf("%s after Redis closed the connections: %v", call.name, err)
		}
	}
}

// wantUnavailable checks that every call of s fails as unavailable, and
// returns the errors by call.
func wantUnavailable(t *testing.T, s application.Store, e domain.Event) map[string]error {
	t.Helper()
	ctx := context.Background()
	id := e.Seat(1)
	_, _, _, listErr := s.AvailableSeats(ctx, e.ID)
	// An event the store has not seen: those it has are answered from
	// memory (TestEventCache).
	_, eventErr := s.Event(ctx, eventOf(t, 10).ID)
	_, seatErr := s.Seat(ctx, id)
	_, summaryErr := s.Summary(ctx, e.ID)
	_, holdErr := s.Hold(ctx, e.ID, []domain.SeatID{id}, "alice", longHold, noIdem)
	_, bestErr := s.HoldBest(ctx, e.ID, two, "alice", longHold, noIdem)
	_, refreshErr := s.Refresh(ctx, e.ID, nil, "alice", longHold, noIdem)
	_, reserveErr := s.Reserve(ctx, e.ID, []domain.SeatID{id}, "alice", noIdem)
	_, releaseErr := s.Release(ctx, e.ID, nil, "alice", noIdem)
	errs := map[string]error{
		"Ping": s.Ping(ctx), "CreateEvent": s.CreateEvent(ctx, e), "AvailableSeats": listErr, "Event": eventErr,
		"Summary": summaryErr, "Seat": seatErr, "Hold": holdErr, "HoldBest": bestErr, "Refresh": refreshErr,
		"Reserve": reserveErr, "Release": releaseErr,
	}
	for name, err := range errs {
		if !errors.Is(err, application.ErrUnavailable) {
			t.Errorf("%s: got %v, want an error wrapping %v", name, err, application.ErrUnavailable)
		}
	}
	return errs
}

func TestNewUnreachable(t *testing.T) {
	t.Parallel()
	addr := closedAddr(t)
	_, err := redisstore.New(context.Background(), redisstore.Config{Addrs: []string{addr}, Timeout: time.Second, DialTimeout: time.Second}, zap.NewNop())
	if !errors.Is(err, application.ErrUnavailable) || !strings.Contains(err.Error(), addr) {
		t.Fatalf("New on %s: %v; want an error naming the address and wrapping %v", addr, err, application.ErrUnavailable)
	}
}

// closedAddr returns an address where nothing listens: a port just freed by
// a listener is very likely closed.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestNewRejectsNoTimeout(t *testing.T) {
	t.Parallel()
	_, err := redisstore.New(context.Background(), redisstore.Config{Addrs: []string{"127.0.0.1:1"}}, zap.NewNop())
	if err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("New without timeout: %v", err)
	}
}

// TestMemoryPerSeat measures what an event costs Redis per seat: fresh, with
// every seat on hold and with every seat reserved, each by a different user.
// The record of changes is apart: its size is its retention's, not the
// event's (RESERVATION_STREAM_MAX_LEN records at most), and it is measured
// per seat changed, as the holds made at once share a record.
func TestMemoryPerSeat(t *testing.T) {
	t.Parallel()
	addr := redistest.SharedStandalone(t)
	s, c := newStore(t, addr), redistest.Client(t, addr)
	ctx := context.Background()
	e := newEvent(t, s, domain.MaxTotalSeats)
	wantBytesPerSeat(t, c, e, "fresh", 32)

	users := make([]domain.UserID, e.TotalSeats+1)
	for n := range users {
		users[n] = domain.UserID(uuid.NewString())
	}
	forEachSeat(t, e, func(n int) error {
		_, err := storetest.Hold(ctx, s, e.Seat(n), users[n], longHold)
		return err
	})
	t.Logf("all on hold: %.1f bytes per seat", bytesPerSeat(t, c, e))
	forEachSeat(t, e, func(n int) error {
		_, err := storetest.Reserve(ctx, s, e.Seat(n), users[n])
		return err
	})
	wantBytesPerSeat(t, c, e, "sold out", 100)
	changed := 0
	for after := (domain.Position{}); ; {
		records, err := s.Changes(ctx, e.ID, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(records) == 0 {
			break
		}
		for _, r := range records {
			changed += len(r.Seats)
		}
		after = records[len(records)-1].Position
	}
	if changed != 2*e.TotalSeats {
		t.Fatalf("the stream has %d seat changes, want one hold and one reserve a seat: %d", changed, 2*e.TotalSeats)
	}
	size, err := c.Do(ctx, c.B().MemoryUsage().Key(layoutKey(e.ID, "changes")).Samples(0).Build()).AsInt64()
	if err != nil {
		t.Fatal(err)
	}
	// A record of a 36-character UUID alone: its id, the operation, the
	// time, the user, the seat and its expiry, about 80 bytes as a stream
	// packs them; those made at once share the id, operation and time.
	if perSeat := float64(size) / float64(changed); perSeat >= 128 {
		t.Fatalf("the stream takes %.1f bytes a seat changed, want < 128", perSeat)
	} else {
		t.Logf("the stream: %.1f bytes a seat changed", perSeat)
	}
}

// forEachSeat calls f for every seat of e from a few goroutines, so that
// the client pipelines the calls.
func forEachSeat(t *testing.T, e domain.Event, f func(n int) error) {
	t.Helper()
	var g errgroup.Group
	g.SetLimit(16)
	for n := 1; n <= e.TotalSeats; n++ {
		g.Go(func() error { return f(n) })
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

func wantBytesPerSeat(t *testing.T, c rueidis.Client, e domain.Event, state string, limit float64) {
	t.Helper()
	got := bytesPerSeat(t, c, e)
	if got >= limit {
		t.Fatalf("%s: the event takes %.1f bytes per seat, want < %v", state, got, limit)
	}
	t.Logf("%s: %.1f bytes per seat", state, got)
}

func bytesPerSeat(t *testing.T, c rueidis.Client, e domain.Event) float64 {
	t.Helper()
	total := int64(0)
	for _, k := range eventKeys(t, c, e.ID) {
		if k == layoutKey(e.ID, "changes") {
			continue // measured per record
		}
		n, err := c.Do(context.Background(), c.B().MemoryUsage().Key(k).Samples(0).Build()).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	return float64(total) / float64(e.TotalSeats)
}

// TestPingWithADeadSeed: a seed address whose node is gone (a cluster
// node that died, and that rueidis keeps as a connection of its own) does
// not make a healthy store fail its ping, which /readyz and start-up use.
func TestPingWithADeadSeed(t *testing.T) {
	t.Parallel()
	s := newStore(t, append(redistest.SharedCluster(t), closedAddr(t))...)
	for range 50 {
		if err := s.Ping(context.Background()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	}
}

// layoutKey is the key of kind of event e, as docs/redis-layout.md names
// it.
func layoutKey(e domain.EventID, kind string) string { return "rsv:{" + string(e) + "}:" + kind }
